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
- :data:`GRANT_PAGE`: the grant's portal page, with its tranches carrying their totals (:func:`page_tranche_rows`);
  its payments and history come a page at a time (:func:`disbursement_page`, :func:`event_page`, one statement
  each with the people who acted).
- :func:`report_detail`: a report with its results (joined) and its expenses (with their budget lines), and its
  grant with the grant's budget lines (joined) and nothing else: three statements.

Nothing here writes. Collections not asked for are ``lazyload``-ed rather than ``noload``-ed, so code that reads one
anyway gets the truth (one more statement), never an empty list.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import joinedload, lazyload, with_expression

from fund.db import db
from fund.models import User
from grants.awards.models import MONEY, Disbursement, Grant, GrantEvent, GrantReport, Tranche
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


def _tranche_sum(status: str):
    """What the disbursements of ``status`` add up to on a tranche (a correlated subquery of the tranche)."""
    return (select(func.coalesce(func.sum(Disbursement.amount), 0)).where(
        Disbursement.tranche_id == Tranche.id, Disbursement.status == status).correlate(Tranche).scalar_subquery())


#: The grant's portal page: the grant with its organisation, budget lines, reports, refunds and tranches, each
#: tranche with what was requested, approved and paid against it, in one statement (a grant has a handful of each:
#: the agreement's budget lines and tranches, an interim and a final report, a refund or two at its close). Its
#: payments and its history are pages of their own: :func:`disbursement_page` and :func:`event_page`.
GRANT_PAGE = (
    joinedload(Grant.budget_lines),
    joinedload(Grant.reports).options(lazyload(GrantReport.results), lazyload(GrantReport.expenses)),
    joinedload(Grant.refunds),
    joinedload(Grant.tranches).options(
        with_expression(Tranche.requested_total, _tranche_sum("requested")),
        with_expression(Tranche.approved_total, _tranche_sum("approved")),
        with_expression(Tranche.paid_total, _tranche_sum("paid")),
        with_expression(Tranche.last_paid_on, select(func.max(Disbursement.paid_on)).where(
            Disbursement.tranche_id == Tranche.id, Disbursement.status == "paid").correlate(Tranche).scalar_subquery()),
    ),
    lazyload(Grant.disbursements),
)
REPORT_DETAIL = (joinedload(GrantReport.results),)
REPORT_GRANT = (joinedload(Grant.budget_lines), lazyload(Grant.reports), lazyload(Grant.tranches),
                lazyload(Grant.disbursements))


#: The statements an API answer runs for every grant it shows (:func:`grant_detail`, :func:`tranche_rows`,
#: :func:`recent_disbursements`) are built once, with the grant's id as a parameter: SQLAlchemy caches their compiled
#: form, but building a statement and deriving its cache key are repeated for each new one, and cost about as much
#: as running it.
GRANT_DETAIL_QUERY = select(Grant).where(Grant.id == bindparam("grant_id")).options(*GRANT_DETAIL)


def grant_detail(grant_id: int) -> Grant | None:
    """The grant with what :data:`GRANT_DETAIL` loads, in one statement."""
    return db.session.execute(GRANT_DETAIL_QUERY, {"grant_id": grant_id}).unique().scalar_one_or_none()


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


def _disbursed(status: str):
    """What the disbursements of ``status`` add up to (an aggregate of a statement grouped by tranche)."""
    return func.coalesce(func.sum(case((Disbursement.status == status, Disbursement.amount))), 0).cast(MONEY)


#: A grant's tranches, each with what was paid, approved and requested against it and its last payment.
TRANCHE_TOTALS = (
    select(Tranche, _disbursed("paid"), _disbursed("approved"), _disbursed("requested"),
           func.max(case((Disbursement.status == "paid", Disbursement.paid_on))))
    .outerjoin(Disbursement, Disbursement.tranche_id == Tranche.id)
    .where(Tranche.grant_id == bindparam("grant_id")).group_by(Tranche.id).order_by(Tranche.number)
)


def tranche_rows(grant: Grant, met: dict[str, bool]) -> list[dict]:
    """Each tranche with what has been requested, approved and paid against it and a status for people to read
    (the same rows as :func:`grants.awards.presenters.tranche_rows`), from one statement grouped by tranche."""
    rows = db.session.execute(TRANCHE_TOTALS, {"grant_id": grant.id}).all()
    return [_tranche_row(grant, t, met, *totals) for t, *totals in rows]


def _tranche_row(grant: Grant, t: Tranche, met: dict[str, bool], paid, approved, requested, paid_on) -> dict:
    paid, approved, requested = (Decimal(v or 0).quantize(ZERO) for v in (paid, approved, requested))
    is_met = met[t.condition]
    if paid_on is not None and not isinstance(paid_on, dt.date):  # SQLite's MAX() of a date is text
        paid_on = dt.date.fromisoformat(paid_on)
    return {"id": t.id, "number": t.number, "amount": t.amount, "currency": grant.currency,
            "condition": t.condition, "condition_label": str(CONDITION_LABELS[t.condition]),
            "condition_met": is_met, "expected_on": t.expected_on, "approved": approved, "paid": paid,
            "requested": requested, "status": tranche_status(t.amount, paid, approved, requested, grant.status, is_met),
            "paid_on": paid_on}


RECENT_DISBURSEMENTS = (select(Disbursement, func.count().over()).where(Disbursement.grant_id == bindparam("grant_id"))
                        .order_by(Disbursement.id.desc()).limit(bindparam("limit")))


def recent_disbursements(grant_id: int, limit: int = RECENT) -> tuple[list[Disbursement], int]:
    """The ``limit`` most recent disbursements of a grant, oldest first, and how many it has in all (one
    statement: the total is a window count)."""
    rows = db.session.execute(RECENT_DISBURSEMENTS, {"grant_id": grant_id, "limit": limit}).all()
    return [d for d, _n in reversed(rows)], (rows[0][1] if rows else 0)


def page_tranche_rows(grant: Grant, met: dict[str, bool]) -> list[dict]:
    """The rows of :func:`tranche_rows` from a grant read with :data:`GRANT_PAGE` (its tranches carry their
    totals), without another statement."""
    return [_tranche_row(grant, t, met, t.paid_total, t.approved_total, t.requested_total, t.last_paid_on)
            for t in grant.tranches]


def _page(query, page: int, per_page: int) -> tuple[list, int]:
    """A page (from 1) of ``query``'s entities and how many there are in all, in one statement (the total is a
    window count); a page past the last has no row to carry the total, so it is counted then (a second statement,
    for that case only)."""
    rows = db.session.execute(query.add_columns(func.count().over()).limit(per_page)
                              .offset((max(page, 1) - 1) * per_page)).unique().all()
    if rows:
        return [row[0] for row in rows], rows[0][-1]
    if page <= 1:
        return [], 0
    return [], db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def disbursement_page(grant_id: int, page: int = 1, per_page: int = RECENT) -> tuple[list[Disbursement], int]:
    """A page of the grant's payments (not the scheduled ones), newest first, with the people who requested and
    approved them, and how many there are: one statement."""
    people = (joinedload(Disbursement.requested_by).joinedload(User.roles),
              joinedload(Disbursement.approved_by).joinedload(User.roles))
    return _page(select(Disbursement).where(Disbursement.grant_id == grant_id, Disbursement.status != "scheduled")
                 .options(*people).order_by(Disbursement.id.desc()), page, per_page)


def event_page(grant_id: int, page: int = 1, per_page: int = RECENT) -> tuple[list[GrantEvent], int]:
    """A page of the grant's history, newest first, with who acted, and how many steps it has: one statement."""
    return _page(select(GrantEvent).where(GrantEvent.grant_id == grant_id)
                 .options(joinedload(GrantEvent.actor).joinedload(User.roles)).order_by(GrantEvent.id.desc()),
                 page, per_page)
