"""What closing a grant and approving a payment refuse (409), each on its own: closure while a disbursement
request is still open, closure when the final report declares more expenditure than the payments net of refunds,
and the approval of a payment once part of the grant's commitment has been released."""

from __future__ import annotations

from fund.accounting import ledger
from fund.db import db
from tests.grants.awards import factories as af
from tests.grants.awards.conftest import D, figures, sign_and_countersign
from tests.grants.awards.reports_data import report_body


def _first_tranche_and_interim(w) -> dict:
    sign_and_countersign(w)
    d1 = w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 1, "amount": "26950.00"})
    d1 = d1.get_json()["id"]
    assert w.fo2.post(f"/api/v1/disbursements/{d1}/approve").status_code == 200
    assert w.fo.post(f"/api/v1/disbursements/{d1}/pay", json={
        "payment_reference": "BANK-1", "paid_on": af.today().isoformat()}).status_code == 200
    grant = w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()
    interim = next(r for r in grant["reports"] if r["kind"] == "interim")
    body = report_body("interim", grant, shares={"personnel": "10800.00", "shelter": "7200.00", "indirect": "1250.00"})
    assert w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=body).status_code == 201
    assert w.ngo.post(f"/api/v1/reports/{interim['id']}/submit").status_code == 200
    assert w.fm.post(f"/api/v1/reports/{interim['id']}/accept", json={}).status_code == 200
    return grant


def test_closure_waits_for_open_requests_and_for_spend_the_payments_cover(app, world):
    w = world(cash="200000.00")
    grant = _first_tranche_and_interim(w)
    d2 = w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 2, "amount": "11550.00"})
    d2 = d2.get_json()["id"]
    # The final report declares the whole budget, USD 38,500, spent; only USD 26,950 was paid.
    final = next(r for r in grant["reports"] if r["kind"] == "final")
    assert w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=report_body("final", grant)).status_code == 201
    assert w.ngo.post(f"/api/v1/reports/{final['id']}/submit").status_code == 200
    assert w.fm.post(f"/api/v1/reports/{final['id']}/accept").status_code == 200

    resp = w.fm.post(f"/api/v1/grants/{w.grant_id}/close")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "open_disbursements"
    assert resp.get_json()["error"]["message"] == "1 disbursement request is still open: pay or cancel it first."
    assert w.fo.post(f"/api/v1/disbursements/{d2}/cancel", json={}).status_code == 200
    resp = w.fm.post(f"/api/v1/grants/{w.grant_id}/close")
    error = resp.get_json()["error"]
    assert resp.status_code == 409 and error["code"] == "not_reconciled"
    assert "38500.00" in error["message"] and "26950.00" in error["message"]
    assert w.fm.get(f"/api/v1/grants/{w.grant_id}").get_json()["status"] == "active"
    assert figures(app, w.grant_id).remaining == D("11550.00")  # nothing released by the refused closure


def test_a_payment_is_not_approved_once_part_of_the_commitment_was_released(app, world):
    w = world(cash="200000.00")
    _first_tranche_and_interim(w)
    with app.app_context():
        ledger.release_commitment(w.grant_id, D("5000.00"))
        db.session.commit()
    d2 = w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 2, "amount": "11550.00"})
    assert d2.status_code == 201, d2.get_json()
    resp = w.fo2.post(f"/api/v1/disbursements/{d2.get_json()['id']}/approve")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "commitment_exceeded"
    assert "6550.00" in resp.get_json()["error"]["message"]
    assert figures(app, w.grant_id).paid == D("26950.00")
