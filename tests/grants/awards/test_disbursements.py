"""Four eyes, conditions and guards of disbursements, through the API."""

from __future__ import annotations

from sqlalchemy import func, select

from fund.audit import AuditEvent
from fund.db import db
from grants.awards.models import Disbursement
from tests.grants.awards import factories as af
from tests.grants.awards.conftest import D, figures, sign_and_countersign

PAY = {"payment_reference": "BANK-1", "paid_on": af.today().isoformat()}


def _request(w, tranche=1, amount="26950.00", client=None):
    resp = (client or w.fo).post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": tranche,
                                                                                     "amount": amount})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def _state(app, disbursement_id):
    with app.app_context():
        d = db.session.get(Disbursement, disbursement_id)
        return d.status, d.approved_by_id, d.amount


def _audit_count(app) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


def test_the_requester_cannot_approve_their_own_request(app, world):
    w = world()
    sign_and_countersign(w)
    d = _request(w)
    before = _audit_count(app)
    resp = w.fo.post(f"/api/v1/disbursements/{d}/approve")
    assert resp.status_code == 403
    assert "different finance officer" in resp.get_json()["error"]["message"]
    assert _state(app, d)[:2] == ("requested", None)
    assert _audit_count(app) == before + 1  # only the refusal is in the audit trail, nothing of the approval
    # Nor can they pay it unapproved.
    assert w.fo.post(f"/api/v1/disbursements/{d}/pay", json=PAY).status_code == 409
    assert w.fo2.post(f"/api/v1/disbursements/{d}/approve").status_code == 200
    assert _state(app, d)[:2] == ("approved", w.officer2.id)


def test_an_edited_request_needs_a_new_approval_by_someone_else(app, world, api_as, make_user):
    w = world()
    sign_and_countersign(w)
    d = _request(w, amount="20000.00")
    assert w.fo2.post(f"/api/v1/disbursements/{d}/approve").status_code == 200

    # The requester changes the amount: the approval is void.
    edited = w.fo.patch(f"/api/v1/disbursements/{d}", json={"amount": "26950.00"})
    assert edited.status_code == 200, edited.get_json()
    assert (edited.get_json()["status"], edited.get_json()["approved_by_id"], edited.get_json()["amount"]) == (
        "requested", None, "26950.00")
    assert w.fo.post(f"/api/v1/disbursements/{d}/pay", json=PAY).status_code == 409
    assert figures(app, w.grant_id).paid == D("0.00")

    # The second officer now changes it back: neither of them may approve it; a third officer does.
    assert w.fo2.patch(f"/api/v1/disbursements/{d}", json={"amount": "25000.00"}).status_code == 200
    assert w.fo2.post(f"/api/v1/disbursements/{d}/approve").status_code == 403
    assert w.fo.post(f"/api/v1/disbursements/{d}/approve").status_code == 403
    third = api_as(make_user("finance_officer"))
    assert third.post(f"/api/v1/disbursements/{d}/approve").status_code == 200
    paid = w.fo.post(f"/api/v1/disbursements/{d}/pay", json=PAY)
    assert paid.status_code == 200 and paid.get_json()["amount"] == "25000.00"
    assert figures(app, w.grant_id).paid == D("25000.00")


def test_tranche_two_waits_for_the_accepted_interim_report(app, world):
    from tests.grants.awards.reports_data import report_body

    w = world()
    sign_and_countersign(w)
    d2 = _request(w, tranche=2, amount="11550.00")
    resp = w.fo2.post(f"/api/v1/disbursements/{d2}/approve")
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "tranche_condition"
    assert "Tranche 2" in resp.get_json()["error"]["message"] and "interim report" in resp.get_json()["error"][
        "message"]
    assert _state(app, d2)[0] == "requested"

    grant = w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()
    interim = next(r for r in grant["reports"] if r["kind"] == "interim")
    body = report_body("interim", grant, shares={"personnel": "10800.00", "shelter": "7200.00",
                                                 "indirect": "1250.00"})
    assert w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=body).status_code == 201
    assert w.ngo.post(f"/api/v1/reports/{interim['id']}/submit").status_code == 200
    # Submitted is not enough: it must be accepted.
    assert w.fo2.post(f"/api/v1/disbursements/{d2}/approve").status_code == 409
    assert w.fm.post(f"/api/v1/reports/{interim['id']}/accept").status_code == 200
    assert w.fo2.post(f"/api/v1/disbursements/{d2}/approve").status_code == 200


def test_a_suspended_grant_cannot_be_paid(app, world):
    w = world()
    sign_and_countersign(w)
    d = _request(w, amount="10000.00")
    other = _request(w, amount="5000.00")
    assert w.fo2.post(f"/api/v1/disbursements/{d}/approve").status_code == 200
    suspended = w.fm.post(f"/api/v1/grants/{w.grant_id}/suspend", json={"message": "Audit findings"})
    assert suspended.status_code == 200
    # The answer's tranche carries what is approved against it, though the action had the tranches in hand before
    # the answer was read.
    tranche = suspended.get_json()["tranches"][0]
    assert (D(tranche["approved"]), D(tranche["paid"])) == (D("10000.00"), 0)

    paid = w.fo.post(f"/api/v1/disbursements/{d}/pay", json=PAY)
    assert paid.status_code == 409
    assert paid.get_json()["error"]["code"] == "grant_not_active"
    assert "suspended" in paid.get_json()["error"]["message"]
    assert w.fo2.post(f"/api/v1/disbursements/{other}/approve").status_code == 409
    assert w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 1, "amount": "1.00"}
                     ).status_code == 409
    assert _state(app, d)[0] == "approved"
    assert figures(app, w.grant_id).paid == D("0.00")

    assert w.fm.post(f"/api/v1/grants/{w.grant_id}/resume").status_code == 200
    assert w.fo.post(f"/api/v1/disbursements/{d}/pay", json=PAY).status_code == 200
    assert figures(app, w.grant_id).paid == D("10000.00")


def test_paid_and_approved_never_exceed_the_tranche_or_the_award(app, world):
    w = world()
    sign_and_countersign(w)
    first = _request(w, amount="15000.00")
    second = _request(w, amount="15000.00")
    assert w.fo2.post(f"/api/v1/disbursements/{first}/approve").status_code == 200
    over = w.fo2.post(f"/api/v1/disbursements/{second}/approve")
    assert over.status_code == 409 and over.get_json()["error"]["code"] == "tranche_exceeded"
    assert "11950.00" in over.get_json()["error"]["message"]  # what is left of tranche 1
    # Up to exactly the tranche is fine; a cent more is not.
    assert w.fo.patch(f"/api/v1/disbursements/{second}", json={"amount": "11950.00"}).status_code == 200
    assert w.fo2.post(f"/api/v1/disbursements/{second}/approve").status_code == 200
    cent = _request(w, amount="0.01")
    assert w.fo2.post(f"/api/v1/disbursements/{cent}/approve").status_code == 409
    # More than the tranche in one request is refused at once.
    too_much = w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 1, "amount": "26950.01"})
    assert too_much.status_code == 409 and "amount" in too_much.get_json()["error"]["fields"]


def test_approval_needs_the_cash(app, world):
    from fund.accounting import ledger
    from fund.accounting.figures import fund_position

    w = world(cash="44000.00")  # enough to commit 38,500 and the PSC it will attract (5,005)
    sign_and_countersign(w)
    d = _request(w, amount="26950.00")
    with app.app_context():  # the contribution turns out to be a bank error and is reversed: no cash left
        entry = db.session.execute(select(ledger.JournalEntry.id).where(
            ledger.JournalEntry.kind == ledger.CONTRIBUTION)).scalar_one()
        ledger.reverse_entry(entry, reason="Bank error")
        db.session.commit()
    refused = w.fo2.post(f"/api/v1/disbursements/{d}/approve")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "cash_insufficient"
    assert "30453.50" in refused.get_json()["error"]["message"]  # 26,950 and 13 % PSC
    assert _state(app, d)[0] == "requested"
    with app.app_context():
        af.fund_cash("44000.00")
        db.session.commit()
    assert w.fo2.post(f"/api/v1/disbursements/{d}/approve").status_code == 200
    assert w.fo.post(f"/api/v1/disbursements/{d}/pay", json=PAY).status_code == 200
    with app.app_context():
        assert fund_position().cash == D("44000.00") - D("26950.00") - D("3503.50")


def test_a_failed_payment_is_reversed_in_the_ledger(app, world):
    from fund.accounting import ledger

    w = world()
    sign_and_countersign(w)
    d = _request(w, amount="26950.00")
    w.fo2.post(f"/api/v1/disbursements/{d}/approve")
    assert w.fo.post(f"/api/v1/disbursements/{d}/pay", json=PAY).status_code == 200
    assert figures(app, w.grant_id).paid == D("26950.00")
    assert w.fo.post(f"/api/v1/disbursements/{d}/fail", json={}).status_code == 422  # a reason is needed
    failed = w.fo.post(f"/api/v1/disbursements/{d}/fail", json={"message": "Returned by the beneficiary bank"})
    assert failed.status_code == 200 and failed.get_json()["status"] == "failed"
    f = figures(app, w.grant_id)
    assert (f.paid, f.remaining, f.psc) == (D("0.00"), D("38500.00"), D("0.00"))
    with app.app_context():
        assert ledger.unbalanced_entries() == []


def test_a_disbursement_reversed_from_the_ledger_is_failed_too(app, world, api_as, make_user):
    w = world()
    sign_and_countersign(w)
    d = _request(w, amount="26950.00")
    w.fo2.post(f"/api/v1/disbursements/{d}/approve")
    entry = w.fo.post(f"/api/v1/disbursements/{d}/pay", json=PAY).get_json()["ledger_entry_id"]
    admin = api_as(make_user("admin"))
    assert admin.post(f"/api/v1/ledger/entries/{entry}/reverse", json={"reason": "Wrong account"}).status_code == 201
    assert _state(app, d)[0] == "failed"
    assert figures(app, w.grant_id).paid == D("0.00")


def test_another_organisation_sees_nothing_of_the_grant(app, world):
    w = world()
    gid = w.grant_id
    assert w.outsider.get(f"/api/v1/grants/{gid}").status_code == 404
    assert w.outsider.get("/api/v1/grants").get_json()["items"] == []
    assert [g["id"] for g in w.ngo.get("/api/v1/grants").get_json()["items"]] == [gid]
    report_id = w.ngo.get(f"/api/v1/grants/{gid}").get_json()["reports"][0]["id"]
    assert w.outsider.get(f"/api/v1/reports/{report_id}").status_code == 404
    # Refused before the body is looked at, even with an invalid body.
    assert w.outsider.post(f"/api/v1/grants/{gid}/reports", json={"nonsense": 1}).status_code == 404
    assert w.outsider.post(f"/api/v1/reports/{report_id}/submit").status_code == 404
    import io

    resp = w.outsider.post(f"/api/v1/grants/{gid}/agreement", data={"file": (io.BytesIO(af.gf.PDF_BYTES), "x.pdf")},
                           content_type="multipart/form-data")
    assert resp.status_code == 404


def test_the_grant_read_again_in_the_same_session_has_its_new_tranche_totals(app, world):
    """grant_detail reads the tranches' totals afresh even when the session holds the tranches with older ones."""
    from grants.awards import reads

    w = world()
    sign_and_countersign(w)
    d = _request(w, amount="10000.00")
    with app.app_context():
        before = reads.grant_detail(w.grant_id).tranches[0]
        assert (before.requested_total, before.approved_total) == (D("10000.00"), 0)
        disbursement = db.session.get(Disbursement, d)
        disbursement.status = "approved"  # as the approval does, within this session
        db.session.flush()
        after = reads.grant_detail(w.grant_id).tranches[0]
        assert after is before
        assert (after.requested_total, after.approved_total) == (0, D("10000.00"))
        db.session.rollback()
