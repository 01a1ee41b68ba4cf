"""A grant's life: creation on the Board's approval, the agreement, suspension, termination, closure, the
tranche schedule, the approved budget and refunds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select

from fund import audit
from fund.accounting import ledger
from fund.accounting.figures import grant_figures
from fund.db import db, utcnow
from fund.errors import Conflict, FundError
from fund.i18n import translate as _
from fund.models import User
from grants.awards.agreement import check_agreement
from grants.awards.models import (
    FINAL,
    INTERIM,
    INTERIM_ACCEPTED,
    SIGNATURE,
    Disbursement,
    Grant,
    GrantBudgetLine,
    GrantRefund,
    GrantReport,
    ReportExpense,
    Tranche,
)
from grants.awards.operations.shared import (
    DEFAULT_SCHEDULE,
    FINAL_REPORT_DAYS,
    TRANCHE_AFTER_REPORT_DAYS,
    ZERO,
    add_months,
    approved_budget,
    attach_document,
    grant_status_label,
    lock_row,
    mail_grantee,
    next_grant_number,
    relock,
    split_largest_remainder,
    usd_amount,
)
from grants.awards.workflow import DISBURSEMENT_WORKFLOW, GRANT_WORKFLOW
from grants.models import Application

# Creation (called by the Board's approval) ---------------------------------------------------------------------

def create_grant(application: Application, amount_usd: Decimal, *, actor: User,
                 schedule: Sequence[tuple[Decimal, str]] | None = None) -> Grant:
    """Create the grant of an approved application and commit its money in the ledger.

    The grant starts "pending_signature" with the next number of the year (VTF/2027/014), the organisation,
    the amount, start and end dates from the application, the application's budget lines as the approved
    budget (scaled to the award when the Board approved another amount than requested: :func:`approved_budget`),
    the tranche schedule (default 70 % on signature, 30 % after the interim report is accepted, split by
    largest remainder so the tranches sum exactly to the award) and the report schedule (interim at mid-term,
    final within 60 days of the end). The commitment is posted with :func:`fund.accounting.ledger.commit_grant`: a
    :class:`Conflict` (409) when it exceeds the available balance, and then nothing of the grant is written
    (the work runs in a savepoint). The application's own workflow is left to the caller."""
    amount = usd_amount(amount_usd)
    if application.status not in ("recommended", "reserve", "approved"):
        raise Conflict(_("Only a recommended, reserve-listed or approved application can become a grant."),
                       code="not_approvable")
    ledger.lock_fund()  # the fund lock before anything else, as the ledger functions take it
    existing = db.session.execute(select(Grant.id).where(Grant.application_id == application.id)).first()
    if existing is not None:
        raise Conflict(_("This application already has a grant."), code="grant_exists")
    with db.session.begin_nested():
        grant = _build_grant(application, amount, actor, schedule or DEFAULT_SCHEDULE)
        entry = ledger.commit_grant(grant.id, amount, actor=actor,
                                    description=f"Grant {grant.number} committed")
    audit.record("grant.create", grant, actor=actor,
                 summary=f"Grant {grant.number} of USD {amount} to organisation {grant.organisation_id} "
                         f"(application {application.id}); commitment posted as ledger entry {entry.id}",
                 changes={"number": [None, grant.number], "amount": [None, str(amount)],
                          "status": [None, grant.status],
                          "budget": [[str(line.total) for line in application.budget_lines],
                                     [str(b.amount) for b in grant.budget_lines]],
                          "tranches": [None, [[t.number, str(t.amount), t.condition] for t in grant.tranches]],
                          "reports": [None, [[r.kind, r.due_on.isoformat()] for r in grant.reports]]})
    return grant


def _build_grant(application: Application, amount: Decimal, actor: User,
                 schedule: Sequence[tuple[Decimal, str]]) -> Grant:
    start = application.start_date or utcnow().date()
    months = application.duration_months or 12
    end = add_months(start, months) - dt.timedelta(days=1)
    mid = start + (end - start) / 2
    grant = Grant(
        number=next_grant_number(utcnow().year), application_id=application.id,
        organisation_id=application.organisation_id, title=application.project_title or application.reference or "",
        currency="USD", amount=amount, start_date=start, end_date=end, status="pending_signature",
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(grant)
    amounts = approved_budget(amount, [line.total for line in application.budget_lines])
    for pos, (line, approved) in enumerate(zip(application.budget_lines, amounts, strict=True), start=1):
        grant.budget_lines.append(GrantBudgetLine(position=pos, category=line.category,
                                                  description=line.description, amount=approved))
    grant.reports.extend([
        GrantReport(kind=INTERIM, status="due", period_start=start, period_end=mid - dt.timedelta(days=1),
                    due_on=mid, currency="USD"),
        GrantReport(kind=FINAL, status="due", period_start=mid, period_end=end,
                    due_on=end + dt.timedelta(days=FINAL_REPORT_DAYS), currency="USD"),
    ])
    _set_tranches(grant, schedule)
    db.session.flush()
    return grant


def _expected_on(grant: Grant, condition: str) -> dt.date:
    if condition == SIGNATURE:
        return grant.start_date
    report = grant.report(INTERIM if condition == INTERIM_ACCEPTED else FINAL)
    return report.due_on + dt.timedelta(days=TRANCHE_AFTER_REPORT_DAYS)


def _set_tranches(grant: Grant, schedule: Sequence[tuple[Decimal, str]]) -> None:
    amounts = split_largest_remainder(grant.amount, [Decimal(p) for p, _c in schedule])
    grant.tranches.clear()
    grant.disbursements.clear()
    db.session.flush()
    for number, ((_p, condition), amount) in enumerate(zip(schedule, amounts, strict=True), start=1):
        tranche = Tranche(number=number, amount=amount, condition=condition,
                          expected_on=_expected_on(grant, condition))
        grant.tranches.append(tranche)
        grant.disbursements.append(Disbursement(tranche=tranche, amount=amount, currency="USD",
                                                status="scheduled"))
    db.session.flush()



# The agreement ------------------------------------------------------------------------------------------------

def upload_signed_agreement(grant: Grant, upload, actor: User):
    """The organisation uploads its signed copy of the agreement (while the grant awaits signature)."""
    lock_row(grant)
    if grant.status != "pending_signature":
        raise Conflict(_("The agreement can be uploaded only while the grant awaits signature."),
                       code="not_pending_signature")
    check_agreement(grant)
    doc = attach_document(
        grant, grant, "signed_document_id", upload, "signed_agreement", actor, action="grant.agreement_signed",
        summary=lambda doc: f"Signed agreement of grant {grant.number} uploaded ({doc.filename}, {doc.sha256[:12]}…)")
    grant.signed_at, grant.signed_by_id = utcnow(), actor.id
    db.session.flush()
    return doc


def countersign(grant: Grant, actor: User) -> Grant:
    """The fund manager countersigns: the grant becomes active, and its commitment is posted if it was not."""
    relock(grant)
    GRANT_WORKFLOW.fire(grant, "countersign", actor)
    grant.countersigned_at, grant.countersigned_by_id = utcnow(), actor.id
    figures = grant_figures(grant.id)
    needed = grant.amount - figures.committed
    if needed > 0:
        entry = ledger.commit_grant(grant.id, needed, actor=actor,
                                    description=f"Grant {grant.number} committed on countersignature")
        audit.record("grant.commitment", grant, actor=actor,
                     summary=f"Commitment of USD {needed} posted for grant {grant.number} (entry {entry.id})",
                     changes={"committed": [str(figures.committed), str(grant.amount)]})
    db.session.flush()
    return grant


def suspend(grant: Grant, actor: User, message: str) -> Grant:
    relock(grant)
    GRANT_WORKFLOW.fire(grant, "suspend", actor, message=message)
    mail_grantee(grant, "suspended", lambda: _("Grant %(number)s suspended", number=grant.number), message=message)
    return grant


def resume(grant: Grant, actor: User) -> Grant:
    relock(grant)
    return GRANT_WORKFLOW.fire(grant, "resume", actor)


def _wind_down(grant: Grant, actor: User, reason: str) -> None:
    """Cancel the disbursements that will not be paid and release what is left of the commitment."""
    for d in db.session.execute(select(Disbursement).where(
            Disbursement.grant_id == grant.id, Disbursement.status.in_(("scheduled", "requested", "approved")))
    ).scalars():
        DISBURSEMENT_WORKFLOW.fire(d, "cancel", actor, message=reason)
    remaining = grant_figures(grant.id).remaining
    if remaining > 0:
        ledger.release_commitment(grant.id, None, actor=actor,
                                  description=f"Commitment of grant {grant.number} released: {reason}")


def close(grant: Grant, actor: User) -> Grant:
    """Close a grant whose final report is accepted and whose payments and refunds reconcile with the reported
    expenditure; whatever is left of the commitment goes back to the available balance."""
    relock(grant)
    GRANT_WORKFLOW.fire(grant, "close", actor)
    _wind_down(grant, actor, "grant closed")
    grant.closed_at = utcnow()
    db.session.flush()
    mail_grantee(grant, "closed", lambda: _("Grant %(number)s closed", number=grant.number))
    return grant


def terminate(grant: Grant, actor: User, message: str) -> Grant:
    relock(grant)
    GRANT_WORKFLOW.fire(grant, "terminate", actor, message=message)
    _wind_down(grant, actor, "grant terminated")
    grant.closed_at = utcnow()
    db.session.flush()
    return grant


def set_tranches(grant: Grant, schedule: Sequence[tuple[Decimal, str]], actor: User) -> Grant:
    """Change the tranche schedule (percentages of the award and conditions) before any payment is requested."""
    relock(grant)
    if grant.status not in ("pending_signature", "active"):
        raise Conflict(_("The tranches of a grant that is “%(status)s” cannot be changed.",
                         status=grant_status_label(grant.status)))
    started = db.session.execute(select(Disbursement.id).where(
        Disbursement.grant_id == grant.id, Disbursement.status.not_in(("scheduled", "cancelled")))).first()
    if started is not None:
        raise Conflict(_("Payments have been requested: the tranche schedule can no longer change."),
                       code="tranches_started")
    old = [[t.number, str(t.amount), t.condition] for t in grant.tranches]
    _set_tranches(grant, schedule)
    new = [[t.number, str(t.amount), t.condition] for t in grant.tranches]
    audit.record("grant.tranches", grant, actor=actor, summary=f"Tranche schedule of grant {grant.number} changed",
                 changes={"tranches": [old, new]})
    return grant


def revise_budget(grant: Grant, lines: list[dict], actor: User) -> Grant:
    """Revise the approved budget by agreement: lines kept (by ``id``), changed, added or removed; the revised
    budget adds up to the award. A line with reported expenditure cannot be removed."""
    lock_row(grant)
    if grant.status not in ("pending_signature", "active", "suspended"):
        raise Conflict(_("The budget of a grant that is “%(status)s” cannot be revised.",
                         status=grant_status_label(grant.status)), code="grant_not_open")
    total = sum((line["amount"] for line in lines), ZERO)
    if total != grant.amount:
        message = _("The revised budget adds up to USD %(total)s; it must add up to the award, USD %(award)s.",
                    total=total, award=grant.amount)
        raise FundError(message, fields={"lines": [message]})
    existing = {b.id: b for b in grant.budget_lines}
    kept = [line["id"] for line in lines if line.get("id") is not None]
    unknown = sorted(set(kept) - set(existing))
    if unknown or len(kept) != len(set(kept)):
        message = _("Lines %(ids)s are not lines of this grant's budget (or are given twice).",
                    ids=", ".join(str(i) for i in unknown) or "-")
        raise FundError(message, fields={"lines": [message]})
    removed = set(existing) - set(kept)
    reported = set(db.session.execute(select(ReportExpense.budget_line_id).where(
        ReportExpense.budget_line_id.in_(removed))).scalars()) if removed else set()
    if reported:
        raise Conflict(_("Budget lines with reported expenditure cannot be removed: %(lines)s.",
                         lines=", ".join(existing[i].description for i in sorted(reported))),
                       code="line_reported")
    old = [[b.id, b.category, b.description, str(b.amount)] for b in grant.budget_lines]
    for line_id in removed:
        grant.budget_lines.remove(existing[line_id])
    db.session.flush()
    for position, line in enumerate(lines, start=1):
        row = existing[line["id"]] if line.get("id") is not None else GrantBudgetLine()
        row.position, row.category, row.description, row.amount = (position, line["category"],
                                                                   line["description"], line["amount"])
        if line.get("id") is None:
            grant.budget_lines.append(row)
    db.session.flush()
    db.session.expire(grant, ["budget_lines"])
    new = [[b.id, b.category, b.description, str(b.amount)] for b in grant.budget_lines]
    audit.record("grant.budget_revised", grant, actor=actor, summary=f"Budget of grant {grant.number} revised",
                 changes={"budget_lines": [old, new]})
    return grant


# Refunds ------------------------------------------------------------------------------------------------------

def record_refund(grant: Grant, data: dict, actor: User):
    """Unspent money paid back by the grantee, in any currency at the month's UN rate: the ledger takes it into
    cash, reduces the grant's expenditure and recomputes its PSC."""
    relock(grant)
    if grant.status not in ("active", "suspended", "terminated"):
        raise Conflict(_("Refunds are recorded against an active, suspended or terminated grant (this one is "
                         "“%(status)s”).", status=grant_status_label(grant.status)), code="grant_not_open")
    reference = data["bank_reference"].strip()
    posted = ledger.record_grant_refund(
        grant.id, data["amount"], data["currency"], value_date=data["received_on"], actor=actor,
        description=f"Refund from grant {grant.number}, bank reference {reference}")
    cash_line = next(p for p in posted.entry.postings if p.account == ledger.CASH)
    refund = GrantRefund(grant_id=grant.id, currency=cash_line.currency, amount=cash_line.amount, usd=posted.usd,
                         exchange_rate_id=cash_line.exchange_rate_id, received_on=data["received_on"],
                         bank_reference=reference, ledger_entry_id=posted.entry.id, psc_usd=posted.psc_usd,
                         recorded_by_id=actor.id)
    db.session.add(refund)
    db.session.flush()
    audit.record("grant.refund", grant, actor=actor,
                 summary=f"Refund of {refund.currency} {refund.amount} (USD {refund.usd}) from grant {grant.number}, "
                         f"bank reference {reference}, ledger entry {posted.entry.id}",
                 changes={"refund_id": [None, refund.id], "usd": [None, str(refund.usd)],
                          "psc_usd": [None, str(posted.psc_usd)]})
    return refund
