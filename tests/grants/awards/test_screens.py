"""What each reader sees of a grant on the portal: the grantee (its grant and the next step, people named by their
role, history in sentences, in English and French), the finance officers (the approval queue says why a payment
cannot be approved, and a refused approval is in the audit trail)."""

from __future__ import annotations

import html
import io
import re

from sqlalchemy import select

from fund.db import db
from grants.awards.models import Disbursement
from tests.grants.awards.conftest import PDF, sign_and_countersign


def french(app, client):
    """The client's user reads the portal in French (the account's language wins over the session's)."""
    from fund.models import User

    with app.app_context():
        db.session.get(User, client.user.id).language = "fr"
        db.session.commit()
    return client


def text(resp) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", resp.get_data(as_text=True))))


def test_the_portal_shows_an_awarded_grant_waiting_for_the_organisations_signature(app, world, login_as):
    w = world()
    number = w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()["number"]
    client = login_as(w.applicant)
    home = text(client.get("/grants/portal"))
    assert number in home
    assert "will appear here once a grant is awarded" not in home
    assert "Awarded: awaiting your signature" in home
    assert "Next step: sign the agreement" in home
    assert f'href="/grants/awards/{w.grant_id}"' in client.get("/grants/portal").get_data(as_text=True)
    # The application's status says what happened, not "Decision".
    row = re.search(r"<tbody>.*?</tbody>", client.get("/grants/portal").get_data(as_text=True), re.S).group(0)
    assert ">Decision<" not in row and "awaiting your signature" in row
    # The grantee's dashboard says the same.
    assert "Next step: sign the agreement" in text(client.get("/grants/awards/"))

    resp = w.ngo.post(f"/api/v1/grants/{w.grant_id}/agreement", data={"file": (io.BytesIO(PDF), "signed.pdf")},
                      content_type="multipart/form-data")
    assert resp.status_code == 200
    home = text(client.get("/grants/portal"))
    assert "awaiting the fund's countersignature" in home and "Next step: sign the agreement" not in home
    assert w.fm.post(f"/api/v1/grants/{w.grant_id}/countersign").status_code == 200
    home = text(client.get("/grants/portal"))
    assert "Active" in home and "Next step: the interim report is due on" in home

    # Another organisation's applicant sees none of it.
    assert number not in text(login_as(w.other_applicant).get("/grants/portal"))


def test_the_portal_in_french(app, world, login_as):
    w = world()
    client = login_as(w.applicant)
    french(app, client)
    home = text(client.get("/grants/portal"))
    assert "Accordée : en attente de votre signature" in home
    assert "Prochaine étape : signer l'accord" in home


def _audit_events(app, action: str) -> list:
    from fund.audit import AuditEvent

    with app.app_context():
        return [(e.actor_id, e.entity_id, e.summary) for e in db.session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).scalars()]


def test_the_approval_queue_says_why_a_payment_cannot_be_approved_and_offers_no_button(app, world, login_as):
    w = world()
    sign_and_countersign(w)
    first = w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 1, "amount": "26950.00"})
    second = w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 2, "amount": "11550.00"})
    assert first.status_code == second.status_code == 201, second.get_json()
    first, second = first.get_json()["id"], second.get_json()["id"]
    colleague = login_as(w.officer2)
    queue = colleague.get("/grants/awards/finance/approvals").get_data(as_text=True)
    assert f"disbursements/{first}/approve" in queue  # its condition (signature) is met
    assert f"disbursements/{second}/approve" not in queue  # no live button for the other one ...
    blocked = re.search(rf'<div class="blocked" id="blocked-{second}">.*?</div>', queue, re.S).group(0)
    assert "Cannot be approved yet" in blocked and "the interim report has not been accepted" in blocked
    # ... nor on the grant's page, which sends to the queue for both (the queue checks the rules for its list).
    grant_page = colleague.get(f"/grants/awards/{w.grant_id}").get_data(as_text=True)
    assert "/approve" not in grant_page
    assert f'href="/grants/awards/finance/approvals#disbursement-{second}"' in grant_page
    assert f'href="/grants/awards/finance/approvals#disbursement-{first}"' in grant_page
    assert f'<tr id="disbursement-{second}">' in queue

    # The operation refuses anyway (a form kept open in another tab), says why, and the refusal is audited
    # although the approval rolled back.
    resp = colleague.submit(f"/grants/awards/disbursements/{second}/approve",
                            {"next": "/grants/awards/finance/approvals"}, page="/grants/awards/finance/approvals")
    assert resp.status_code == 409
    assert "the interim report has not been accepted" in text(resp)
    with app.app_context():
        assert db.session.get(Disbursement, second).status == "requested"
    refused = _audit_events(app, "disbursement.approve_refused")
    assert len(refused) == 1
    actor_id, entity_id, summary = refused[0]
    assert (actor_id, entity_id) == (w.officer2.id, str(second))
    assert "refused" in summary and "the interim report has not been accepted" in summary
    assert _audit_events(app, "disbursement.approve") == []

    # Through the API too; the four-eyes refusal as well; the chain still verifies.
    assert w.fo2.post(f"/api/v1/disbursements/{second}/approve").status_code == 409
    assert w.fo.post(f"/api/v1/disbursements/{first}/approve").status_code == 403
    refused = _audit_events(app, "disbursement.approve_refused")
    assert [(a, e) for a, e, _s in refused] == [(w.officer2.id, str(second)), (w.officer2.id, str(second)),
                                                (w.officer.id, str(first))]
    assert "a different finance officer must approve it" in refused[-1][2]
    from fund import audit

    with app.app_context():
        assert audit.verify().ok


def test_the_refusal_is_written_in_english_for_a_french_reader(app, world, login_as):
    w = world()
    sign_and_countersign(w)
    second = w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 2, "amount": "11550.00"}
                       ).get_json()["id"]
    colleague = french(app, login_as(w.officer2))
    queue = text(colleague.get("/grants/awards/finance/approvals"))
    assert "Ne peut pas encore être approuvé" in queue and "le rapport intermédiaire n'a pas été accepté" in queue
    resp = colleague.submit(f"/grants/awards/disbursements/{second}/approve", {},
                            page="/grants/awards/finance/approvals")
    assert resp.status_code == 409
    assert "the interim report has not been accepted" in _audit_events(app, "disbursement.approve_refused")[0][2]


PAY = {"payment_reference": "BANK-1", "paid_on": "2026-01-05"}


def _paid_and_cancelled(w) -> tuple[int, int]:
    sign_and_countersign(w)
    first = w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 1, "amount": "26950.00"}
                      ).get_json()["id"]
    assert w.fo2.post(f"/api/v1/disbursements/{first}/approve").status_code == 200
    assert w.fo.post(f"/api/v1/disbursements/{first}/pay", json=PAY).status_code == 200
    second = w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 2, "amount": "11550.00"}
                       ).get_json()["id"]
    assert w.fo.post(f"/api/v1/disbursements/{second}/cancel", json={}).status_code == 200
    return first, second


def test_the_grantee_reads_roles_and_sentences_not_staff_addresses_and_workflow_lines(app, world, login_as):
    w = world()
    first, second = _paid_and_cancelled(w)
    page = login_as(w.applicant).get(f"/grants/awards/{w.grant_id}")
    body, words = page.get_data(as_text=True), text(page)
    for staff in (w.officer, w.officer2, w.manager):
        assert staff.email not in body
    assert "Fund finance team" in words and "Fund secretariat" in words
    for sentence in ("Agreement countersigned by the fund: the grant is active", f"Payment request {first} made",
                     f"Payment request {first} approved", f"Payment {first} made",
                     f"Payment request {second} cancelled"):
        assert sentence in words, sentence
    assert "requested -> cancelled" not in words and "(requested → cancelled)" not in words
    assert "disbursement " not in words
    # A paid tranche reads as approved and paid, not "approved 0.00".
    row = re.search(r"<caption>Payment schedule</caption>.*?<tr><td>1</td>(.*?)</tr>", body, re.S).group(1)
    assert re.findall(r'<td class="num">([\d,.]+)', row)[:3] == ["26,950.00", "26,950.00", "26,950.00"]

    # Staff still see who did what.
    staff_page = login_as(w.manager).get(f"/grants/awards/{w.grant_id}").get_data(as_text=True)
    assert w.officer.email in staff_page and w.officer2.email in staff_page


def test_the_grants_history_in_french(app, world, login_as):
    w = world()
    first, second = _paid_and_cancelled(w)
    words = text(french(app, login_as(w.applicant)).get(f"/grants/awards/{w.grant_id}"))
    for sentence in (f"Demande de paiement {second} annulée", f"Paiement {first} effectué",
                     "Équipe financière du Fonds", "Secrétariat du Fonds"):
        assert sentence in words, sentence


def test_ledger_descriptions_are_translated_on_screen_and_stored_unchanged(app, world, login_as):
    from fund.accounting import ledger

    w = world()
    first, _second = _paid_and_cancelled(w)
    number = w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()["number"]
    with app.app_context():
        d = db.session.get(Disbursement, first)
        stored = db.session.get(ledger.JournalEntry, d.ledger_entry_id).description
        descriptions = list(db.session.execute(select(ledger.JournalEntry.description)).scalars())
    assert stored == f"Tranche 1 of grant {number}, payment BANK-1"  # the ledger keeps its English row
    officer = french(app, login_as(w.officer))
    page = officer.get("/finance/ledger").get_data(as_text=True)
    cells = [html.unescape(c) for c in re.findall(r"</td><td>([^<]*)</td>\s*<td><ul class=\"postings\">", page)]
    assert f"Tranche 1 de la subvention {number}, paiement BANK-1" in cells
    assert len(cells) == len(descriptions) and not set(cells) & set(descriptions)  # every one of them translated
    entry_page = text(officer.get(f"/finance/ledger/{d.ledger_entry_id}"))
    assert f"Tranche 1 de la subvention {number}, paiement BANK-1" in entry_page


def test_the_payments_screen_says_why_a_payment_cannot_be_recorded(app, world, login_as):
    w = world()
    sign_and_countersign(w)
    d = w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 1, "amount": "26950.00"}
                  ).get_json()["id"]
    assert w.fo2.post(f"/api/v1/disbursements/{d}/approve").status_code == 200
    officer = login_as(w.officer)
    assert f"disbursements/{d}/pay" in officer.get("/grants/awards/finance/payments").get_data(as_text=True)
    assert w.fm.post(f"/api/v1/grants/{w.grant_id}/suspend", json={"message": "Audit finding."}).status_code == 200
    page = officer.get("/grants/awards/finance/payments").get_data(as_text=True)
    assert f"disbursements/{d}/pay" not in page
    blocked = text_of(re.search(rf'<div class="blocked" id="blocked-{d}">.*?</div>', page, re.S).group(0))
    assert "The payment cannot be recorded yet" in blocked and "The grant is suspended" in blocked
    grant_page = officer.get(f"/grants/awards/{w.grant_id}").get_data(as_text=True)
    assert f"disbursements/{d}/pay" not in grant_page
    assert f'href="/grants/awards/finance/payments#disbursement-{d}"' in grant_page
    assert w.fm.post(f"/api/v1/grants/{w.grant_id}/resume").status_code == 200
    assert f"disbursements/{d}/pay" in officer.get("/grants/awards/finance/payments").get_data(as_text=True)


def text_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment)))


def test_the_application_page_of_an_awarded_application_shows_its_grant(app, world, login_as):
    w = world()
    with app.app_context():
        from grants.awards.models import Grant

        grant = db.session.get(Grant, w.grant_id)
        application_id, number = grant.application_id, grant.number
    page = text(login_as(w.applicant).get(f"/grants/applications/{application_id}"))
    assert "Status: Awarded: awaiting your signature" in page
    assert f"Grant {number}" in page and "Next step: sign the agreement" in page
    staff = text(login_as(w.manager).get(f"/grants/applications/{application_id}"))
    assert "awaiting your signature" not in staff


def test_a_refund_is_confirmed_in_formatted_money(app, world, login_as):
    w = world()
    first, _second = _paid_and_cancelled(w)
    officer = french(app, login_as(w.officer))
    resp = officer.submit(f"/grants/awards/{w.grant_id}/refunds",
                          {"amount": "1500", "currency": "USD", "received_on": "2026-02-01",
                           "bank_reference": "RF-1"}, page=f"/grants/awards/{w.grant_id}")
    assert resp.status_code == 302, text(resp)[:3000]
    assert re.search(r"Le remboursement de 1\s500,00 USD a été enregistré", text(officer.get(resp.headers["Location"])))


def test_the_grant_page_tells_its_organisation_whose_move_it_is(app, world, login_as):
    w = world()
    page = text(login_as(w.applicant).get(f"/grants/awards/{w.grant_id}"))
    assert "Status: Awarded: awaiting your signature" in page and "Next step: sign the agreement" in page
    staff = text(login_as(w.manager).get(f"/grants/awards/{w.grant_id}"))
    assert "Status: Pending signature" in staff and "Next step" not in staff


def test_the_queue_says_payments_are_held_while_new_bank_details_wait(app, world, login_as):
    from tests.grants.awards.test_payee import NEW_NUMBER, org_of, profile_form, request_and_approve

    w = world()
    sign_and_countersign(w)
    d = request_and_approve(w)
    org = org_of(app, w.applicant)
    resp = login_as(w.applicant).submit(f"/grants/organisations/{org.id}/edit",
                                        profile_form(bank_account_number=NEW_NUMBER,
                                                     bank_account_holder="Association Espoir"))
    assert resp.status_code == 302
    # The approval is void; in the queue of a colleague, no button but the reason.
    queue = login_as(w.officer2).get("/grants/awards/finance/approvals").get_data(as_text=True)
    assert f"disbursements/{d}/approve" not in queue
    blocked = text_of(re.search(rf'<div class="blocked" id="blocked-{d}">.*?</div>', queue, re.S).group(0))
    assert "bank details were changed and wait for verification" in blocked


def test_the_queue_says_when_a_request_would_take_a_tranche_past_its_amount(app, world, login_as):
    w = world()
    sign_and_countersign(w)
    a = w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 1, "amount": "20000.00"}
                  ).get_json()["id"]
    assert w.fo2.post(f"/api/v1/disbursements/{a}/approve").status_code == 200
    b = w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 1, "amount": "10000.00"})
    assert b.status_code == 201, b.get_json()
    b = b.get_json()["id"]
    colleague = login_as(w.officer2)
    queue = colleague.get("/grants/awards/finance/approvals").get_data(as_text=True)
    assert f"disbursements/{b}/approve" not in queue
    blocked = text_of(re.search(rf'<div class="blocked" id="blocked-{b}">.*?</div>', queue, re.S).group(0))
    assert "would take tranche 1 to USD 30000.00, more than its USD 26950.00" in blocked
    # The same rule as the operation's.
    resp = w.fo2.post(f"/api/v1/disbursements/{b}/approve")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "tranche_exceeded"
    # The approved one can be paid.
    assert f"disbursements/{a}/pay" in colleague.get("/grants/awards/finance/payments").get_data(as_text=True)
