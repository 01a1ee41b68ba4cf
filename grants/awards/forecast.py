"""The cash forecast: tranches still to be paid, month by month, against the fund's cash and the confirmed
pledges not yet received (both read from the ledger, never from the donors package)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select

from fund.accounting import figures
from fund.db import db, utcnow
from fund.money import round_money
from grants.awards.models import Disbursement, Grant, Tranche

ZERO = Decimal("0.00")
OPEN_GRANTS = ("pending_signature", "active", "suspended")


@dataclass
class Month:
    month: dt.date | None  # None: beyond the horizon
    tranches: list[dict] = field(default_factory=list)
    amount: Decimal = ZERO
    psc: Decimal = ZERO
    cumulative: Decimal = ZERO
    cash_after: Decimal = ZERO
    with_pledges_after: Decimal = ZERO

    @property
    def short(self) -> bool:
        return self.cash_after < 0


@dataclass
class Forecast:
    cash: Decimal
    receivable: Decimal
    months: list[Month]
    total: Decimal


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _add_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def cash_forecast(horizon: int = 12, today: dt.date | None = None) -> Forecast:
    """Unpaid tranches of grants that are not closed, in the month they are expected (overdue ones in the
    current month), with the programme support costs their payment will charge; the cash left after each month,
    alone and with confirmed pledges still receivable."""
    today = today or utcnow().date()
    position = figures.fund_position()
    rate = figures.psc_rate()
    paid = dict(db.session.execute(
        select(Disbursement.tranche_id, func.sum(Disbursement.amount))
        .where(Disbursement.status == "paid").group_by(Disbursement.tranche_id)).all())
    rows = db.session.execute(
        select(Tranche, Grant.number, Grant.id).join(Grant, Grant.id == Tranche.grant_id)
        .where(Grant.status.in_(OPEN_GRANTS)).order_by(Tranche.expected_on, Grant.id, Tranche.number)
    ).all()
    start = _month(today)
    months = [Month(start)]
    for _i in range(horizon - 1):
        months.append(Month(_add_month(months[-1].month)))
    later = Month(None)
    by_month = {m.month: m for m in months}
    for tranche, number, grant_id in rows:
        outstanding = tranche.amount - Decimal(paid.get(tranche.id) or 0)
        if outstanding <= 0:
            continue
        month = max(_month(tranche.expected_on), start)
        bucket = by_month.get(month, later)
        psc = round_money(rate * outstanding, "USD")
        bucket.tranches.append({"grant_id": grant_id, "number": number, "tranche": tranche.number,
                                "condition": tranche.condition, "expected_on": tranche.expected_on,
                                "amount": outstanding, "psc": psc})
        bucket.amount += outstanding
        bucket.psc += psc
    cumulative = ZERO
    result = [*months, later] if later.tranches else months
    for m in result:
        cumulative += m.amount + m.psc
        m.cumulative = cumulative
        m.cash_after = position.cash - cumulative
        m.with_pledges_after = position.cash + position.receivable - cumulative
    return Forecast(cash=position.cash, receivable=position.receivable, months=result, total=cumulative)
