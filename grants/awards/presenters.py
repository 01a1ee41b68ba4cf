"""Plain data about grants for the API, the pages and the agreement PDF (no ORM objects in PDF contexts)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from fund.accounting.figures import GrantFigures, grant_figures
from fund.accounting.rates import quantum
from fund.db import utcnow
from fund.models import ADMIN, AUDITOR, FINANCE_OFFICER, FUND_MANAGER, REVIEWER
from grants.awards.models import (
    Disbursement,
    Grant,
    GrantRefund,
    GrantReport,
)
from grants.awards.reports import expected_spending, split_cell
from grants.awards.workflow import (
    CONDITION_LABELS,
    DISBURSEMENT_STATES,
    GRANT_STATES,
    REPORT_KIND_LABELS,
    REPORT_STATES,
    conditions_met,
    tranche_status,
)

ZERO = Decimal("0.00")


def today() -> dt.date:
    return utcnow().date()


def tranche_rows(grant: Grant, met: dict[str, bool] | None = None) -> list[dict]:
    """Each tranche with what has been approved and paid against it, and a status for people to read."""
    if met is None:
        met = conditions_met(grant)
    rows = []
    for t in grant.tranches:
        ds = [d for d in grant.disbursements if d.tranche_id == t.id]
        paid = sum((d.amount for d in ds if d.status == "paid"), ZERO)
        approved = sum((d.amount for d in ds if d.status == "approved"), ZERO)
        requested = sum((d.amount for d in ds if d.status == "requested"), ZERO)
        is_met = met[t.condition]
        status = tranche_status(t.amount, paid, approved, requested, grant.status, is_met)
        last_paid = max((d.paid_on for d in ds if d.status == "paid" and d.paid_on), default=None)
        rows.append({"id": t.id, "number": t.number, "amount": t.amount, "currency": grant.currency,
                     "condition": t.condition, "condition_label": str(CONDITION_LABELS[t.condition]),
                     "condition_met": is_met, "expected_on": t.expected_on, "approved": approved, "paid": paid,
                     "requested": requested, "status": status, "paid_on": last_paid})
    return rows


def report_summary(report: GrantReport) -> dict:
    return {"id": report.id, "kind": report.kind, "status": report.status,
            "status_label": str(REPORT_STATES.get(report.status, report.status)),
            "period_start": report.period_start, "period_end": report.period_end, "due_on": report.due_on,
            "overdue": is_overdue(report), "due_soon": is_due_soon(report)}


def is_overdue(report: GrantReport, on: dt.date | None = None) -> bool:
    return report.status in ("due", "returned") and (on or today()) > report.due_on


def is_due_soon(report: GrantReport, on: dt.date | None = None, days: int = 14) -> bool:
    on = on or today()
    return report.status in ("due", "returned") and on <= report.due_on <= on + dt.timedelta(days=days)


def disbursement_dict(d: Disbursement) -> dict:
    return {"id": d.id, "grant_id": d.grant_id, "tranche": d.tranche.number, "amount": d.amount,
            "currency": d.currency, "status": d.status,
            "status_label": str(DISBURSEMENT_STATES.get(d.status, d.status)),
            "requested_by_id": d.requested_by_id, "requested_at": d.requested_at, "edited_by_id": d.edited_by_id,
            "approved_by_id": d.approved_by_id, "approved_at": d.approved_at,
            "payment_reference": d.payment_reference, "paid_on": d.paid_on, "ledger_entry_id": d.ledger_entry_id,
            "psc_usd": d.psc_usd, "note": d.note}


def grant_dict(grant: Grant, figures: GrantFigures | None = None, *, tranches: list[dict] | None = None,
               disbursements: tuple[list[Disbursement], int] | None = None) -> dict:
    """A grant for the API. ``tranches`` (:func:`grants.awards.reads.tranche_rows`) and ``disbursements`` (the most
    recent and their total, :func:`grants.awards.reads.recent_disbursements`) spare loading the collections."""
    f = figures or grant_figures(grant.id)
    shown, total = disbursements if disbursements is not None else (grant.disbursements, len(grant.disbursements))
    return {
        **grant_list_dict(grant, f),
        "tranches": tranche_rows(grant) if tranches is None else tranches,
        "budget_lines": [{"id": b.id, "category": b.category, "description": b.description, "amount": b.amount,
                          "currency": grant.currency} for b in grant.budget_lines],
        "disbursements": [disbursement_dict(d) for d in shown], "disbursements_total": total,
    }


def grant_list_dict(grant: Grant, figures: GrantFigures) -> dict:
    """A grant in a list: its own columns, organisation, ledger figures and reports' summaries (what
    :data:`grants.awards.reads.GRANT_LIST` loads); tranches, budget and disbursements are the detail's
    (:func:`grant_dict`, which adds them to this)."""
    return {
        "id": grant.id, "number": grant.number, "status": grant.status,
        "status_label": str(GRANT_STATES.get(grant.status, grant.status)),
        "organisation_id": grant.organisation_id, "organisation": grant.organisation.name,
        "application_id": grant.application_id, "title": grant.title, "currency": grant.currency,
        "amount": grant.amount, "start_date": grant.start_date, "end_date": grant.end_date,
        "committed": figures.committed, "paid": figures.paid, "refunded": figures.refunded,
        "remaining": figures.remaining, "expenditure": figures.expenditure, "psc": figures.psc,
        "reports": [report_summary(r) for r in grant.reports],
        "signed_document_id": grant.signed_document_id, "signed_at": grant.signed_at,
        "countersigned_at": grant.countersigned_at, "closed_at": grant.closed_at,
    }


def results_dict(report: GrantReport) -> dict | None:
    if report.total_assisted is None:
        return None
    cells = report.breakdown("sex_age")
    return {
        "sex_age": [{"sex": split_cell(k)[0], "age_band": split_cell(k)[1], "count": n} for k, n in cells.items()],
        "form": report.breakdown("form"), "assistance": report.breakdown("assistance"),
        "country": report.breakdown("country"),
    }


def expense_rows(grant: Grant, report: GrantReport) -> list[dict]:
    spent = {e.budget_line_id: e for e in report.expenses}
    rows = []
    for line in grant.budget_lines:
        e = spent.get(line.id)
        rows.append({"budget_line_id": line.id, "category": line.category, "description": line.description,
                     "budget": line.amount, "expected": expected_spending(grant, report, line.amount),
                     "spent": e.spent if e else None, "explanation": e.explanation if e else None})
    return rows


def report_dict(grant: Grant, report: GrantReport) -> dict:
    data = report_summary(report)
    data.update({
        "grant_id": report.grant_id, "activities": report.activities,
        "results_narrative": report.results_narrative, "challenges": report.challenges,
        "lessons": report.lessons, "consultation": report.consultation, "total_assisted": report.total_assisted,
        "results": results_dict(report),
        "expenditure_lines": [r for r in expense_rows(grant, report) if r["spent"] is not None],
        "currency": report.currency, "expenditure": report.expenditure, "received": report.received,
        "unspent": report.unspent, "audit_document_id": report.audit_document_id,
        "submitted_at": report.submitted_at, "reviewed_at": report.reviewed_at,
    })
    return data


def refund_dict(refund: GrantRefund) -> dict:
    return {"id": refund.id, "grant_id": refund.grant_id, "currency": refund.currency,
            "amount": refund.amount.quantize(quantum(refund.currency)), "usd": refund.usd,
            "exchange_rate_id": refund.exchange_rate_id, "received_on": refund.received_on,
            "bank_reference": refund.bank_reference, "ledger_entry_id": refund.ledger_entry_id,
            "psc_usd": refund.psc_usd}




# What the organisation reads about its grants ------------------------------------------------------------------

def grantee_status(grant: Grant) -> tuple[str, str]:
    """(code, label) of a grant as its organisation reads it: the workflow state, but saying whose move it is
    while the agreement waits for signatures."""
    from flask_babel import gettext as _

    if grant.status == "pending_signature":
        if grant.signed_document_id is None:
            return "awaiting_signature", _("Awarded: awaiting your signature")
        return "awaiting_countersignature", _("Signed: awaiting the fund's countersignature")
    return grant.status, str(GRANT_STATES.get(grant.status, grant.status))


def grantee_next_step(grant: Grant, on: dt.date | None = None) -> str | None:
    """The one thing the organisation should do (or wait for) next, in a sentence; None once it is over."""
    from flask_babel import format_date
    from flask_babel import gettext as _


    if grant.status == "pending_signature":
        if grant.signed_document_id is None:
            return _("Next step: sign the agreement. Download it from the grant's page, have it signed and upload "
                     "the signed copy there.")
        return _("Next step: the fund countersigns the agreement; the first payment follows.")
    if grant.status in ("active", "suspended"):
        due = [r for r in grant.reports if r.status in ("due", "returned")]
        if due:
            report = min(due, key=lambda r: r.due_on)
            if is_overdue(report, on):
                return _("Next step: the %(report)s was due on %(date)s and is overdue.",
                         report=str(REPORT_KIND_LABELS[report.kind]).lower(), date=format_date(report.due_on))
            return _("Next step: the %(report)s is due on %(date)s.",
                     report=str(REPORT_KIND_LABELS[report.kind]).lower(), date=format_date(report.due_on))
        return _("Nothing is due from your organisation for now.")
    return None


#: How the organisation reads who acted for the fund: a role, never a staff member's e-mail address.
PUBLIC_ROLES = {
    FUND_MANAGER: _l("Fund secretariat"),
    ADMIN: _l("Fund secretariat"),
    AUDITOR: _l("Fund secretariat"),
    FINANCE_OFFICER: _l("Fund finance team"),
    REVIEWER: _l("Board of Trustees"),
}


def who(user, viewer) -> str:
    """The person behind an action as ``viewer`` may read it: staff see the account; an organisation sees its own
    colleagues by name and the fund's people by their role."""
    from flask_babel import gettext as _

    if user is None:
        return _("Automatic")
    if viewer.is_staff:
        return user.email
    if user.organisation_id is not None and user.organisation_id == viewer.organisation_id and not user.is_staff:
        return user.name or user.email
    return str(PUBLIC_ROLES.get(user.role, _l("The fund")))


#: A step of a grant's history in a sentence; %(n)d is the payment's number, %(report)s the report's name.
EVENT_SENTENCES = {
    ("grant", "countersign"): _l("Agreement countersigned by the fund: the grant is active"),
    ("grant", "suspend"): _l("Grant suspended"),
    ("grant", "resume"): _l("Grant resumed"),
    ("grant", "close"): _l("Grant closed"),
    ("grant", "terminate"): _l("Grant terminated"),
    ("disbursement", "request"): _l("Payment request %(n)d made"),
    ("disbursement", "edit"): _l("Payment request %(n)d changed"),
    ("disbursement", "approve"): _l("Payment request %(n)d approved"),
    ("disbursement", "pay"): _l("Payment %(n)d made"),
    ("disbursement", "payee_changed"): _l("Payment request %(n)d held until the new bank details are verified"),
    ("disbursement", "cancel"): _l("Payment request %(n)d cancelled"),
    ("disbursement", "fail"): _l("Payment %(n)d failed"),
    ("disbursement", "reverse"): _l("Payment %(n)d reversed"),
    ("report", "submit"): _l("%(report)s submitted"),
    ("report", "accept"): _l("%(report)s accepted"),
    ("report", "return"): _l("%(report)s returned for revision"),
}


def event_sentence(event, grant: Grant | None = None) -> str:
    """A history row (:class:`grants.awards.models.GrantEvent`) as a sentence in the reader's language."""
    from flask_babel import gettext as _


    template = EVENT_SENTENCES.get((event.entity, event.trigger))
    kind = next((r.kind for r in grant.reports if r.id == event.entity_id), None) if grant is not None else None
    report = str(REPORT_KIND_LABELS.get(kind, _l("Report"))) if event.entity == "report" else ""
    if template is not None:
        return str(template) % {"n": event.entity_id, "report": report}
    states = {"grant": GRANT_STATES, "disbursement": DISBURSEMENT_STATES, "report": REPORT_STATES}.get(event.entity, {})
    return _("%(what)s: %(status)s", what=report or f"{event.entity} {event.entity_id}",
             status=str(states.get(event.to_status, event.to_status)))


def organisation_grants(organisation_id: int | None) -> list[dict]:
    """The organisation's grants, newest first, with a status and the next step (for the applicant's portal)."""
    from sqlalchemy import select
    from sqlalchemy.orm import noload

    from fund.db import db

    if not organisation_id:
        return []
    grants = db.session.execute(
        select(Grant).options(noload(Grant.budget_lines), noload(Grant.tranches), noload(Grant.disbursements))
        .where(Grant.organisation_id == organisation_id).order_by(Grant.id.desc())
    ).scalars().all()
    rows = []
    for g in grants:
        code, label = grantee_status(g)
        rows.append({"id": g.id, "number": g.number, "title": g.title, "application_id": g.application_id,
                     "amount": g.amount, "currency": g.currency, "status": code, "status_label": label,
                     "next_step": grantee_next_step(g)})
    return rows
