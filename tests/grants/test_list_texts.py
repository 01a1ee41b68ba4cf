"""A page of applications names each status in the reader's language, as the application read alone does (the
labels are translated once per request and language, grants.checklist.request_texts); its items are the
application's summary, the same as the fields of the application read alone, whose checklist names each missing
item in the reader's language."""

from __future__ import annotations

from flask_babel import force_locale

from fund.db import db
from grants.checklist import missing
from grants.schemas import ApplicationOut, ApplicationSummaryOut
from tests.grants import factories as f


def test_the_checklist_follows_the_language_within_one_request(app, make_user):
    user = make_user("applicant")
    with app.test_request_context():
        application = f.make_application(user, complete=False)
        english = missing(application)
        with force_locale("fr"):
            french = missing(application)
        again = missing(application)
        db.session.rollback()
    assert "Missing: Project title." in english and "Missing: Project title." in again
    assert "À compléter : Titre du projet." in french
    assert english == again and french != english


def _applications(app, make_user) -> list[int]:
    """Two applications to one call by different organisations: one complete, one with nothing filled in."""
    first, second = make_user("applicant"), make_user("applicant")
    with app.test_request_context():
        call = f.make_call()
        complete = f.make_application(first, call)
        incomplete = f.make_application(second, call, complete=False)
        db.session.commit()
        ids = [complete.id, incomplete.id]
        db.session.remove()
    return ids


def test_a_page_of_applications_shows_each_as_it_is_read_alone(app, make_user, api_as):
    ids = _applications(app, make_user)
    summary_fields, detail_fields = set(ApplicationSummaryOut().fields), set(ApplicationOut().fields)
    for language, missing_text in (("en", "Missing: Project title."), ("fr", "À compléter : Titre du projet.")):
        api = api_as("fund_manager", language=language)
        page = api.get("/api/v1/applications?per_page=50")
        assert page.status_code == 200, page.json
        items = {item["id"]: item for item in page.json["items"]}
        assert set(ids) <= set(items)
        for application_id in ids:
            alone = api.get(f"/api/v1/applications/{application_id}")
            assert alone.status_code == 200
            assert set(items[application_id]) == summary_fields < set(alone.json) == detail_fields
            assert items[application_id] == {k: v for k, v in alone.json.items() if k in summary_fields}
        complete, incomplete = (api.get(f"/api/v1/applications/{i}").json for i in ids)
        assert complete["complete"] is True and complete["missing"] == []
        assert missing_text in incomplete["missing"]
        labels = {item["status_label"] for item in items.values()}
        assert labels == {"Draft" if language == "en" else "Brouillon"}


def test_an_applicant_s_list_names_the_plain_status_and_the_fund_s_the_workflow_state(app, make_user, api_as):
    from grants import operations

    applicant = make_user("applicant")
    with app.test_request_context():
        application = f.make_application(applicant)
        operations.submit_application(application, db.session.get(type(applicant), applicant.id))
        db.session.commit()
        application_id = application.id
    for reader, status in ((api_as(applicant), "received"), (api_as("fund_manager"), "submitted")):
        [item] = [i for i in reader.get("/api/v1/applications").json["items"] if i["id"] == application_id]
        alone = reader.get(f"/api/v1/applications/{application_id}").json
        assert item["status"] == alone["status"] == status
        assert item["status_label"] == alone["status_label"]
