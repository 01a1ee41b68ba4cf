"""Idempotency-Key on POST /api/v1/contributions: a replay returns the first response, the same key with another
body is refused, and 50 concurrent requests with one key create exactly one contribution (real threads against
a real threaded server, on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from donors.models import Contribution
from fund.accounting.ledger import JournalEntry
from fund.db import db
from fund.idempotency import IdempotencyKey
from tests.live import fire, live_server

TODAY = dt.datetime.now(dt.UTC).date().isoformat()


@pytest.fixture
def fo(api_as):
    return api_as("finance_officer")


@pytest.fixture
def donor_id(fo):
    resp = fo.post("/api/v1/donors", json={"name": "Norway", "type": "member_state", "country": "NO"})
    return resp.json["id"]


def body(donor_id, reference="NO-2026-1", amount="1000.00"):
    return {"donor_id": donor_id, "amount": amount, "currency": "USD", "received_on": TODAY,
            "bank_reference": reference}


def contributions(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Contribution))


def test_a_replay_returns_the_first_response(app, fo, donor_id):
    headers = {"Idempotency-Key": "9c1a-0001"}
    first = fo.post("/api/v1/contributions", json=body(donor_id), headers=headers)
    assert first.status_code == 201
    # the same request again, keys in another order and spaced differently: the same request
    raw = json.dumps(dict(reversed(list(body(donor_id).items()))), indent=2)
    again = fo.post("/api/v1/contributions", data=raw, content_type="application/json", headers=headers)
    assert again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert contributions(app) == 1


def test_the_same_key_with_another_body_is_refused(app, fo, donor_id):
    headers = {"Idempotency-Key": "9c1a-0002"}
    assert fo.post("/api/v1/contributions", json=body(donor_id), headers=headers).status_code == 201
    resp = fo.post("/api/v1/contributions", json=body(donor_id, amount="999.00"), headers=headers)
    assert resp.status_code == 422
    assert "Idempotency-Key" in resp.json["error"]["fields"]
    assert contributions(app) == 1


def test_without_a_key_each_request_acts_and_duplicates_are_caught_by_reference(app, fo, donor_id):
    assert fo.post("/api/v1/contributions", json=body(donor_id)).status_code == 201
    resp = fo.post("/api/v1/contributions", json=body(donor_id))
    assert resp.status_code == 422 and "bank_reference" in resp.json["error"]["fields"]
    assert contributions(app) == 1


def test_a_failed_request_does_not_keep_its_key(app, fo, donor_id):
    headers = {"Idempotency-Key": "9c1a-0003"}
    resp = fo.post("/api/v1/contributions", json=body(donor_id, amount="-1"), headers=headers)
    assert resp.status_code == 422
    resp = fo.post("/api/v1/contributions", json=body(donor_id), headers=headers)
    assert resp.status_code == 201 and "Idempotent-Replayed" not in resp.headers
    assert contributions(app) == 1


def test_keys_belong_to_their_user(app, fo, api_as, donor_id):
    other = api_as("finance_officer")
    headers = {"Idempotency-Key": "shared-name"}
    assert fo.post("/api/v1/contributions", json=body(donor_id, "A-1"), headers=headers).status_code == 201
    resp = other.post("/api/v1/contributions", json=body(donor_id, "A-2"), headers=headers)
    assert resp.status_code == 201 and "Idempotent-Replayed" not in resp.headers
    assert contributions(app) == 2


def test_an_unusable_key_is_refused(app, fo, donor_id):
    resp = fo.post("/api/v1/contributions", json=body(donor_id), headers={"Idempotency-Key": "x" * 256})
    assert resp.status_code == 422 and "Idempotency-Key" in resp.json["error"]["fields"]
    assert contributions(app) == 0


def test_fifty_concurrent_requests_with_one_key_create_one_contribution(app, fo, donor_id, api_token):
    headers = {"Authorization": fo.headers["Authorization"], "Idempotency-Key": "concurrent-0001"}
    with live_server(app) as server:
        responses = fire(f"{server.url}/api/v1/contributions", 50, json_body=body(donor_id), headers=headers)
    assert [r.status for r in responses] == [201] * 50
    assert len({r.body for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 49
    assert contributions(app) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == 1
        assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1
    assert responses[0].json()["usd_amount"] == "1000.00"


def test_fifty_concurrent_requests_with_different_keys_and_one_reference_record_it_once(app, fo, donor_id):
    headers = {"Authorization": fo.headers["Authorization"]}
    with live_server(app) as server:
        responses = fire(f"{server.url}/api/v1/contributions", 20, json_body=body(donor_id, "SAME-REF"),
                         headers=headers)
    statuses = sorted(r.status for r in responses)
    assert statuses == [201] + [422] * 19
    assert contributions(app) == 1
