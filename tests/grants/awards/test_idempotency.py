"""Idempotency-Key on every POST that moves or commits money (disbursement requests, approvals, payments,
refunds; pledges and Board decisions in their packages' tests), with the semantics of contributions: a replay
returns the stored response and acts once, the same key with another body is a 422, and concurrent requests with
one key (real threads against a real threaded server) create one record."""

from __future__ import annotations

from sqlalchemy import func, select

from fund.audit import AuditEvent
from fund.db import db
from grants.awards.models import GrantRefund
from tests.grants.awards import factories as af
from tests.grants.awards.conftest import sign_and_countersign
from tests.live import fire, live_server


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def requests_made(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "disbursement.requested"))


def replayed(first, again) -> bool:
    return (again.status_code == first.status_code and again.get_data() == first.get_data()
            and again.headers.get("Idempotent-Replayed") == "true")


def test_request_approve_pay_and_refund_replay_instead_of_acting_twice(app, world):
    w = world()
    sign_and_countersign(w)
    url = f"/api/v1/grants/{w.grant_id}/disbursements"
    before = requests_made(app)
    key = {"Idempotency-Key": "d-0001"}
    first = w.fo.post(url, json={"tranche": 1, "amount": "10000.00"}, headers=key)
    assert first.status_code == 201
    assert replayed(first, w.fo.post(url, json={"tranche": 1, "amount": "10000.00"}, headers=key))
    assert requests_made(app) == before + 1
    other = w.fo.post(url, json={"tranche": 1, "amount": "9000.00"}, headers=key)
    assert other.status_code == 422 and "Idempotency-Key" in other.get_json()["error"]["fields"]
    d = first.get_json()["id"]

    approve = w.fo2.post(f"/api/v1/disbursements/{d}/approve", headers={"Idempotency-Key": "a-1"})
    assert approve.status_code == 200
    assert replayed(approve, w.fo2.post(f"/api/v1/disbursements/{d}/approve", headers={"Idempotency-Key": "a-1"}))
    # without the key, a second approval is refused by the state machine, as before
    assert w.fo2.post(f"/api/v1/disbursements/{d}/approve").status_code == 409

    pay = {"payment_reference": "BANK-1", "paid_on": af.today().isoformat()}
    paid = w.fo.post(f"/api/v1/disbursements/{d}/pay", json=pay, headers={"Idempotency-Key": "p-1"})
    assert paid.status_code == 200
    assert replayed(paid, w.fo.post(f"/api/v1/disbursements/{d}/pay", json=pay, headers={"Idempotency-Key": "p-1"}))

    refund = {"amount": "500.00", "currency": "USD", "received_on": af.today().isoformat(), "bank_reference": "R1"}
    r1 = w.fo.post(f"/api/v1/grants/{w.grant_id}/refunds", json=refund, headers={"Idempotency-Key": "r-1"})
    assert r1.status_code == 201, r1.get_json()
    r2 = w.fo.post(f"/api/v1/grants/{w.grant_id}/refunds", json=refund, headers={"Idempotency-Key": "r-1"})
    assert replayed(r1, r2) and count(app, GrantRefund) == 1


def test_concurrent_disbursement_requests_with_one_key_create_one(app, world):
    w = world()
    sign_and_countersign(w)
    before = requests_made(app)
    headers = {**w.fo.headers, "Idempotency-Key": "concurrent-d-1"}
    with live_server(app) as server:
        responses = fire(f"{server.url}/api/v1/grants/{w.grant_id}/disbursements", 20,
                         json_body={"tranche": 1, "amount": "1000.00"}, headers=headers)
    assert [r.status for r in responses] == [201] * 20
    assert len({r.body for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 19
    assert requests_made(app) == before + 1
