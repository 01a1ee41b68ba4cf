"""Changes of payee under four eyes (grants.payee): once a grant is awarded, new bank details wait for a finance
officer's call-back, payments are held and approvals void meanwhile, the holder is screened, the organisation's
administrators are told, and the history is kept for finance and auditors."""

from __future__ import annotations

from sqlalchemy import select

from fund.audit import AuditEvent
from fund.db import db
from fund.mail import OutboxMessage
from fund.models import User
from grants.awards.models import Disbursement
from grants.models import BankDetailsChange, Organisation
from tests.grants import factories as gf
from tests.grants.awards.conftest import sign_and_countersign

OLD_NUMBER = gf.ORG_DATA["bank_account_number"]
NEW_NUMBER = "DE89370400440532013000"
PAY = {"payment_reference": "BANK-1", "paid_on": gf.dt.date.today().isoformat()}


def profile_form(**bank) -> dict:
    """The organisation's edit form as the browser sends it, with new bank fields."""
    form = {k: ("" if v is None else str(v)) for k, v in gf.ORG_DATA.items()}
    form.update({"bank_account_number": "", "bank_swift": ""}, **bank)
    return form


def org_of(app, user) -> Organisation:
    with app.app_context():
        org_id = db.session.get(User, user.id).organisation_id
        org = db.session.get(Organisation, org_id)
        db.session.expunge(org)
        return org


def changes(app, org_id: int) -> list[tuple[str, str]]:
    with app.app_context():
        return [(c.status, c.bank_account_number) for c in db.session.execute(
            select(BankDetailsChange).where(BankDetailsChange.organisation_id == org_id)
            .order_by(BankDetailsChange.id)).scalars()]


def status(app, disbursement_id: int) -> tuple[str, int | None]:
    with app.app_context():
        d = db.session.get(Disbursement, disbursement_id)
        return d.status, d.approved_by_id


def request_and_approve(w) -> int:
    resp = w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 1, "amount": "20000.00"})
    assert resp.status_code == 201, resp.get_json()
    d = resp.get_json()["id"]
    assert w.fo2.post(f"/api/v1/disbursements/{d}/approve").status_code == 200
    return d


def test_without_a_running_grant_a_change_applies_at_once(app, login_as, applicant_with_org):
    applicant, _org_id = applicant_with_org()
    client = login_as(applicant)
    org = org_of(app, applicant)
    resp = client.submit(f"/grants/organisations/{org.id}/edit",
                         profile_form(bank_account_number=NEW_NUMBER, bank_account_holder="Association Espoir"))
    assert resp.status_code == 302
    assert org_of(app, applicant).bank_account_number == NEW_NUMBER
    assert changes(app, org.id) == [("applied", OLD_NUMBER), ("applied", NEW_NUMBER)]
    with app.app_context():
        assert db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "grants:bank_details_changed")
                                  ).first() is None


def test_after_the_award_a_change_waits_for_a_call_back_and_payments_are_held(app, world, login_as, make_user,
                                                                              api_as):
    w = world()
    sign_and_countersign(w)
    d = request_and_approve(w)
    with app.app_context():
        db.session.get(User, w.applicant.id).language = "fr"
        db.session.commit()
    org = org_of(app, w.applicant)

    # The grantee's administrator changes the account on the profile form.
    grantee = login_as(w.applicant)
    resp = grantee.submit(f"/grants/organisations/{org.id}/edit",
                          profile_form(bank_account_number=NEW_NUMBER, bank_account_holder="Espoir et Dignité"))
    assert resp.status_code == 302
    # The account in force is unchanged; the new one waits.
    assert org_of(app, w.applicant).bank_account_number == OLD_NUMBER
    assert changes(app, org.id)[-1] == ("pending", NEW_NUMBER)
    page = grantee.get(f"/grants/organisations/{org.id}").get_data(as_text=True)
    assert "•••• 3000" in page and NEW_NUMBER not in page
    # The approved payment is back to "requested", its approval void; nobody can approve or pay it meanwhile.
    assert status(app, d) == ("requested", None)
    third = api_as(make_user("finance_officer"))
    resp = third.post(f"/api/v1/disbursements/{d}/approve")
    assert resp.status_code == 409 and "held" in resp.get_json()["error"]["message"]
    # The administrators are told, in their language.
    with app.app_context():
        mail = db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "grants:bank_details_changed")
                                  ).scalars().all()
        assert [m.recipient for m in mail] == [db.session.get(User, w.applicant.id).email]
        assert "coordonnées bancaires" in mail[0].subject and "•••• 3000" in mail[0].body_text
        assert NEW_NUMBER not in mail[0].body_text
        # The audit trail names the change with masked numbers only.
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "organisation.bank_details_requested")
                                   ).scalar_one()
        assert NEW_NUMBER not in str(event.changes) and event.changes["voided_disbursements"] == [None, [d]]

    officer, officer2 = login_as(w.officer), login_as(w.officer2)
    change_id = db_change_id(app, org.id)
    url = f"/grants/bank-details/changes/{change_id}"
    assert f"/grants/bank-details/changes/{change_id}" in officer2.get("/grants/bank-details/pending").get_data(
        as_text=True)
    # The finance officer who requested the next payment may not verify the payee.
    resp = officer.submit(url, {"action": "verify", "callback_note": "Called Awa on +221 33 000 00 00"})
    assert resp.status_code == 403
    # A call-back must be noted.
    resp = officer2.submit(url, {"action": "verify", "callback_note": ""})
    assert resp.status_code == 422 and "f-callback_note" in resp.get_data(as_text=True)
    assert changes(app, org.id)[-1] == ("pending", NEW_NUMBER)
    resp = officer2.submit(url, {"action": "verify",
                                 "callback_note": "Called Awa Traoré on +221 33 000 00 00 (our records); confirmed"})
    assert resp.status_code == 302
    assert org_of(app, w.applicant).bank_account_number == NEW_NUMBER
    assert changes(app, org.id)[-1] == ("verified", NEW_NUMBER)

    # The verifier does not approve the first payment to the new account; a third officer does, then it is paid.
    resp = w.fo2.post(f"/api/v1/disbursements/{d}/approve")
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "four_eyes"
    assert third.post(f"/api/v1/disbursements/{d}/approve").status_code == 200
    assert w.fo.post(f"/api/v1/disbursements/{d}/pay", json=PAY).status_code == 200

    # The history: finance and auditors read it (numbers masked); the grantee does not.
    auditor = login_as("auditor")
    history = auditor.get(f"/grants/organisations/{org.id}/bank-details/history")
    text = history.get_data(as_text=True)
    assert history.status_code == 200 and "•••• 3000" in text and NEW_NUMBER not in text
    assert "our records" in text
    assert grantee.get(f"/grants/organisations/{org.id}/bank-details/history").status_code == 403
    # ... and through the API.
    versions = w.fo.get(f"/api/v1/organisations/{org.id}/bank-details/history").get_json()["items"]
    assert [(v["status"], v["bank_account_number"]) for v in versions] == [("verified", "•••• 3000"),
                                                                           ("applied", "•••• 5432")]
    assert "our records" in versions[0]["callback_note"] and versions[0]["decided_by_id"] == w.officer2.id
    assert w.ngo.get(f"/api/v1/organisations/{org.id}/bank-details/history").status_code == 403
    assert grantee.get(url).status_code == 403


def db_change_id(app, org_id: int) -> int:
    with app.app_context():
        return db.session.execute(select(BankDetailsChange.id).where(BankDetailsChange.organisation_id == org_id,
                                                                     BankDetailsChange.status == "pending")
                                  ).scalar_one()


def test_a_rejected_change_leaves_the_account_and_payments_resume(app, world, login_as):
    w = world()
    sign_and_countersign(w)
    d = request_and_approve(w)
    org = org_of(app, w.applicant)
    login_as(w.applicant).submit(f"/grants/organisations/{org.id}/edit",
                                 profile_form(bank_account_number=NEW_NUMBER))
    officer2 = login_as(w.officer2)
    url = f"/grants/bank-details/changes/{db_change_id(app, org.id)}"
    assert officer2.submit(url, {"action": "reject", "decision_note": ""}).status_code == 422
    resp = officer2.submit(url, {"action": "reject", "decision_note": "Nobody at the organisation asked for it"})
    assert resp.status_code == 302
    assert org_of(app, w.applicant).bank_account_number == OLD_NUMBER
    assert changes(app, org.id)[-1] == ("rejected", NEW_NUMBER)
    # Payments resume to the verified account (the one who approved before may approve again).
    assert w.fo2.post(f"/api/v1/disbursements/{d}/approve").status_code == 200
    # A decided change cannot be decided again.
    assert officer2.submit(url, {"action": "verify", "callback_note": "Called them back, all fine"}
                           ).status_code == 409


def test_the_new_holder_is_screened_against_the_sanctions_list(app, world, login_as):
    from grants.review import sanctions

    with app.app_context():
        sanctions.import_list(b"reference_number,type,name,aliases\nQDe.999,entity,Sunrise Placement Bureau,\n",
                              "list.csv")
        db.session.commit()
    w = world()
    org = org_of(app, w.applicant)
    login_as(w.applicant).submit(f"/grants/organisations/{org.id}/edit",
                                 profile_form(bank_account_number=NEW_NUMBER,
                                              bank_account_holder="Sunrise Placement Bureau"))
    change_id = db_change_id(app, org.id)  # pending: the grant awaits signature, money may still flow
    with app.app_context():
        matches = db.session.get(BankDetailsChange, change_id).sanctions_matches
    assert [m["reference_number"] for m in matches] == ["QDe.999"]
    page = login_as(w.officer2).get(f"/grants/bank-details/changes/{change_id}").get_data(as_text=True)
    assert "QDe.999" in page and NEW_NUMBER in page  # the verifier sees the full account (an audited view)
