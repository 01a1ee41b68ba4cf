"""Changes of payee: an organisation's bank account under four eyes.

The organisation's ``bank_*`` columns are the account that payments go to. Every version of them is kept in
:class:`grants.models.BankDetailsChange` (the bank-details history, read by finance officers and auditors).

- While the organisation has no grant (or only closed or terminated ones), a change of bank details takes
  effect at once (an ``applied`` version).
- Once a grant is awarded (pending signature, active or suspended), a change is only *requested*: a ``pending``
  version, screened at once against the UN sanctions list (the new holder's name). The verified account stays
  in force, and payments are **held**: no disbursement of the organisation is approved or paid while a change
  waits (:func:`payee_verified`, a guard of the disbursement workflow). Approved, unpaid disbursements go back
  to "requested" (their approval is void), and the organisation's administrators are e-mailed, each in their
  language, that their bank details were changed.
- A finance officer verifies the change by calling the organisation back on a number from our own records (the
  call is noted), or rejects it. The verifier may be neither the person who requested the change nor the finance
  officer who requested or changed a disbursement waiting for approval; and they may not approve the first
  payment to the new account either (:func:`not_the_payee_verifier`). A verified version becomes the
  organisation's account.

Every step writes an audit event with masked account numbers (:func:`mask`); none commits. The account is shown
masked, and in full only to a finance officer, each full view audited (:func:`bank_details`).
"""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import exists, func, select

from fund import audit
from fund.db import db, utcnow
from fund.errors import Conflict, FundError
from fund.models import FINANCE_OFFICER, User
from fund.views import external_url
from grants.models import BankDetailsChange, Organisation, OrganisationAdmin

#: Grant states in which money may still be paid to the organisation.
RUNNING_GRANT_STATES = ("pending_signature", "active", "suspended")
APPLIED, PENDING, VERIFIED, REJECTED, SUPERSEDED = "applied", "pending", "verified", "rejected", "superseded"
BANK_FIELDS = ("bank_account_holder", "bank_name", "bank_account_number", "bank_swift")


def mask(value: str | None, keep: int = 4) -> str | None:
    """``GB82WEST12345698765432`` -> ``•••• 5432``."""
    if not value:
        return value
    return "•••• " + value[-keep:] if len(value) > keep else "••••"


def masked_changes(changes: dict) -> dict:
    """Bank details never appear in clear in the audit trail."""
    for key in BANK_FIELDS:
        if key in changes:
            old, new = changes[key]
            changes[key] = [mask(old), mask(new)]
    return changes


def bank_details(org: Organisation, *, full: bool, actor: User | None = None) -> dict:
    """The bank account, masked; in full only for an allowed viewer, and every full view is audited."""
    values = {k: getattr(org, k) for k in BANK_FIELDS}
    if not full:
        return {"bank_account_holder": values["bank_account_holder"], "bank_name": values["bank_name"],
                "bank_account_number": mask(values["bank_account_number"]),
                "bank_swift": mask(values["bank_swift"], 3), "masked": True}
    audit.record("organisation.bank_details_viewed", org, actor=actor,
                 summary=f"Bank details of organisation {org.id} viewed by {getattr(actor, 'email', 'system')}")
    return {**values, "masked": False}


def masked(values: dict) -> dict:
    return {**values, "bank_account_number": mask(values.get("bank_account_number")),
            "bank_swift": mask(values.get("bank_swift"), 3)}


def has_running_grant(organisation_id: int) -> bool:
    from grants.awards.models import Grant

    return db.session.execute(
        select(exists().where(Grant.organisation_id == organisation_id, Grant.status.in_(RUNNING_GRANT_STATES)))
    ).scalar()


def pending_change(organisation_id: int) -> BankDetailsChange | None:
    return db.session.execute(
        select(BankDetailsChange).where(BankDetailsChange.organisation_id == organisation_id,
                                        BankDetailsChange.status == PENDING)
        .order_by(BankDetailsChange.id.desc()).limit(1)
    ).scalar_one_or_none()


def history(organisation_id: int) -> list[BankDetailsChange]:
    return list(db.session.execute(
        select(BankDetailsChange).where(BankDetailsChange.organisation_id == organisation_id)
        .order_by(BankDetailsChange.id.desc())
    ).scalars())


def _screen(holder: str | None) -> list[dict]:
    from grants.review.sanctions import find_matches

    return [m.as_dict() for m in find_matches({"bank_account_holder": holder})]


def record_initial(org: Organisation, actor: User | None) -> BankDetailsChange | None:
    """The first version of a new organisation's account (if it gave one)."""
    values = {k: getattr(org, k) for k in BANK_FIELDS}
    if not any(values.values()):
        return None
    change = BankDetailsChange(organisation_id=org.id, status=APPLIED, requested_by_id=getattr(actor, "id", None),
                               sanctions_matches=_screen(values["bank_account_holder"]), **values)
    db.session.add(change)
    db.session.flush()
    return change


def change_bank_details(org: Organisation, new: dict, actor: User) -> BankDetailsChange | None:
    """Change the organisation's bank account (``new`` holds the bank fields that were given).

    Without a running grant the change applies at once; with one it waits for a finance officer (see the module
    documentation). Returns the version written, or None when nothing changed."""
    current = {k: getattr(org, k) for k in BANK_FIELDS}
    wanted = {**current, **{k: v for k, v in new.items() if k in BANK_FIELDS and v not in (None, "")}}
    waiting = pending_change(org.id)
    baseline = {k: getattr(waiting, k) for k in BANK_FIELDS} if waiting else current
    if wanted == baseline:
        return None
    if not has_running_grant(org.id):
        change = BankDetailsChange(organisation_id=org.id, status=APPLIED, requested_by_id=actor.id,
                                   sanctions_matches=_screen(wanted["bank_account_holder"]), **wanted)
        db.session.add(change)
        for key, value in wanted.items():
            setattr(org, key, value)
        db.session.flush()
        audit.record("organisation.bank_details_applied", org, actor=actor,
                     summary=f"Bank details of organisation {org.id} changed (no running grant)",
                     changes=_masked_new(current, wanted))
        return change

    if waiting is not None:
        waiting.status, waiting.decided_at = SUPERSEDED, utcnow()
    change = BankDetailsChange(organisation_id=org.id, status=PENDING, requested_by_id=actor.id,
                               sanctions_matches=_screen(wanted["bank_account_holder"]), **wanted)
    db.session.add(change)
    db.session.flush()
    voided = _void_approvals(org.id, actor)
    audit.record("organisation.bank_details_requested", change, actor=actor,
                 summary=f"Change of bank details of organisation {org.id} requested: payments held until a finance "
                         f"officer verifies it"
                         + (f"; {len(voided)} approved disbursement(s) back to requested" if voided else "")
                         + (f"; {len(change.sanctions_matches)} possible sanctions match(es)"
                            if change.sanctions_matches else ""),
                 changes=_masked_new(current, wanted) | {"voided_disbursements": [None, voided],
                                                          "superseded": [None, getattr(waiting, "id", None)]})
    _mail_admins(org, change)
    return change


def _masked_new(old: dict, new: dict) -> dict:
    old_m, new_m = masked(old), masked(new)
    return {k: [old_m[k], new_m[k]] for k in BANK_FIELDS if old[k] != new[k]}


#: What a requested change of bank details does to the money already on its way, registered at start-up by the
#: packages that hold it (grants.awards: approved, unpaid disbursements go back to "requested"). Each listener takes
#: the organisation's id and the actor and returns the ids of the disbursements it voided.
BANK_CHANGE_LISTENERS: list = []


def on_bank_details_change(listener) -> None:
    if listener not in BANK_CHANGE_LISTENERS:
        BANK_CHANGE_LISTENERS.append(listener)


def _void_approvals(organisation_id: int, actor: User) -> list[int]:
    return [i for listener in BANK_CHANGE_LISTENERS for i in listener(organisation_id, actor)]


def _mail_admins(org: Organisation, change: BankDetailsChange) -> None:
    from flask import render_template

    from fund.mail import queue_mail

    admins = db.session.execute(
        select(User).join(OrganisationAdmin, OrganisationAdmin.user_id == User.id)
        .where(OrganisationAdmin.organisation_id == org.id, User.active.is_(True)).order_by(User.id)
    ).scalars().all()
    link = external_url("grants.organisation", organisation_id=org.id)
    for admin in admins:
        with force_locale(admin.language or "en"):
            subject = _("The bank details of %(name)s were changed", name=org.name)
            body = render_template("grants/mail/bank_details_changed.txt", org=org, change=change,
                                   number=mask(change.bank_account_number), link=link)
        queue_mail(admin.email, subject, body=body, kind="grants:bank_details_changed")


def _load_pending(change: BankDetailsChange) -> None:
    db.session.refresh(change, with_for_update=True)
    if change.status != PENDING:
        raise Conflict(_("This change of bank details has already been decided."), code="bank_change_decided")


def _check_verifier(change: BankDetailsChange, actor: User) -> None:
    from grants.awards.models import Disbursement, Grant

    if not actor.has_any_role(FINANCE_OFFICER):
        raise FundError(_("Only finance officers verify changes of bank details."), status=403, code="forbidden")
    if actor.id == change.requested_by_id:
        raise FundError(_("You requested this change: another finance officer must verify it."), status=403,
                        code="four_eyes")
    requested_next = db.session.execute(
        select(exists().where(Disbursement.grant_id == Grant.id, Grant.organisation_id == change.organisation_id,
                              Disbursement.status == "requested",
                              (Disbursement.requested_by_id == actor.id) | (Disbursement.edited_by_id == actor.id)))
    ).scalar()
    if requested_next:
        raise FundError(_("You requested the next payment to this organisation: another finance officer must "
                          "verify its bank details."), status=403, code="four_eyes")


def verify_change(change: BankDetailsChange, actor: User, callback_note: str) -> BankDetailsChange:
    """A finance officer confirms the change after calling the organisation back; it becomes the account."""
    _check_verifier(change, actor)
    note = (callback_note or "").strip()
    if len(note) < 10:
        raise FundError(_("Say whom you called, at which number from our records, and what they confirmed."),
                        fields={"callback_note": [_("Describe the call-back (at least 10 characters).")]})
    _load_pending(change)
    org = db.session.get(Organisation, change.organisation_id)
    old = {k: getattr(org, k) for k in BANK_FIELDS}
    new = {k: getattr(change, k) for k in BANK_FIELDS}
    change.sanctions_matches = _screen(new["bank_account_holder"])
    for key, value in new.items():
        setattr(org, key, value)
    change.status, change.decided_by_id, change.decided_at = VERIFIED, actor.id, utcnow()
    change.callback_note = note[:2000]
    db.session.flush()
    audit.record("organisation.bank_details_verified", change, actor=actor,
                 summary=f"Change of bank details of organisation {org.id} verified by call-back; payments resume "
                         f"to the new account",
                 changes=_masked_new(old, new) | {"callback_note": [None, change.callback_note],
                                                  "sanctions_matches": [None, len(change.sanctions_matches)]})
    return change


def reject_change(change: BankDetailsChange, actor: User, reason: str) -> BankDetailsChange:
    """A finance officer refuses the change; the verified account stays, and payments resume to it."""
    _check_verifier(change, actor)
    reason = (reason or "").strip()
    if not reason:
        raise FundError(_("Say why the change is rejected."), fields={"decision_note": [_("This field is required.")]})
    _load_pending(change)
    change.status, change.decided_by_id, change.decided_at = REJECTED, actor.id, utcnow()
    change.decision_note = reason[:2000]
    db.session.flush()
    audit.record("organisation.bank_details_rejected", change, actor=actor,
                 summary=f"Change of bank details of organisation {change.organisation_id} rejected",
                 changes={"status": [PENDING, REJECTED], "reason": [None, change.decision_note]})
    return change


# Guards of the disbursement workflow ------------------------------------------------------------------------------

def payments_held() -> str:
    return _("The organisation's bank details were changed and wait for verification by a finance officer: "
             "payments are held until then.")


def organisations_with_pending_change(organisation_ids) -> set[int]:
    """Which of these organisations have a change of bank details waiting (one statement, for lists)."""
    ids = sorted(set(organisation_ids))
    if not ids:
        return set()
    return set(db.session.execute(select(BankDetailsChange.organisation_id).where(
        BankDetailsChange.organisation_id.in_(ids), BankDetailsChange.status == PENDING)).scalars())


def payee_verified(d, actor, data) -> list[str]:
    """No payment is approved or paid while a change of the organisation's bank details waits."""
    from grants.awards.models import Grant

    org_id = db.session.execute(select(Grant.organisation_id).where(Grant.id == d.grant_id)).scalar_one()
    if pending_change(org_id) is not None:
        raise Conflict(payments_held(), code="payee_unverified")
    return []


def not_the_payee_verifier(d, actor, data) -> list[str]:
    """Whoever verified the organisation's current account does not approve the first payment to it."""
    from grants.awards.models import Disbursement, Grant

    org_id = db.session.execute(select(Grant.organisation_id).where(Grant.id == d.grant_id)).scalar_one()
    last = db.session.execute(
        select(BankDetailsChange).where(BankDetailsChange.organisation_id == org_id,
                                        BankDetailsChange.status.in_((VERIFIED, APPLIED)))
        .order_by(BankDetailsChange.id.desc()).limit(1)
    ).scalar_one_or_none()
    if last is None or last.status != VERIFIED or last.decided_by_id != actor.id:
        return []
    paid_since = db.session.execute(
        select(func.count()).select_from(Disbursement).join(Grant, Grant.id == Disbursement.grant_id)
        .where(Grant.organisation_id == org_id, Disbursement.paid_at > last.decided_at)
    ).scalar_one()
    if not paid_since:
        raise FundError(_("You verified this organisation's new bank details: another finance officer approves "
                          "the first payment to them."), status=403, code="four_eyes")
    return []

