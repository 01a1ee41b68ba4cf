"""From the Board's approval to closure, through the API: agreement, both tranches (four eyes), both reports,
a refund in euros, closure; then the fund position and the grant's paid, refunded and remaining amounts
against the ledger."""

from __future__ import annotations

from decimal import Decimal

from fund.accounting import ledger, rates
from fund.accounting.figures import fund_position
from fund.db import db
from grants.awards.models import Grant, GrantRefund
from tests.grants.awards import factories as af
from tests.grants.awards.conftest import D, figures, sign_and_countersign
from tests.grants.awards.reports_data import report_body

TODAY = af.today


def test_approval_to_closure_with_a_refund_reconciles_with_the_ledger(app, world):
    w = world(cash="200000.00")
    gid = w.grant_id

    # Created by the approval: pending signature, committed in the ledger, two tranches that sum to the award.
    grant = w.fm.get(f"/api/v1/grants/{gid}").get_json()
    assert grant["status"] == "pending_signature"
    assert grant["number"].startswith("VTF/") and grant["number"].endswith("/001")
    assert D(grant["amount"]) == D("38500.00")
    assert [(t["number"], t["amount"], t["condition"]) for t in grant["tranches"]] == [
        (1, "26950.00", "signature"), (2, "11550.00", "interim_report")]
    assert D(grant["committed"]) == D("38500.00") and D(grant["remaining"]) == D("38500.00")

    # Nothing can be requested before countersignature; the fund manager cannot countersign an unsigned grant.
    assert w.fo.post(f"/api/v1/grants/{gid}/disbursements", json={"tranche": 1, "amount": "100.00"}).status_code == 409
    unsigned = w.fm.post(f"/api/v1/grants/{gid}/countersign")
    assert unsigned.status_code == 409 and "signed agreement" in unsigned.get_json()["error"]["message"]
    sign_and_countersign(w)

    # Tranche 1: requested by one officer, approved by another, paid.
    d1 = w.fo.post(f"/api/v1/grants/{gid}/disbursements", json={"tranche": 1, "amount": "26950.00"})
    assert d1.status_code == 201 and d1.get_json()["status"] == "requested"
    d1 = d1.get_json()["id"]
    own = w.fo.post(f"/api/v1/disbursements/{d1}/approve")
    assert own.status_code == 403 and own.get_json()["error"]["code"] == "four_eyes"
    assert w.fo2.post(f"/api/v1/disbursements/{d1}/approve").get_json()["status"] == "approved"
    paid = w.fo.post(f"/api/v1/disbursements/{d1}/pay",
                     json={"payment_reference": "BANK-0001", "paid_on": TODAY().isoformat()})
    assert paid.status_code == 200, paid.get_json()
    assert paid.get_json()["status"] == "paid" and paid.get_json()["ledger_entry_id"]

    # Tranche 2 waits for the interim report.
    d2 = w.fo.post(f"/api/v1/grants/{gid}/disbursements", json={"tranche": 2, "amount": "11550.00"}).get_json()["id"]
    early = w.fo2.post(f"/api/v1/disbursements/{d2}/approve")
    assert early.status_code == 409 and "interim report" in early.get_json()["error"]["message"]

    grant = w.ngo.get(f"/api/v1/grants/{gid}").get_json()
    interim = next(r for r in grant["reports"] if r["kind"] == "interim")
    body = report_body("interim", grant, shares={"personnel": "10800.00", "shelter": "7200.00", "indirect": "1250.00"})
    saved = w.ngo.post(f"/api/v1/grants/{gid}/reports", json=body)
    assert saved.status_code == 201, saved.get_json()
    assert saved.get_json()["total_assisted"] == 15
    assert w.ngo.post(f"/api/v1/reports/{interim['id']}/submit").get_json()["status"] == "submitted"
    assert w.fm.post(f"/api/v1/reports/{interim['id']}/accept", json={}).get_json()["status"] == "accepted"

    assert w.fo2.post(f"/api/v1/disbursements/{d2}/approve").status_code == 200
    assert w.fo2.post(f"/api/v1/disbursements/{d2}/pay",
                      json={"payment_reference": "BANK-0002", "paid_on": TODAY().isoformat()}).status_code == 200

    # Final report: USD 2,000 of shelter money unspent (explained), so USD 36,500 spent of 38,500 received.
    final = next(r for r in grant["reports"] if r["kind"] == "final")
    body = report_body("final", grant, shares={"shelter": "12400.00"},
                       explanations={"shelter": "Fewer nights were needed: survivors moved to family care."})
    assert w.ngo.post(f"/api/v1/grants/{gid}/reports", json=body).status_code == 201
    submitted = w.ngo.post(f"/api/v1/reports/{final['id']}/submit").get_json()
    assert (submitted["received"], submitted["expenditure"], submitted["unspent"]) == ("38500.00", "36500.00",
                                                                                         "2000.00")
    assert w.fm.post(f"/api/v1/reports/{final['id']}/accept").status_code == 200

    # Closure waits for the refund of the unspent money.
    early_close = w.fm.post(f"/api/v1/grants/{gid}/close")
    assert early_close.status_code == 409 and "refund" in early_close.get_json()["error"]["message"]

    with app.app_context():
        rates.set_rate("EUR", TODAY(), Decimal("0.8"))  # EUR 0.80 per USD 1
        db.session.commit()
    refund = w.fo.post(f"/api/v1/grants/{gid}/refunds", json={
        "amount": "1600.00", "currency": "EUR", "received_on": TODAY().isoformat(), "bank_reference": "RF-77"})
    assert refund.status_code == 201, refund.get_json()
    assert (refund.get_json()["amount"], refund.get_json()["currency"], refund.get_json()["usd"]) == (
        "1600.00", "EUR", "2000.00")

    closed = w.fm.post(f"/api/v1/grants/{gid}/close")
    assert closed.status_code == 200, closed.get_json()
    assert closed.get_json()["status"] == "closed"

    # A second grant, to another organisation, is terminated after its first tranche and a partial refund.
    other = _second_grant(app, w)
    d = w.fo.post(f"/api/v1/grants/{other}/disbursements", json={"tranche": 1, "amount": "26950.00"}).get_json()
    assert w.fo2.post(f"/api/v1/disbursements/{d['id']}/approve").status_code == 200
    assert w.fo.post(f"/api/v1/disbursements/{d['id']}/pay",
                     json={"payment_reference": "BANK-0003", "paid_on": TODAY().isoformat()}).status_code == 200
    assert w.fo.post(f"/api/v1/grants/{other}/refunds", json={
        "amount": "1000.00", "currency": "USD", "received_on": TODAY().isoformat(), "bank_reference": "RF-78"}
    ).status_code == 201
    terminated = w.fm.post(f"/api/v1/grants/{other}/terminate", json={"message": "The project stopped."})
    assert terminated.get_json()["status"] == "terminated"
    assert [x["status"] for x in terminated.get_json()["disbursements"]] == ["paid", "cancelled"]

    # Each grant's amounts are the ledger's.
    for grant_id in (gid, other):
        shown = w.fm.get(f"/api/v1/grants/{grant_id}").get_json()
        f = figures(app, grant_id)
        assert (D(shown["paid"]), D(shown["refunded"]), D(shown["remaining"])) == (f.paid, f.refunded, f.remaining)
        with app.app_context():
            g = db.session.get(Grant, grant_id)
            assert sum(x.amount for x in g.disbursements if x.status == "paid") == f.paid
            refunds = db.session.execute(db.select(GrantRefund).where(GrantRefund.grant_id == grant_id)).scalars()
            assert sum(r.usd for r in refunds) == f.refunded
            assert f.expenditure == f.paid - f.refunded and f.psc == (f.expenditure * D("0.13")).quantize(D("0.01"))
    f2 = figures(app, other)
    assert (f2.paid, f2.refunded, f2.remaining, f2.committed) == (D("26950.00"), D("1000.00"), D("0.00"),
                                                                  D("26950.00"))
    f = figures(app, gid)
    assert (f.paid, f.refunded, f.remaining, f.expenditure) == (D("38500.00"), D("2000.00"), D("0.00"),
                                                                D("36500.00"))
    assert f.psc == D("4745.00")  # 13 % of the expenditure net of the refund
    assert f.psc_reserved == D("0.00")
    with app.app_context():
        assert db.session.get(Grant, gid).report("final").expenditure == f.expenditure
        position = fund_position()
        assert ledger.unbalanced_entries() == []
    # The fund: 200,000 received; 38,500 + 26,950 out; PSC 4,745 + 3,373.50; 2,000 + 1,000 back; nothing left
    # committed once one grant is closed and the other terminated.
    assert (position.disbursed, position.psc, position.refunded) == (D("65450.00"), D("8118.50"), D("3000.00"))
    assert position.cash == D("200000.00") - D("65450.00") - D("8118.50") + D("3000.00")
    assert position.committed == D("0.00")
    assert position.available == position.cash


def _second_grant(app, w) -> int:
    """Another organisation's grant, approved, signed and countersigned through the operations."""
    from fund.models import User
    from fund.uploads import check_bytes
    from grants.awards import operations as ops

    with app.test_request_context():
        grant = af.make_grant(applicant=db.session.get(User, w.other_applicant.id), cash=None)
        ops.upload_signed_agreement(grant, check_bytes(af.gf.PDF_BYTES, "signed.pdf"),
                                    db.session.get(User, w.other_applicant.id))
        ops.countersign(grant, db.session.get(User, w.manager.id))
        db.session.commit()
        grant_id = grant.id
        db.session.remove()
    return grant_id
