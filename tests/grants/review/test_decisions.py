"""Board decisions: approval creates the grant "pending signature" and commits the money atomically, within the
amount requested and the call's limits; reserve list in rank order unless the reason is recorded; rejection with
a reason; the organisation is told by e-mail and on its dashboard, never with a reviewer's name or a score."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from fund import ledger
from fund.audit import AuditEvent
from fund.db import db
from fund.mail import OutboxMessage
from grants.awards.models import Grant
from grants.review.models import Decision
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
        figures = ledger.grant_figures(grant.id)
        assert figures.committed == Decimal("35000.00")
        position = ledger.fund_position()
        assert position.committed == Decimal("39550.00")  # the commitment and its 13 % programme support costs
        assert ledger.unbalanced_entries() == []
        actions = db.session.execute(select(AuditEvent.action)).scalars().all()
        assert {"application.recommend", "application.approve", "grant.create", "decision.approved"} <= set(actions)
