"""Board decisions: approval creates the grant "pending signature" and commits the money atomically, within the
amount requested and the call's limits; reserve list in rank order unless the reason is recorded; rejection with
a reason; the organisation is told by e-mail and on its dashboard, never with a reviewer's name or a score."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import func, select

from fund.accounting import ledger
from fund.accounting.figures import fund_position, grant_figures
from fund.audit import AuditEvent
from fund.db import db
from fund.mail import OutboxMessage
from grants.awards.models import Grant
from grants.models import Application
from grants.review.models import Decision
from tests.grants import factories as f
from tests.grants.review import factories as rf

REQUESTED = Decimal("38500.00")  # the budget of tests.grants.factories.complete_answers()


def counts() -> dict:
    return {
        "grants": db.session.execute(select(func.count()).select_from(Grant)).scalar_one(),
        "decisions": db.session.execute(select(func.count()).select_from(Decision)).scalar_one(),
        "entries": db.session.execute(select(func.count()).select_from(ledger.JournalEntry)).scalar_one(),
        "audit": db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one(),
        "mail": db.session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one(),
    }


def reviewed(scores=((4, 4), (5, 3)), **org):
    """An application under review with two submitted reviews; returns (application id, reviewer names)."""
    reviewers = [rf.reviewer("Ingrid Secret-Reviewer"), rf.reviewer("Tomás Hidden-Scorer")]
    application = rf.under_review(reviewers=reviewers, scores=[list(s) for s in scores], **org)
    return application.id


def test_approval_creates_the_grant_and_commits_the_money(app, api_as, within):
    def setup():
        rf.fund_cash("100000.00")
        return reviewed()

    app_id = within(setup)
    fm = api_as("fund_manager")
    resp = fm.post(f"/api/v1/applications/{app_id}/decision", json={"outcome": "approved", "amount": "35000.00"})
    assert resp.status_code == 201, resp.json
    body = resp.json
    assert body["outcome"] == "approved" and body["amount"] == "35000.00" and body["currency"] == "USD"
    assert body["application_status"] == "approved" and body["grant_id"]
    assert body["score"] == "4.10"  # weights 60/40: (4*60+4*40)/100 = 4.00 and (5*60+3*40)/100 = 4.20
    with app.app_context():
        grant = db.session.get(Grant, body["grant_id"])
        assert grant.status == "pending_signature" and grant.amount == Decimal("35000.00")
        assert grant.application_id == app_id
        figures = grant_figures(grant.id)
        assert figures.committed == Decimal("35000.00")
        position = fund_position()
        assert position.committed == Decimal("39550.00")  # the commitment and its 13 % programme support costs
        assert ledger.unbalanced_entries() == []
        actions = db.session.execute(select(AuditEvent.action)).scalars().all()
        assert {"application.recommend", "application.approve", "grant.create", "decision.approved"} <= set(actions)


def test_a_refused_approval_leaves_nothing_written(app, api_as, within):
    def setup():
        rf.fund_cash("30000.00")  # 35,000 + 13 % programme support costs do not fit
        return reviewed()

    app_id = within(setup)
    fm = api_as("fund_manager")
    with app.app_context():
        before = counts()
    for body, status, field in (
        ({"outcome": "approved"}, 422, "amount"),
        ({"outcome": "approved", "amount": "38500.01"}, 422, "amount"),  # more than requested
        ({"outcome": "approved", "amount": "15000.00"}, 422, "amount"),  # below the call's minimum
        ({"outcome": "approved", "amount": "1000.005"}, 422, "amount"),
        ({"outcome": "rejected"}, 422, "reason"),
        ({"outcome": "approved", "amount": "35000.00"}, 409, "amount"),  # more than the fund has available
    ):
        resp = fm.post(f"/api/v1/applications/{app_id}/decision", json=body)
        assert resp.status_code == status, (body, resp.json)
        assert field in resp.json["error"]["fields"], (body, resp.json)
    assert "exceeds the available balance" in resp.json["error"]["message"]
    with app.app_context():
        assert counts() == before
        assert db.session.get(Application, app_id).status == "under_review"
        assert fund_position().committed == Decimal("0.00")


def test_the_board_decides_only_once_the_reviews_are_in(app, api_as, within, make_user):
    me, other = make_user("reviewer"), make_user("reviewer")
    app_id = within(lambda: rf.under_review(reviewers=[me, other], scores=[[4, 4]]).id)  # one of two submitted
    resp = api_as("fund_manager").post(f"/api/v1/applications/{app_id}/decision", json={"outcome": "reserve"})
    assert resp.status_code == 409 and resp.json["error"]["code"] == "reviews_incomplete"
    assert "1 of the 2 reviews needed" in resp.json["error"]["message"]


def test_rejection_tells_the_organisation_without_reviewers_or_scores(app, api_as, login_as, within):
    app_id = within(reviewed)
    fm = api_as("fund_manager")
    resp = fm.post(f"/api/v1/applications/{app_id}/decision",
                   json={"outcome": "rejected", "reason": "The project duplicates an existing programme."})
    assert resp.status_code == 201 and resp.json["application_status"] == "rejected"
    with app.app_context():
        application = db.session.get(Application, app_id)
        from fund.models import User

        applicant = db.session.get(User, application.created_by_id)
        mail = db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "grants:decision_rejected")
                                  ).scalars().all()
    assert mail and all("The project duplicates an existing programme." in m.body_text for m in mail)
    portal = login_as(applicant)
    pages = [portal.get("/grants/portal").get_data(as_text=True),
             portal.get(f"/grants/applications/{app_id}").get_data(as_text=True),
             api_as(applicant).get(f"/api/v1/applications/{app_id}").get_data(as_text=True),
             api_as(applicant).get("/api/v1/applications").get_data(as_text=True),
             *[m.subject + m.body_text for m in mail]]
    assert "Not selected:" in pages[0] and "The project duplicates an existing programme." in pages[0]
    for text in pages:
        for secret in ("Secret-Reviewer", "Hidden-Scorer", "reviewer-", "Comment on Relevance"):
            assert secret not in text, secret
        # The score as a number of its own (a timestamp's fraction of a second such as 24.104220 is not one).
        assert not re.search(r"(?<!\d)4\.10(?!\d)", text), "4.10"


def test_reserve_list_approvals_go_in_rank_order_unless_the_reason_is_recorded(app, api_as, login_as, within,
                                                                             make_user):
    reviewers = [make_user("reviewer"), make_user("reviewer")]

    def setup():
        call = f.make_call()
        ids = [rf.under_review(call=call, reviewers=reviewers, scores=[[s, s], [s, s]], name=n).id
               for n, s in (("First Ranked", 5), ("Second Ranked", 4), ("Third Ranked", 3))]
        return ids

    first, second, third = within(setup)
    fm = api_as("fund_manager")
    for app_id in (first, second, third):
        assert fm.post(f"/api/v1/applications/{app_id}/decision", json={"outcome": "reserve"}).status_code == 201
    with app.app_context():
        call_id = db.session.get(Application, first).call_id
    page = login_as(fm.user).get(f"/grants/selection/calls/{call_id}").get_data(as_text=True)
    names = ("First Ranked", "Second Ranked", "Third Ranked")
    assert all(n in page for n in names) and sorted(names, key=page.find) == list(names)  # the reserve list
    within(lambda: rf.fund_cash("200000.00"))  # money arrives
    resp = fm.post(f"/api/v1/applications/{second}/decision", json={"outcome": "approved", "amount": "30000.00"})
    assert resp.status_code == 422 and resp.json["error"]["code"] == "reserve_order"
    assert "VTF-" in resp.json["error"]["fields"]["reason"][0]  # names the better-ranked application
    resp = fm.post(f"/api/v1/applications/{second}/decision",
                   json={"outcome": "approved", "amount": "30000.00",
                         "reason": "The first-ranked organisation has not yet opened its bank account."})
    assert resp.status_code == 201, resp.json
    assert resp.json["out_of_order_reason"] == "The first-ranked organisation has not yet opened its bank account."
    resp = fm.post(f"/api/v1/applications/{first}/decision", json={"outcome": "approved", "amount": "30000.00"})
    assert resp.status_code == 201 and resp.json["out_of_order_reason"] is None
    resp = fm.post(f"/api/v1/applications/{third}/decision", json={"outcome": "approved", "amount": "30000.00"})
    assert resp.status_code == 201
    with app.app_context():
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "decision.approved")
                                   .order_by(AuditEvent.id)).scalars().first()
        assert event.changes["out_of_order_reason"][1].startswith("The first-ranked organisation")
        assert db.session.execute(select(func.count()).select_from(Grant)).scalar_one() == 3


def test_the_portal_decision_form_says_when_the_fund_cannot_afford_it(app, login_as, within):
    app_id = within(reviewed)  # no money in the fund at all
    fm = login_as("fund_manager")
    url = f"/grants/applications/{app_id}/decision"
    page = fm.get(url).get_data(as_text=True)
    assert "4.10" in page and "Record the Board's decision" in page
    resp = fm.submit(url, {"outcome": "approved", "amount": "35 000.00", "confirm": "yes"})
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert 'id="amount-error"' in html and "At most USD" in html
    resp = fm.submit(url, {"outcome": "reserve", "confirm": "yes"})
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(Application, app_id).status == "reserve"


def test_the_decision_sheet_is_printable_and_a_pdf(app, api_as, login_as, within):
    def setup():
        rf.fund_cash("100000.00")
        return reviewed()

    app_id = within(setup)
    api_as("fund_manager").post(f"/api/v1/applications/{app_id}/decision",
                                json={"outcome": "approved", "amount": "35000.00"})
    with app.app_context():
        application = db.session.get(Application, app_id)
        call_id, reference = application.call_id, application.reference
    fm = login_as("fund_manager")
    html = fm.get(f"/grants/selection/calls/{call_id}/decisions").get_data(as_text=True)
    assert reference in html and "35,000.00 USD" in html and "Approved" in html and "4.10" in html
    assert "Secret-Reviewer" not in html
    resp = fm.get(f"/grants/selection/calls/{call_id}/decisions.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf" and resp.data.startswith(b"%PDF-")
