"""What the grants' pages and API read, in a fixed number of statements whatever a grant's history.

A grant's relationships load eagerly by default (``selectin``), which suits the operations; a page or an API
answer asks for exactly what it shows instead:

- :data:`GRANT_LIST`: a list item is the grant, its organisation (joined by default) and its reports' summaries
  (joined: a grant has at most one interim and one final report); its tranches, budget and disbursements are
  the detail's.
- :data:`GRANT_DETAIL`: the grant with its organisation, budget lines and reports in one statement (budget lines x
  at most two reports); tranches and disbursements are not loaded as collections, they come from
  :func:`tranche_rows` (one grouped statement) and :func:`recent_disbursements` (the most recent
  :data:`RECENT` with their total, one statement; the full list is paginated at ``/api/v1/disbursements?grant_id=``).
- :func:`report_detail`: a report with its results (joined) and its expenses (with their budget lines), and its
  grant with the grant's budget lines (joined) and nothing else: three statements.

Nothing here writes. Collections not asked for are ``lazyload``-ed rather than ``noload``-ed, so code that reads one
anyway gets the truth (one more statement), never an empty list.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload, lazyload

from fund.db import db
from grants.awards.models import MONEY, Disbursement, Grant, GrantReport, Tranche
from grants.awards.workflow import CONDITION_LABELS, tranche_status

ZERO = Decimal("0.00")
#: Disbursements shown with a grant; the rest are a paginated list away.
RECENT = 20

GRANT_LIST = (
    joinedload(Grant.reports).options(lazyload(GrantReport.results), lazyload(GrantReport.expenses)),
    lazyload(Grant.budget_lines), lazyload(Grant.tranches), lazyload(Grant.disbursements),
)
GRANT_DETAIL = (
    joinedload(Grant.budget_lines),
    joinedload(Grant.reports).options(lazyload(GrantReport.results), lazyload(GrantReport.expenses)),
    lazyload(Grant.tranches), lazyload(Grant.disbursements),
)
#: The grant's portal page, which still shows every tranche and disbursement (selectin, one statement each).
GRANT_PAGE = (
    joinedload(Grant.budget_lines),
    joinedload(Grant.reports).options(lazyload(GrantReport.results), lazyload(GrantReport.expenses)),
)
REPORT_DETAIL = (joinedload(GrantReport.results),)
REPORT_GRANT = (joinedload(Grant.budget_lines), lazyload(Grant.reports), lazyload(Grant.tranches),
                lazyload(Grant.disbursements))


def grant_detail(grant_id: int) -> Grant | None:
    """The grant with what :data:`GRANT_DETAIL` loads, in one statement."""
    return db.session.execute(
        select(Grant).where(Grant.id == grant_id).options(*GRANT_DETAIL)).unique().scalar_one_or_none()


def report_detail(report_id: int) -> tuple[GrantReport | None, Grant | None]:
    """A report and its grant as :data:`REPORT_DETAIL` and :data:`REPORT_GRANT` load them (the grant is read before
    the permission check, which looks it up in the session)."""
    report = db.session.execute(
        select(GrantReport).where(GrantReport.id == report_id).options(*REPORT_DETAIL)).unique().scalar_one_or_none()
    if report is None:
        return None, None
    grant = db.session.execute(
        select(Grant).where(Grant.id == report.grant_id).options(*REPORT_GRANT)).unique().scalar_one()
    return report, grant


def tranche_rows(grant: Grant, met: dict[str, bool]) -> list[dict]:
    """Each tranche with what has been requested, approved and paid against it and a status for people to read
    (the same rows as :func:`grants.awards.presenters.tranche_rows`), from one statement grouped by tranche."""

    def total(status: str):
        return func.coalesce(func.sum(case((Disbursement.status == status, Disbursement.amount))), 0).cast(MONEY)

    last_paid = func.max(case((Disbursement.status == "paid", Disbursement.paid_on)))
    rows = db.session.execute(
        select(Tranche, total("paid"), total("approved"), total("requested"), last_paid)
        .outerjoin(Disbursement, Disbursement.tranche_id == Tranche.id)
        .where(Tranche.grant_id == grant.id).group_by(Tranche.id).order_by(Tranche.number)
    ).all()
    out = []
    for t, paid, approved, requested, paid_on in rows:
        paid, approved, requested = (Decimal(v or 0).quantize(ZERO) for v in (paid, approved, requested))
        is_met = met[t.condition]
        status = tranche_status(t.amount, paid, approved, requested, grant.status, is_met)
        if paid_on is not None and not isinstance(paid_on, dt.date):  # SQLite's MAX() of a date is text
            paid_on = dt.date.fromisoformat(paid_on)
        out.append({"id": t.id, "number": t.number, "amount": t.amount, "currency": grant.currency,
                    "condition": t.condition, "condition_label": str(CONDITION_LABELS[t.condition]),
                    "condition_met": is_met, "expected_on": t.expected_on, "approved": approved, "paid": paid,
                    "requested": requested, "status": status, "paid_on": paid_on})
    return out


def recent_disbursements(grant_id: int, limit: int = RECENT) -> tuple[list[Disbursement], int]:
    """The ``limit`` most recent disbursements of a grant, oldest first, and how many it has in all (one
    statement: the total is a window count)."""
    rows = db.session.execute(
        select(Disbursement, func.count().over()).where(Disbursement.grant_id == grant_id)
        .order_by(Disbursement.id.desc()).limit(limit)
    ).all()
    return [d for d, _n in reversed(rows)], (rows[0][1] if rows else 0)
