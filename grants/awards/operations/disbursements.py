"""Disbursements: requested by a finance officer, approved by another, paid, cancelled or failed, each
under the fund lock against the tranche, the award and the cash.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from fund import audit
from fund.accounting import ledger
from fund.db import db, utcnow
from fund.errors import Conflict, FundError
from fund.i18n import translate as _
from fund.models import User
from grants.awards.models import Disbursement, Grant, Tranche
from grants.awards.operations.shared import grant_status_label, mail_grantee, relock, usd_amount
from grants.awards.workflow import DISBURSEMENT_WORKFLOW, approval_blockers, committed_amounts

# Disbursements ------------------------------------------------------------------------------------------------

def tranche_of(grant: Grant, number: int) -> Tranche:
    tranche = next((t for t in grant.tranches if t.number == number), None)
    if tranche is None:
        raise FundError(_("This grant has no tranche %(n)d.", n=number),
                        fields={"tranche": [_("This grant has tranches %(list)s.",
                                              list=", ".join(str(t.number) for t in grant.tranches))]})
    return tranche


def request_disbursement(grant: Grant, tranche_number: int, amount: Decimal, actor: User,
                         note: str | None = None) -> Disbursement:
    """A finance officer requests the payment of (part of) a tranche: the tranche's scheduled disbursement
    becomes "requested", or a new request is added for a further part of the tranche."""
    amount = usd_amount(amount, "amount")
    relock(grant)
    if grant.status != "active":
        raise Conflict(_("Payments are requested for active grants only (this one is “%(status)s”).",
                         status=grant_status_label(grant.status)), code="grant_not_active")
    tranche = tranche_of(grant, tranche_number)
    paid = committed_amounts(grant.id, tranche_id=tranche.id, statuses=("paid",))
    if amount > tranche.amount - paid:
        raise Conflict(_("At most USD %(left)s of tranche %(n)d is left to pay.", left=tranche.amount - paid,
                         n=tranche.number),
                       fields={"amount": [_("At most USD %(left)s.", left=tranche.amount - paid)]},
                       code="tranche_exceeded")
    d = db.session.execute(select(Disbursement).where(
        Disbursement.tranche_id == tranche.id, Disbursement.status == "scheduled").order_by(Disbursement.id)
    ).scalars().first()
    if d is None:
        d = Disbursement(grant_id=grant.id, tranche_id=tranche.id, amount=amount, currency="USD",
                         status="scheduled")
        db.session.add(d)
        db.session.flush()
    old_amount = d.amount
    d.amount, d.requested_by_id, d.requested_at, d.note = amount, actor.id, utcnow(), note
    DISBURSEMENT_WORKFLOW.fire(d, "request", actor)
    audit.record("disbursement.requested", d, actor=actor,
                 summary=f"Payment of USD {amount} requested for tranche {tranche.number} of grant {grant.number}",
                 changes={"amount": [str(old_amount), str(amount)], "requested_by_id": [None, actor.id]})
    return d


def edit_disbursement(d: Disbursement, amount: Decimal, actor: User, note: str | None = None) -> Disbursement:
    """Change a request's amount. Any approval is void: it goes back to "requested", and neither the requester
    nor the editor may approve it."""
    amount = usd_amount(amount, "amount")
    relock(d)
    old = {"amount": str(d.amount), "approved_by_id": d.approved_by_id}
    was = d.status
    DISBURSEMENT_WORKFLOW.fire(d, "edit", actor, message=note)
    d.amount, d.edited_by_id, d.edited_at = amount, actor.id, utcnow()
    d.approved_by_id, d.approved_at = None, None
    if note is not None:
        d.note = note
    db.session.flush()
    audit.record("disbursement.edited", d, actor=actor,
                 summary=f"Disbursement {d.id} changed to USD {amount}"
                         + (" (its approval is void)" if was == "approved" else ""),
                 changes={"amount": [old["amount"], str(amount)], "approved_by_id": [old["approved_by_id"], None]})
    return d


def approve_disbursement(d: Disbursement, actor: User) -> Disbursement:
    """A second finance officer approves, under the fund lock: the tranche's condition is met, paid + approved
    stay within the award and the tranche, cash covers it, the grant is active (409 otherwise)."""
    relock(d)
    DISBURSEMENT_WORKFLOW.fire(d, "approve", actor)
    d.approved_by_id, d.approved_at = actor.id, utcnow()
    db.session.flush()
    return d


def record_refused_approval(disbursement_id: int, actor: User, refusal: FundError):
    """Keep a refused approval in the audit trail: who tried to approve which payment, and why it was refused.

    The approval's own transaction has rolled back (its audit event with it), so the caller calls this after
    the rollback and commits it as a transaction of its own: :func:`fund.audit.record` takes the chain's head
    under its lock, so the hash chain holds. The reasons are written in English, whatever the reader's
    language (the guards are evaluated again for that, without the fund lock)."""
    from flask_babel import force_locale

    d = db.session.get(Disbursement, disbursement_id)
    grant = db.session.get(Grant, d.grant_id)
    with force_locale("en"):
        reasons = approval_blockers(d, actor) if d.status == "requested" else []
    reason = " ".join(reasons) or refusal.message
    return audit.record(
        "disbursement.approve_refused", d, actor=actor,
        summary=f"Approval of disbursement {d.id} (USD {d.amount}, tranche {d.tranche.number} of grant "
                f"{grant.number}) refused: {reason}",
        changes={"refused": [None, refusal.code or str(refusal.status)], "status": [d.status, d.status]})


def pay_disbursement(d: Disbursement, payment_reference: str, paid_on: dt.date, actor: User) -> Disbursement:
    """Record the payment (reference and value date): the guards again, under the fund lock, then the ledger
    posts grants payable -> cash and charges PSC."""
    relock(d)
    grant = db.session.get(Grant, d.grant_id)
    with db.session.begin_nested():
        DISBURSEMENT_WORKFLOW.fire(d, "pay", actor, payment_reference=payment_reference, paid_on=paid_on)
        posted = ledger.pay_disbursement(
            d.grant_id, d.amount, value_date=paid_on, actor=actor,
            description=f"Tranche {d.tranche.number} of grant {grant.number}, payment {payment_reference}")
        d.payment_reference, d.paid_on = payment_reference.strip(), paid_on
        d.paid_by_id, d.paid_at = actor.id, utcnow()
        d.ledger_entry_id, d.psc_usd = posted.entry.id, posted.psc_usd
        db.session.flush()
    audit.record("disbursement.paid", d, actor=actor,
                 summary=f"USD {d.amount} paid to grant {grant.number} (ref. {d.payment_reference}, value date "
                         f"{paid_on.isoformat()}), ledger entry {posted.entry.id}, PSC USD {posted.psc_usd}",
                 changes={"payment_reference": [None, d.payment_reference], "paid_on": [None, paid_on.isoformat()],
                          "ledger_entry_id": [None, posted.entry.id]})
    mail_grantee(grant, "paid", lambda: _("Payment to grant %(number)s", number=grant.number), disbursement=d)
    return d


def cancel_disbursement(d: Disbursement, actor: User, message: str | None = None) -> Disbursement:
    relock(d)
    return DISBURSEMENT_WORKFLOW.fire(d, "cancel", actor, message=message)


def fail_disbursement(d: Disbursement, actor: User, message: str) -> Disbursement:
    """A payment that did not reach the grantee: an approved one is marked failed; a paid one is also reversed
    in the ledger (cash and the commitment come back, PSC is recomputed)."""
    relock(d)
    was = d.status
    DISBURSEMENT_WORKFLOW.fire(d, "fail", actor, message=message)
    if was == "paid" and d.ledger_entry_id is not None:
        ledger.reverse_entry(d.ledger_entry_id, reason=f"Payment failed: {message}", actor=actor)
    return d


@ledger.on_reversal(ledger.DISBURSEMENT)
def _disbursement_reversed(original, reversal) -> None:
    """A disbursement entry reversed from the ledger browser: its disbursement is failed too."""
    d = db.session.execute(select(Disbursement).where(Disbursement.ledger_entry_id == original.id)
                           ).scalar_one_or_none()
    if d is None or d.status != "paid":
        return
    actor = db.session.get(User, reversal.created_by_id) if reversal.created_by_id else None
    DISBURSEMENT_WORKFLOW.fire(d, "reverse", actor, message=f"Ledger entry {original.id} reversed")


def void_approvals(organisation_id: int, actor) -> list[int]:
    """Approved, unpaid disbursements of the organisation's grants go back to "requested" when its bank details
    change (registered with :func:`grants.payee.on_bank_details_change`)."""
    approved = db.session.execute(
        select(Disbursement).join(Grant, Grant.id == Disbursement.grant_id)
        .where(Grant.organisation_id == organisation_id, Disbursement.status == "approved")
        .order_by(Disbursement.id).with_for_update(of=Disbursement)
    ).scalars().all()
    for d in approved:
        DISBURSEMENT_WORKFLOW.fire(d, "payee_changed", actor,
                                   message="The organisation's bank details changed: the approval is void.")
        d.approved_by_id, d.approved_at = None, None
    db.session.flush()
    return [d.id for d in approved]
