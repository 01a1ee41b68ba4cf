"""What the ledger says the fund, a donor, a pledge and a grant hold: read from the kept balances
(:mod:`fund.accounting.balances`), a few rows each whatever the number of postings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import func, select

from fund.accounting import balances
from fund.accounting.models import (
    CASH,
    COMMITMENT,
    COMMITMENT_RELEASE,
    CONTRIBUTION,
    DISBURSEMENT,
    FX,
    GRANT_EXPENSE,
    GRANT_REFUND,
    GRANTS_PAYABLE,
    PLEDGE_CANCELLED,
    PLEDGE_CONFIRMED,
    PLEDGE_WRITE_OFF,
    PSC,
    PSC_CHARGE,
    PSC_RESERVE,
    RECEIVABLE,
    WRITE_OFFS,
    ZERO,
    JournalEntry,
    Posting,
)
from fund.accounting.rates import BASE_CURRENCY, from_minor
from fund.db import db
from fund.money import to_decimal


def usd_of_cents(value: int | None) -> Decimal:
    return from_minor(value or 0, BASE_CURRENCY)


def psc_rate() -> Decimal:
    """PSC_RATE from the configuration (default 0.13), as a Decimal."""
    return to_decimal(str(current_app.config.get("PSC_RATE", "0.13")))


def operating_reserve() -> Decimal:
    return to_decimal(str(current_app.config.get("OPERATING_RESERVE_USD", "0"))).quantize(Decimal("0.01"))


def round_usd(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class GrantFigures:
    """A grant's money from the ledger (USD). ``committed`` is net of releases; ``remaining`` is the commitment
    not yet disbursed (committed - paid); ``expenditure`` is paid - refunded; ``psc`` the PSC charged on it."""

    grant_id: int
    committed: Decimal = ZERO
    paid: Decimal = ZERO
    refunded: Decimal = ZERO
    remaining: Decimal = ZERO
    expenditure: Decimal = ZERO
    psc: Decimal = ZERO
    psc_reserved: Decimal = ZERO

    def as_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Decimal) else v for k, v in self.__dict__.items()}


def grants_figures(grant_ids: Iterable[int]) -> dict[int, GrantFigures]:
    """Figures of several grants with one query on their kept balances (a few rows per grant)."""
    ids = sorted(set(grant_ids))
    result = {g: GrantFigures(g) for g in ids}
    if not ids:
        return result
    for grant_id, account, kind, cents, _minor in balances.usd_by_account_kind(balances.GRANT, ids):
        f, v = result[grant_id], usd_of_cents(cents)
        if account == GRANTS_PAYABLE:
            f.remaining -= v
            if kind in (COMMITMENT, COMMITMENT_RELEASE):
                f.committed -= v
            elif kind == DISBURSEMENT:
                f.paid += v
        elif account == CASH and kind == GRANT_REFUND:
            f.refunded += v
        elif account == GRANT_EXPENSE:
            f.expenditure += v
        elif account == PSC:
            f.psc += v
        elif account == PSC_RESERVE:
            f.psc_reserved -= v
    return result


def grant_figures(grant_id: int) -> GrantFigures:
    """One grant's committed, paid, refunded, remaining, expenditure, psc and psc_reserved (USD)."""
    return grants_figures([grant_id])[grant_id]


@dataclass
class FundPosition:
    """The fund's position in USD, from the ledger.

    cash = received - disbursed - psc + refunded; committed = undisbursed grant commitments plus the PSC they will
    attract; available = cash - committed - operating reserve (OPERATING_RESERVE_USD)."""

    received: Decimal = ZERO
    receivable: Decimal = ZERO
    disbursed: Decimal = ZERO
    psc: Decimal = ZERO
    refunded: Decimal = ZERO
    cash: Decimal = ZERO
    committed: Decimal = ZERO
    operating_reserve: Decimal = ZERO
    available: Decimal = ZERO
    fx_gain_loss: Decimal = ZERO
    written_off: Decimal = ZERO
    by_kind: dict = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict:
        keys = ("received", "receivable", "disbursed", "psc", "refunded", "cash", "committed", "operating_reserve",
                "available", "fx_gain_loss", "written_off")
        return {"currency": BASE_CURRENCY, **{k: str(getattr(self, k)) for k in keys}}


def fund_position() -> FundPosition:
    """The fund position from the fund-wide kept balances (one query on a few dozen rows), whatever the number
    of postings."""
    p = FundPosition()
    for _ref, account, kind, cents, _minor in balances.usd_by_account_kind(balances.FUND):
        v = usd_of_cents(cents)
        p.by_kind[(account, kind)] = v
        if account == CASH:
            p.cash += v
            if kind == CONTRIBUTION:
                p.received += v
            elif kind == DISBURSEMENT:
                p.disbursed -= v
            elif kind == PSC_CHARGE:
                p.psc -= v
            elif kind == GRANT_REFUND:
                p.refunded += v
        elif account == RECEIVABLE:
            p.receivable += v
        elif account in (GRANTS_PAYABLE, PSC_RESERVE):
            p.committed -= v
        elif account == FX:
            p.fx_gain_loss -= v
        elif account == WRITE_OFFS:
            p.written_off += v
    p.operating_reserve = operating_reserve()
    p.available = p.cash - p.committed - p.operating_reserve
    return p


def cash_by_currency() -> list[tuple[str, Decimal, Decimal]]:
    """(currency, amount, USD at the rates received) of the cash account, per currency (kept balances)."""
    return [(c, from_minor(m, c), usd_of_cents(u)) for c, m, u in balances.by_currency(CASH)]


@dataclass
class DonorFigures:
    """A donor's money (USD): confirmed pledges at their booking rates, contributions at their receipt rates,
    written off, and what confirmed pledges still owe (at booking rates)."""

    donor_id: int
    pledged: Decimal = ZERO
    received: Decimal = ZERO
    written_off: Decimal = ZERO
    outstanding: Decimal = ZERO


def donors_figures(donor_ids: Iterable[int]) -> dict[int, DonorFigures]:
    ids = sorted(set(donor_ids))
    result = {d: DonorFigures(d) for d in ids}
    if not ids:
        return result
    for donor_id, account, kind, cents, _minor in balances.usd_by_account_kind(balances.DONOR, ids):
        f, v = result[donor_id], usd_of_cents(cents)
        if account == RECEIVABLE:
            f.outstanding += v
            if kind in (PLEDGE_CONFIRMED, PLEDGE_CANCELLED):
                f.pledged += v
        elif account == CASH and kind == CONTRIBUTION:
            f.received += v
        elif account == WRITE_OFFS:
            f.written_off += v
    return result


@dataclass
class PledgeFigures:
    """A pledge's movements in its own currency, from the receivable account."""

    pledge_id: int
    booked: Decimal | None = None
    received: Decimal = Decimal(0)
    written_off: Decimal = Decimal(0)
    cancelled: Decimal = Decimal(0)
    receivable: Decimal = Decimal(0)
    receivable_usd: Decimal = ZERO


def pledges_figures(pledges: Iterable[tuple[int, str]]) -> dict[int, PledgeFigures]:
    """Figures of several pledges ((id, currency) pairs) with one query on their kept receivable balances."""
    currencies = dict(pledges)
    result = {p: PledgeFigures(p, booked=Decimal(0)) for p in currencies}
    if not currencies:
        return result
    rows = balances.usd_by_account_kind(balances.PLEDGE, list(currencies), account=RECEIVABLE)
    for pledge_id, _account, kind, cents, minor in rows:
        f = result[pledge_id]
        v = from_minor(minor, currencies[pledge_id])
        f.receivable += v
        f.receivable_usd += usd_of_cents(cents)
        if kind == PLEDGE_CONFIRMED:
            f.booked += v
        elif kind == CONTRIBUTION:
            f.received -= v
        elif kind == PLEDGE_WRITE_OFF:
            f.written_off -= v
        elif kind == PLEDGE_CANCELLED:
            f.cancelled -= v
    return result


# The fund position over time, for the finance dashboard's chart ---------------------------------------------------


def position_history(months: int = 24, today: dt.date | None = None) -> list[tuple[dt.date, Decimal, Decimal,
                                                                                       Decimal]]:
    """(month, cash, committed, available) at the end of each of the last ``months`` months, from one aggregate
    query over the ledger (USD summed per year, month and account; balances carried forward)."""
    today = today or dt.date.today()
    entry, posting = JournalEntry, Posting
    year, month = func.extract("year", entry.value_date), func.extract("month", entry.value_date)
    rows = db.session.execute(
        select(year, month, posting.account, func.sum(posting.usd_cents)).join(entry, entry.id == posting.entry_id)
        .where(posting.account.in_((CASH, GRANTS_PAYABLE, PSC_RESERVE)))
        .group_by(year, month, posting.account)).all()
    moves: dict[dt.date, list[int]] = {}
    for y, m, account, cents in rows:
        slot = moves.setdefault(dt.date(int(y), int(m), 1), [0, 0])
        if account == CASH:
            slot[0] += int(cents)
        else:
            slot[1] -= int(cents)
    start = dt.date(today.year, today.month, 1)
    for _i in range(months - 1):
        start = (start - dt.timedelta(days=1)).replace(day=1)
    reserve = operating_reserve()
    cash = committed = 0
    for day in sorted(d for d in moves if d < start):
        cash, committed = cash + moves[day][0], committed + moves[day][1]
    out, day = [], start
    while day <= today:
        cash, committed = cash + moves.get(day, [0, 0])[0], committed + moves.get(day, [0, 0])[1]
        c, k = Decimal(cash) / 100, Decimal(committed) / 100
        out.append((day, c, k, c - k - reserve))
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return out
