"""Money never leaves twice or past the award: 50 concurrent requests race to approve and pay disbursements that
are each 10 % of one award, against a real threaded server (tests/live.py), twenty times in a row under
``make test-full`` (three in the everyday ``make test``)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from fund.accounting import figures, ledger
from fund.db import db
from fund.models import User
from fund.uploads import check_bytes
from grants.awards import operations as ops
from grants.awards.models import Disbursement, Grant
from tests.grants.awards import factories as af
from tests.live import concurrently, live_server, request, rounds

ROUNDS = rounds(full=20, light=3)
REQUESTS = 50
SHARE = Decimal("0.10")
REFUSALS = {"award_exceeded", "tranche_exceeded", "commitment_exceeded", "invalid_transition"}


def _grant_with_requests(app, officer_id: int, n: int) -> tuple[int, Decimal, list[int]]:
    """A countersigned grant paid in one tranche on signature, with ``n`` requests of 10 % of the award each."""
    with app.test_request_context():
        grant = af.make_grant(cash="50000.00", schedule=[(Decimal(100), "signature")])
        member = af.member(grant)
        ops.upload_signed_agreement(grant, check_bytes(af.gf.PDF_BYTES, "signed.pdf"), member)
        ops.countersign(grant, af.gf.manager())
        officer = db.session.get(User, officer_id)
        tenth = (grant.amount * SHARE).quantize(Decimal("0.01"))
        ids = [ops.request_disbursement(grant, 1, tenth, officer).id for _ in range(n)]
        db.session.commit()
        result = grant.id, grant.amount, ids
        db.session.remove()
        return result


def _race(url: str, headers: dict, ids: list[int]) -> list:
    """50 requests at once, half approving and half paying the 20 requests (some twice); then 50 payments at
    once, so that every approved disbursement meets its payment."""
    pay_body = {"payment_reference": "RACE", "paid_on": af.today().isoformat()}

    def approve_or_pay(i: int):
        d = ids[(i // 2) % len(ids)]
        if i % 2 == 0:
            return request(f"{url}/api/v1/disbursements/{d}/approve", "POST", headers=headers)
        return request(f"{url}/api/v1/disbursements/{d}/pay", "POST", json_body=pay_body, headers=headers)

    def pay(i: int):
        return request(f"{url}/api/v1/disbursements/{ids[i % len(ids)]}/pay", "POST", json_body=pay_body,
                       headers=headers)

    return concurrently(REQUESTS, approve_or_pay) + concurrently(REQUESTS, pay)


def test_racing_approvals_and_payments_never_pay_more_than_the_award(app, make_user, api_token):
    make_user("fund_manager")
    requester, approver = make_user("finance_officer"), make_user("finance_officer")
    headers = {"Authorization": f"Bearer {api_token(approver)}"}
    with live_server(app) as server:
        for round_ in range(ROUNDS):
            grant_id, award, ids = _grant_with_requests(app, requester.id, 20)
            responses = _race(server.url, headers, ids)
            failures = [r for r in responses if isinstance(r, BaseException)]
            assert not failures, failures[:3]
            statuses = sorted({r.status for r in responses})
            assert set(statuses) <= {200, 409}, f"round {round_}: {statuses}"
            for r in responses:
                if r.status == 409:
                    error = r.json()["error"]
                    assert error["code"] in REFUSALS and error["message"], error
            # Exactly the award was paid, in ten payments, and never more; the ledger agrees and balances.
            with app.app_context():
                rows = db.session.execute(select(Disbursement).where(Disbursement.grant_id == grant_id)).scalars().all()
                paid = [d for d in rows if d.status == "paid"]
                assert len(paid) == 10, f"round {round_}: {len(paid)} paid"
                assert sum(d.amount for d in paid) == award
                assert not [d for d in rows if d.status == "approved"]
                assert len({d.ledger_entry_id for d in paid}) == 10
                f = figures.grant_figures(grant_id)
                assert (f.paid, f.remaining) == (award, Decimal("0.00"))
                assert ledger.unbalanced_entries() == []
                assert db.session.get(Grant, grant_id).status == "active"
                db.session.remove()
            approvals = [r for r in responses[:REQUESTS:2] if r.status == 200]
            assert len(approvals) == 10, f"round {round_}: {len(approvals)} approvals"
