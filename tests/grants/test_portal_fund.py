"""The fund's pages: calls created in the manager's time zone and opened, the public list, returning an
application with a message that the organisation then sees on its dashboard."""

from __future__ import annotations

import datetime as dt
import html

from sqlalchemy import select

from fund.db import db
from fund.models import User
from grants import operations
from grants.models import Call
from tests.grants import factories as f


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True)).replace("\u202f", " ").replace("\xa0", " ")


def test_a_manager_creates_a_call_in_their_time_zone_and_opens_it(app, make_user, login_as):
    manager = make_user("fund_manager")
    with app.app_context():
        db.session.get(User, manager.id).timezone = "America/New_York"
        db.session.commit()
    client = login_as(manager)
    year = dt.date.today().year + 1
    form = {
        "title_en": "Emergency assistance", "title_fr": "Assistance d'urgence", "window": "emergency",
        "description_en": "For shelters.", "description_fr": "Pour les foyers.",
        "opens_at": f"{year - 1}-01-01T09:00", "closes_at": f"{year}-03-31T17:00",
        "envelope": "300,000.00", "min_grant": "10000", "max_grant": "30000", "max_duration_months": "9",
        "eligible_countries": ["SN", "CI"], "priority_forms": ["forced_labour"],
        "required_documents": ["psea_policy"],
        "criterion-0-name_en": "Relevance", "criterion-0-name_fr": "Pertinence", "criterion-0-weight": "70",
        "criterion-1-name_en": "Capacity", "criterion-1-name_fr": "Capacités", "criterion-1-weight": "20",
    }
    bad = client.submit("/grants/manage/calls/new", form)
    assert bad.status_code == 422
    assert "The weights of the assessment criteria must add up to 100." in text(bad)
    assert 'value="Capacités"' in text(bad)  # what was typed is kept
    resp = client.submit("/grants/manage/calls/new", {**form, "criterion-1-weight": "30"})
    assert resp.status_code in (302, 303), text(resp)[:3000]
    with app.app_context():
        call = db.session.execute(select(Call)).scalar_one()
        assert call.status == "draft"
        assert call.closes_at == dt.datetime(year, 3, 31, 21, 0, tzinfo=dt.UTC)  # 17:00 in New York (EDT)
        assert str(call.envelope) == "300000.00" and [c.weight for c in call.criteria] == [70, 30]
        call_id = call.id
    assert app.test_client().get(f"/grants/calls/{call_id}").status_code == 404  # a draft is not public
    page = text(client.get(f"/grants/calls/{call_id}"))
    assert "5:00 PM" in page and "5:00:00" not in page  # shown back in the manager's time zone, to the minute
    resp = client.submit(f"/grants/manage/calls/{call_id}/open", {}, page=f"/grants/calls/{call_id}")
    assert resp.status_code in (302, 303)
    public = app.test_client()
    listing = text(public.get("/grants/calls"))
    assert "Emergency assistance" in listing
    public.submit("/language", {"lang": "fr", "next": "/"}, page="/")
    listing = text(public.get("/grants/calls"))
    assert "Assistance d'urgence" in listing and "Appels à propositions" in listing
    detail = text(public.get(f"/grants/calls/{call_id}"))
    assert "Pertinence" in detail and "Sénégal" in detail and "Travail forcé" in detail
    assert client.get(f"/grants/manage/calls/{call_id}/edit").status_code in (302, 303)  # no longer a draft


def test_a_returned_application_shows_as_a_request_on_the_dashboard(app, make_user, login_as):
    applicant = make_user("applicant")
    with app.test_request_context():
        application = f.make_application(applicant)
        operations.submit_application(application, f.user(applicant))
        db.session.commit()
        app_id = application.id
    manager = login_as("fund_manager")
    listing = text(manager.get("/grants/applications?status=submitted"))
    assert "Safe return for survivors of forced labour" in listing
    overview = f"/grants/applications/{app_id}"
    empty = manager.submit(f"{overview}/return", {"message": ""}, page=overview)
    assert empty.status_code == 422
    resp = manager.submit(f"{overview}/return", {"message": "Add the partner agreement, please."}, page=overview)
    assert resp.status_code in (302, 303)
    client = login_as(applicant)
    home = text(client.get("/grants/portal"))
    assert "Requests from the fund" in home and "Add the partner agreement, please." in home
    assert "Returned for revision" in home
    page = text(client.get(overview))
    assert "Add the partner agreement, please." in page and "Submit the application" in page
    resp = client.submit(f"{overview}/submit", {}, page=overview)
    assert resp.status_code in (302, 303)
    assert "Add the partner agreement, please." not in text(client.get("/grants/portal"))  # answered


def test_a_late_submission_through_the_portal_says_so(app, make_user, login_as):
    applicant = make_user("applicant")
    with app.test_request_context():
        application = f.make_application(applicant)
        application.call.closes_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        db.session.commit()
        app_id = application.id
    client = login_as(applicant)
    resp = client.submit(f"/grants/applications/{app_id}/submit", {}, page=f"/grants/applications/{app_id}")
    assert resp.status_code == 422
    assert "applications can no longer be submitted" in text(resp)
    with app.app_context():
        from grants.models import Application

        assert db.session.get(Application, app_id).status == "draft"
