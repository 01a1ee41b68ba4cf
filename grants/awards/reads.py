"""What the grants' pages and API read, in a fixed number of statements whatever a grant's history.

A grant's relationships load eagerly by default (``selectin``), which suits the operations; a page or an API
answer asks for exactly what it shows instead:

- :data:`GRANT_LIST`: a list item is the grant, its organisation (joined by default) and its reports' summaries
  (joined: a grant has at most one interim and one final report); its tranches, budget and disbursements are
  the detail's.
- :data:`GRANT_DETAIL`: the grant with its organisation, budget lines, reports and tranches in one statement, each
  tranche carrying its totals (:func:`tranche_rows`); its disbursements are not loaded as a collection, they come
  from :func:`recent_disbursements` (the most recent :data:`RECENT` with their total, one statement; the full list
  is paginated at ``/api/v1/disbursements?grant_id=``).
- :data:`GRANT_PAGE`: the grant's portal page, the same and its refunds; its payments and history come a page at a
  time (:func:`disbursement_page`, :func:`event_page`, one statement
  each with the people who acted).
- :func:`report_detail`: a report with its results (joined) and its expenses (with their budget lines), and its
  grant with the grant's budget lines (joined) and nothing else: three statements.

Nothing here writes. Collections not asked for are ``lazyload``-ed rather than ``noload``-ed, so code that reads one
anyway gets the truth (one more statement), never an empty list.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import joinedload, lazyload, with_expression

from fund.db import db
from fund.listing import page_of
from fund.models import User
from grants.awards.models import Disbursement, Grant, GrantEvent, GrantReport, Tranche
from grants.awards.workflow import CONDITION_LABELS, tranche_status

ZERO = Decimal("0.00")
#: Disbursements shown with a grant; the rest are a paginated list away.
RECENT = 20

GRANT_LIST = (
    joinedload(Grant.reports).options(lazyload(GrantReport.results), lazyload(GrantReport.expenses)),
    lazyload(Grant.budget_lines), lazyload(Grant.tranches), lazyload(Grant.disbursements),
)
def _tranche_sum(status: str):
    """What the disbursements of ``status`` add up to on a tranche (a correlated subquery of the tranche)."""
    return (select(func.coalesce(func.sum(Disbursement.amount), 0)).where(
        Disbursement.tranche_id == Tranche.id, Disbursement.status == status).correlate(Tranche).scalar_subquery())


#: The grant as the API gives it: its organisation, budget lines, reports and tranches, each tranche with what was
#: requested, approved and paid against it and when it was last paid, in one statement (a grant has a handful of
#: each: the agreement's budget lines and tranches, an interim and a final report). Its most recent payments are
#: another (:func:`recent_disbursements`).
GRANT_DETAIL = (
    joinedload(Grant.budget_lines),
    joinedload(Grant.reports).options(lazyload(GrantReport.results), lazyload(GrantReport.expenses)),
    joinedload(Grant.tranches).options(
        with_expression(Tranche.requested_total, _tranche_sum("requested")),
        with_expression(Tranche.approved_total, _tranche_sum("approved")),
        with_expression(Tranche.paid_total, _tranche_sum("paid")),
        with_expression(Tranche.last_paid_on, select(func.max(Disbursement.paid_on)).where(
            Disbursement.tranche_id == Tranche.id, Disbursement.status == "paid").correlate(Tranche).scalar_subquery()),
    ),
    lazyload(Grant.disbursements),
)
#: The grant's portal page: the API's grant and its refunds (a refund or two at its close), in one statement. Its
#: payments and its history are pages of their own: :func:`disbursement_page` and :func:`event_page`.
GRANT_PAGE = (*GRANT_DETAIL, joinedload(Grant.refunds))
REPORT_DETAIL = (joinedload(GrantReport.results),)
REPORT_GRANT = (joinedload(Grant.budget_lines), lazyload(Grant.reports), lazyload(Grant.tranches),
                lazyload(Grant.disbursements))


#: The statements an API answer runs for every grant it shows (:func:`grant_detail`, :func:`tranche_rows`,
#: :func:`recent_disbursements`) are built once, with the grant's id as a parameter: SQLAlchemy caches their compiled
#: form, but building a statement and deriving its cache key are repeated for each new one, and cost about as much
#: as running it.
#: The tranches' totals are refreshed even where the session holds the tranches already (after an action).
GRANT_DETAIL_QUERY = (select(Grant).where(Grant.id == bindparam("grant_id")).options(*GRANT_DETAIL)
                      .execution_options(populate_existing=True))


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


def tranche_rows(grant: Grant, met: dict[str, bool]) -> list[dict]:
    """Each tranche of a grant read with :data:`GRANT_DETAIL` or :data:`GRANT_PAGE` (its tranches carry their
    totals) with what has been requested, approved and paid against it and a status for people to read (the same
    rows as :func:`grants.awards.presenters.tranche_rows`), without another statement."""
    return [_tranche_row(grant, t, met, t.paid_total, t.approved_total, t.requested_total, t.last_paid_on)
            for t in grant.tranches]


def disbursement_page(grant_id: int, page: int = 1, per_page: int = RECENT) -> tuple[list[Disbursement], int]:
    """A page of the grant's payments (not the scheduled ones), newest first, with the people who requested and
    approved them, and how many there are (:func:`fund.listing.page_of`)."""
    people = (joinedload(Disbursement.requested_by).joinedload(User.roles),
              joinedload(Disbursement.approved_by).joinedload(User.roles))
    return page_of(select(Disbursement).where(Disbursement.grant_id == grant_id, Disbursement.status != "scheduled")
                   .options(*people).order_by(Disbursement.id.desc()), page, per_page)


def event_page(grant_id: int, page: int = 1, per_page: int = RECENT) -> tuple[list[GrantEvent], int]:
    """A page of the grant's history, newest first, with who acted, and how many steps it has
    (:func:`fund.listing.page_of`)."""
    return page_of(select(GrantEvent).where(GrantEvent.grant_id == grant_id)
                   .options(joinedload(GrantEvent.actor).joinedload(User.roles)).order_by(GrantEvent.id.desc()),
                   page, per_page)
