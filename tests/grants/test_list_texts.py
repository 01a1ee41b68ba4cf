"""A page of applications names each status and each missing item in the reader's language, as the application
read alone does: the labels are translated once per request and language (grants.checklist.request_texts) and
the page loads only the columns of the call and the organisation that the checklist reads."""

from __future__ import annotations

from flask_babel import force_locale

from fund.db import db
from grants.checklist import missing
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
    for language, missing_text in (("en", "Missing: Project title."), ("fr", "À compléter : Titre du projet.")):
        api = api_as("fund_manager", language=language)
        page = api.get("/api/v1/applications?per_page=50")
        assert page.status_code == 200, page.json
        items = {item["id"]: item for item in page.json["items"]}
        assert set(ids) <= set(items)
        for application_id in ids:
            alone = api.get(f"/api/v1/applications/{application_id}")
            assert alone.status_code == 200
            assert items[application_id] == alone.json
        assert items[ids[0]]["complete"] is True and items[ids[0]]["missing"] == []
        assert missing_text in items[ids[1]]["missing"]
        labels = {item["status_label"] for item in items.values()}
        assert labels == {"Draft" if language == "en" else "Brouillon"}
