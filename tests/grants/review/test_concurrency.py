"""Acceptance: concurrent approvals whose sum exceeds the available balance. Against a real threaded server
(tests/live.py), all at once: exactly the affordable ones succeed, the others get a clear 409, nothing of a
refused approval is written, and the ledger balances. Runs on SQLite and, with TEST_DATABASE_URL, PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from fund.accounting import figures, ledger
from fund.db import db
from grants.awards.models import Grant
from grants.models import Application
from grants.review.models import Decision
from tests.grants import factories as f
from tests.grants.review import factories as rf
from tests.live import concurrently, live_server, request

APPLICATIONS = 8
AMOUNT = Decimal("35000.00")
WITH_PSC = Decimal("39550.00")  # the commitment and the 13 % programme support costs it will attract
CASH = Decimal("120000.00")  # room for 3 approvals (118,650.00), not 4 (158,200.00)
AFFORDABLE = 3


def test_concurrent_approvals_never_commit_more_than_the_fund_has(app, make_user, api_token, within):
    reviewers = [make_user("reviewer"), make_user("reviewer")]

    def setup():
        rf.fund_cash(str(CASH))
        call = f.make_call()
        return [rf.under_review(call=call, reviewers=reviewers, scores=[[4, 4], [4, 3]], name=f"Org {i}").id
                for i in range(APPLICATIONS)]

    ids = within(setup)
    token = api_token(make_user("fund_manager"))
    with live_server(app) as server:
        responses = concurrently(APPLICATIONS, lambda i: request(
            f"{server.url}/api/v1/applications/{ids[i]}/decision", "POST",
            json_body={"outcome": "approved", "amount": str(AMOUNT)},
            headers={"Authorization": f"Bearer {token}"}))
    errors = [r for r in responses if isinstance(r, BaseException)]
    assert not errors, errors
    statuses = sorted(r.status for r in responses)
    assert statuses == [201] * AFFORDABLE + [409] * (APPLICATIONS - AFFORDABLE), [
        (r.status, r.body[:200]) for r in responses]
    refused = [r.json()["error"] for r in responses if r.status == 409]
    assert all(e["code"] == "insufficient_funds" and "exceeds the available balance" in e["message"]
               and e["fields"]["amount"] for e in refused)
    approved_ids = {r.json()["application_id"] for r in responses if r.status == 201}

    with app.app_context():
        position = figures.fund_position()
        assert position.committed == WITH_PSC * AFFORDABLE
        assert position.available == CASH - WITH_PSC * AFFORDABLE >= 0
        assert ledger.unbalanced_entries() == []
        grants = db.session.execute(select(Grant)).scalars().all()
        assert len(grants) == AFFORDABLE and {g.application_id for g in grants} == approved_ids
        assert all(g.status == "pending_signature" and g.amount == AMOUNT for g in grants)
        assert sum(figures.grant_figures(g.id).committed for g in grants) == AMOUNT * AFFORDABLE
        assert db.session.execute(select(func.count()).select_from(Decision)).scalar_one() == AFFORDABLE
        statuses = dict(db.session.execute(select(Application.id, Application.status)).all())
        assert {i for i, s in statuses.items() if s == "approved"} == approved_ids
        assert all(statuses[i] == "under_review" for i in ids if i not in approved_ids)
