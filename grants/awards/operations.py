"""Every write about grants: creation on approval, agreement, tranches, disbursements, reports, refunds, closure.

Operations take objects and validated data, check the domain rules, write, audit in the same transaction and
flush; they never commit. Anything that moves or reserves money takes the fund lock first
(:func:`fund.ledger.lock_fund`: ``SELECT ... FOR UPDATE`` on PostgreSQL, the ``BEGIN IMMEDIATE`` write lock on
SQLite) and re-reads the rows it decides on, so concurrent requests see each other's committed work and
money never leaves twice, early, or past the award.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from fund import audit, ledger
from fund.db import db, utcnow
from fund.errors import Conflict, FundError
from fund.models import User
from fund.rates import translate as _
from grants.awards.models import (
    FINAL,
    INTERIM,
    INTERIM_ACCEPTED,
    SIGNATURE,
    Disbursement,
    Grant,
    GrantBudgetLine,
    GrantNumberCounter,
    GrantReport,
    Tranche,
)
from grants.models import Application

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
#: The default tranche schedule: (percent of the award, condition).
DEFAULT_SCHEDULE: tuple[tuple[Decimal, str], ...] = ((Decimal(70), SIGNATURE), (Decimal(30), INTERIM_ACCEPTED))
FINAL_REPORT_DAYS = 60
#: Days after the interim report is due that the second tranche is expected (for the cash forecast).
TRANCHE_AFTER_REPORT_DAYS = 30


# Dates and amounts --------------------------------------------------------------------------------------------

def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def split_largest_remainder(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split ``total`` (USD) in proportion to ``weights`` so that the parts sum exactly to it: every part gets
    its share rounded down to the cent, and the cents left over go one each to the largest remainders (the
    earlier part first on a tie)."""
    cents = int((total / CENT).to_integral_value())
    weight_sum = sum(weights, Decimal(0))
    if cents <= 0 or weight_sum <= 0 or any(w <= 0 for w in weights):
        raise ValueError("a positive total and positive weights are needed")
    exact = [Decimal(cents) * w / weight_sum for w in weights]
    floors = [int(x.to_integral_value(rounding=ROUND_FLOOR)) for x in exact]
    left = cents - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [Decimal(c) * CENT for c in floors]


def _next_number(year: int) -> str:
    """VTF/<year>/<sequence>: an insert-if-missing then one atomic UPDATE ... RETURNING, so concurrent approvals
    never share a number."""
    table = GrantNumberCounter.__table__
    dialect_insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(dialect_insert(table).values(year=year, last=0).on_conflict_do_nothing(
        index_elements=["year"]))
    seq = db.session.execute(
        update(table).where(table.c.year == year).values(last=table.c.last + 1).returning(table.c.last)
    ).scalar_one()
    return f"VTF/{year}/{seq:03d}"


def _usd(value, field: str = "amount_usd") -> Decimal:
    try:
        amount = Decimal(value)
    except Exception as exc:  # noqa: BLE001  (any non-number)
        raise FundError(_("Not a valid amount."), fields={field: [_("Not a valid amount.")]}) from exc
    if amount <= 0:
        raise FundError(_("The amount must be greater than zero."), fields={field: [_("Must be greater than zero.")]})
    if amount != amount.quantize(CENT):
        message = _("%(currency)s amounts have at most %(places)d decimal places.", currency="USD", places=2)
        raise FundError(message, fields={field: [message]})
    return amount.quantize(CENT)


# Creation (called by the Board's approval) ---------------------------------------------------------------------

def create_grant(application: Application, amount_usd: Decimal, *, actor: User,
                 schedule: Sequence[tuple[Decimal, str]] | None = None) -> Grant:
    """Create the grant of an approved application and commit its money in the ledger.

    The grant starts "pending_signature" with the next number of the year (VTF/2027/014), the organisation,
    the amount, start and end dates from the application, the application's budget lines as the approved
    budget, the tranche schedule (default 70 % on signature, 30 % after the interim report is accepted, split by
    largest remainder so the tranches sum exactly to the award) and the report schedule (interim at mid-term,
    final within 60 days of the end). The commitment is posted with :func:`fund.ledger.commit_grant`: a
    :class:`Conflict` (409) when it exceeds the available balance, and then nothing of the grant is written
    (the work runs in a savepoint). The application's own workflow is left to the caller."""
    amount = _usd(amount_usd)
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
        number=_next_number(utcnow().year), application_id=application.id,
        organisation_id=application.organisation_id, title=application.project_title or application.reference or "",
        currency="USD", amount=amount, start_date=start, end_date=end, status="pending_signature",
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(grant)
    for pos, line in enumerate(application.budget_lines, start=1):
        grant.budget_lines.append(GrantBudgetLine(position=pos, category=line.category,
                                                  description=line.description, amount=line.total))
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
