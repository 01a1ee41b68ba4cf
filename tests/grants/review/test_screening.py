"""Eligibility screening: seven items, each pass, fail or needs information with a note; suggestions from the
organisation's profile pre-fill the form but the fund manager decides; the outcome moves the application
(eligible, ineligible with a message to the organisation, returned for information)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from fund.audit import AuditEvent
from fund.db import db, utcnow
from fund.mail import OutboxMessage
from grants.models import Application
from grants.review.models import Screening
from grants.review.screening import facts
from tests.grants.review import factories as rf

ITEMS = rf.ALL_PASS


def test_suggestions_come_from_the_profile(app, within):
    young = utcnow().date() - dt.timedelta(days=200)

    def check():
        good = rf.submitted()
        s = facts(good).suggestions
        assert {code: v.result for code, v in s.items()} == {
            "registered_nonprofit": "pass", "applies_directly": None, "own_bank_account": "pass",
            "safeguarding_policy": "pass", "direct_assistance": "pass", "not_sanctioned": "needs_info",
            "budget_within_limits": "pass"}
        assert "No sanctions list has been imported" in s["not_sanctioned"].note
        assert "38,500.00 USD requested" in s["budget_within_limits"].note
        weak = rf.submitted(name="Nouvelle Association", registration_date=young, years_direct_assistance=0,
                            bank_account_holder="Jean Dupont")
        s = facts(weak).suggestions
        assert s["registered_nonprofit"].result == "fail" and "less than a year" in s["registered_nonprofit"].note
        assert s["direct_assistance"].result == "fail"
        assert s["own_bank_account"].result == "needs_info" and "Jean Dupont" in s["own_bank_account"].note

    within(check)


def test_eligible_only_when_every_item_passes(app, api_as, within):
    app_id = within(lambda: rf.submitted().id)
    fm = api_as("fund_manager")
    items = {**ITEMS, "applies_directly": {"result": "needs_info", "note": "Partner NGO runs the shelter?"}}
    resp = fm.post(f"/api/v1/applications/{app_id}/screening", json={"items": items, "outcome": "eligible"})
    assert resp.status_code == 422 and "outcome" in resp.json["error"]["fields"]
    resp = fm.post(f"/api/v1/applications/{app_id}/screening", json={"items": {"applies_directly": items[
        "applies_directly"]}})
    assert resp.status_code == 422 and set(resp.json["error"]["fields"]["items"]) == set(ITEMS) - {"applies_directly"}
    resp = fm.post(f"/api/v1/applications/{app_id}/screening", json={"items": items})  # save only
    assert resp.status_code == 200 and resp.json["application_status"] == "submitted"
    saved = {i["code"]: (i["result"], i["note"]) for i in resp.json["items"]}
    assert saved["applies_directly"] == ("needs_info", "Partner NGO runs the shelter?")
    resp = fm.post(f"/api/v1/applications/{app_id}/screening", json={"items": ITEMS, "outcome": "eligible"})
    assert resp.status_code == 200 and resp.json["application_status"] == "eligible"
    again = fm.post(f"/api/v1/applications/{app_id}/screening", json={"items": ITEMS, "outcome": "eligible"})
    assert again.status_code == 409
    with app.app_context():
        actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.entity_type == "screening")
                                     ).scalars().all()
        assert actions == ["screening.save", "screening.save"]  # the refused attempts left nothing
        screening = db.session.execute(select(Screening)).scalar_one()
        assert screening.outcome == "eligible" and all(i.result == "pass" for i in screening.items)


def test_ineligible_tells_the_organisation(app, api_as, within):
    app_id = within(lambda: rf.submitted().id)
    fm = api_as("fund_manager")
    items = {**ITEMS, "registered_nonprofit": {"result": "fail", "note": "Registered in 2026."}}
    resp = fm.post(f"/api/v1/applications/{app_id}/screening", json={"items": items, "outcome": "ineligible"})
    assert resp.status_code == 422 and resp.json["error"]["fields"]["message"]
    resp = fm.post(f"/api/v1/applications/{app_id}/screening",
                   json={"items": items, "outcome": "ineligible", "message": "Registered less than a year ago."})
    assert resp.status_code == 200 and resp.json["application_status"] == "ineligible"
    with app.app_context():
        mail = db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "grants:ineligible")
                                  ).scalars().all()
        assert mail and all("Registered less than a year ago." in m.body_text for m in mail)


def test_returned_for_information_through_the_portal(app, login_as, within):
    app_id = within(lambda: rf.submitted().id)
    fm = login_as("fund_manager")
    url = f"/grants/applications/{app_id}/screening"
    page = fm.get(url).get_data(as_text=True)
    assert "Suggested from the profile:" in page
    form = {f"{code}-result": "pass" for code in ITEMS}
    form["safeguarding_policy-result"] = "needs_info"
    form["safeguarding_policy-note"] = "The policy uploaded is a draft."
    resp = fm.submit(url, {**form, "outcome": "returned"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Write the message to the organisation." in html and "The policy uploaded is a draft." in html
    del form["own_bank_account-result"]
    resp = fm.submit(url, {**form, "outcome": "returned", "message": "Send the signed PSEA policy."})
    assert resp.status_code == 422 and "Choose pass, fail or needs information." in resp.get_data(as_text=True)
    form["own_bank_account-result"] = "pass"
    resp = fm.submit(url, {**form, "outcome": "returned", "message": "Send the signed PSEA policy."})
    assert resp.status_code == 302
    with app.app_context():
        application = db.session.get(Application, app_id)
        assert application.status == "returned"
        mail = db.session.execute(select(OutboxMessage).where(
            OutboxMessage.kind == "grants:application_returned")).scalars().all()
        assert mail and "Send the signed PSEA policy." in mail[0].body_text
    queue = fm.get("/grants/selection/screening").get_data(as_text=True)
    assert "No application is waiting for screening." in queue


def test_the_operations_check_who_acts(app, make_user, within):
    import pytest

    from fund.errors import FundError
    from grants.review import assignment, operations
    from tests.grants import factories as f

    outsider = make_user("finance_officer")

    def attempt():
        application = rf.submitted()
        actor = f.user(outsider)
        for call in (lambda: operations.save_screening(application, {"items": ITEMS}, actor),
                     lambda: assignment.assign_reviewers(application, [], actor),
                     lambda: operations.set_min_reviewers(application.call, 3, actor),
                     lambda: operations.decide(application, {"outcome": "reserve"}, actor)):
            with pytest.raises(FundError) as exc:
                call()
            assert exc.value.status == 403

    within(attempt)
