"""What the ledger says the fund, a donor, a pledge and a grant hold: read from the kept balances
(:mod:`fund.accounting.balances`), a few rows each whatever the number of postings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app

from fund.accounting import balances, models
from fund.accounting.models import ZERO
from fund.accounting.rates import BASE_CURRENCY, from_minor
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


#: A figure read from balances: (account, entry kinds or None for any kind, figure's attribute, sign). Every rule
#: that matches a balance's account and kind adds the balance to (sign +1) or takes it from (-1) its figure.
Rule = tuple[str, frozenset | None, str, int]


def _add(figures, rules: tuple[Rule, ...], account: str, kind: str, value: Decimal) -> None:
    for rule_account, kinds, name, sign in rules:
        if account == rule_account and (kinds is None or kind in kinds):
            current = getattr(figures, name)
            setattr(figures, name, current + value if sign > 0 else current - value)


def _read(figures_class, scope: str, ref_ids: Iterable[int], rules: tuple[Rule, ...], rows: list | None = None
          ) -> dict:
    """The figures (``figures_class``) of each of ``ref_ids`` in ``scope`` from their kept balances in USD: with
    one query, or from ``rows`` of those balances already read (see :func:`balances.usd_by_account_kind_scopes`)."""
    ids = sorted(set(ref_ids))
    if rows is None:
        rows = balances.usd_by_account_kind(scope, ids) if ids else []
    return _fold(figures_class, ids, rows, rules)


def _fold(figures_class, ref_ids: list[int], rows: Iterable, rules: tuple[Rule, ...]) -> dict:
    """The figures of each of ``ref_ids`` from balance rows (ref_id, account, kind, USD cents, minor units);
    rows of other ids are left out."""
    result = {ref_id: figures_class(ref_id) for ref_id in ref_ids}
    for ref_id, account, kind, cents, _minor in rows:
        if ref_id in result:
            _add(result[ref_id], rules, account, kind, usd_of_cents(cents))
    return result


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


_GRANT_RULES: tuple[Rule, ...] = (
    (models.GRANTS_PAYABLE, None, "remaining", -1),
    (models.GRANTS_PAYABLE, frozenset({models.COMMITMENT, models.COMMITMENT_RELEASE}), "committed", -1),
    (models.GRANTS_PAYABLE, frozenset({models.DISBURSEMENT}), "paid", +1),
    (models.CASH, frozenset({models.GRANT_REFUND}), "refunded", +1),
    (models.GRANT_EXPENSE, None, "expenditure", +1),
    (models.PSC, None, "psc", +1),
    (models.PSC_RESERVE, None, "psc_reserved", -1),
)


def grants_figures(grant_ids: Iterable[int]) -> dict[int, GrantFigures]:
    """Figures of several grants with one query on their kept balances (a few rows per grant)."""
    return _read(GrantFigures, balances.GRANT, grant_ids, _GRANT_RULES)


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


_POSITION_RULES: tuple[Rule, ...] = (
    (models.CASH, None, "cash", +1),
    (models.CASH, frozenset({models.CONTRIBUTION}), "received", +1),
    (models.CASH, frozenset({models.DISBURSEMENT}), "disbursed", -1),
    (models.CASH, frozenset({models.PSC_CHARGE}), "psc", -1),
    (models.CASH, frozenset({models.GRANT_REFUND}), "refunded", +1),
    (models.RECEIVABLE, None, "receivable", +1),
    (models.GRANTS_PAYABLE, None, "committed", -1),
    (models.PSC_RESERVE, None, "committed", -1),
    (models.FX, None, "fx_gain_loss", -1),
    (models.WRITE_OFFS, None, "written_off", +1),
)


def fund_position() -> FundPosition:
    """The fund position from the fund-wide kept balances (one query on a few dozen rows), whatever the number
    of postings."""
    p = FundPosition()
    for _ref, account, kind, cents, _minor in balances.usd_by_account_kind(balances.FUND):
        v = usd_of_cents(cents)
        p.by_kind[(account, kind)] = v
        _add(p, _POSITION_RULES, account, kind, v)
    p.operating_reserve = operating_reserve()
    p.available = p.cash - p.committed - p.operating_reserve
    return p


def cash_by_currency() -> list[tuple[str, Decimal, Decimal]]:
    """(currency, amount, USD at the rates received) of the cash account, per currency (kept balances)."""
    return [(c, from_minor(m, c), usd_of_cents(u)) for c, m, u in balances.by_currency(models.CASH)]


@dataclass
class DonorFigures:
    """A donor's money (USD): confirmed pledges at their booking rates, contributions at their receipt rates,
    written off, and what confirmed pledges still owe (at booking rates). ``exchange`` is the difference between
    the two rates on what was paid against pledges, from the exchange account (``fx_gain_loss``): a gain (+) or a
    loss (-) of the fund, not money the donor owes."""

    donor_id: int
    pledged: Decimal = ZERO
    received: Decimal = ZERO
    written_off: Decimal = ZERO
    outstanding: Decimal = ZERO
    exchange: Decimal = ZERO


_DONOR_RULES: tuple[Rule, ...] = (
    (models.RECEIVABLE, None, "outstanding", +1),
    (models.RECEIVABLE, frozenset({models.PLEDGE_CONFIRMED, models.PLEDGE_CANCELLED}), "pledged", +1),
    (models.CASH, frozenset({models.CONTRIBUTION}), "received", +1),
    (models.WRITE_OFFS, None, "written_off", +1),
    (models.FX, None, "exchange", -1),
)


def donors_figures(donor_ids: Iterable[int], *, rows: list | None = None) -> dict[int, DonorFigures]:
    """Figures of several donors with one query on their kept balances, or from ``rows`` of the donor scope
    already read."""
    return _read(DonorFigures, balances.DONOR, donor_ids, _DONOR_RULES, rows)


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


_PLEDGE_RULES: tuple[Rule, ...] = (  # in the pledge's currency
    (models.RECEIVABLE, None, "receivable", +1),
    (models.RECEIVABLE, frozenset({models.PLEDGE_CONFIRMED}), "booked", +1),
    (models.RECEIVABLE, frozenset({models.CONTRIBUTION}), "received", -1),
    (models.RECEIVABLE, frozenset({models.PLEDGE_WRITE_OFF}), "written_off", -1),
    (models.RECEIVABLE, frozenset({models.PLEDGE_CANCELLED}), "cancelled", -1),
)


def pledges_figures(pledges: Iterable[tuple[int, str]], *, rows: list | None = None) -> dict[int, PledgeFigures]:
    """Figures of several pledges ((id, currency) pairs) with one query on their kept receivable balances, or from
    ``rows`` of the pledge scope already read (their other accounts are left out)."""
    currencies = dict(pledges)
    result = {p: PledgeFigures(p, booked=Decimal(0)) for p in currencies}
    if not currencies:
        return result
    if rows is None:
        rows = balances.usd_by_account_kind(balances.PLEDGE, list(currencies), account=models.RECEIVABLE)
    for pledge_id, account, kind, cents, minor in rows:
        if account != models.RECEIVABLE or pledge_id not in result:
            continue
        f = result[pledge_id]
        f.receivable_usd += usd_of_cents(cents)
        _add(f, _PLEDGE_RULES, account, kind, from_minor(minor, currencies[pledge_id]))
    return result


# The fund position over time, for the finance dashboard's chart ---------------------------------------------------


def position_history(months: int = 24, today: dt.date | None = None) -> list[tuple[dt.date, Decimal, Decimal,
                                                                                       Decimal]]:
    """(month, cash, committed, available) at the end of each of the last ``months`` months (USD), from the kept
    balances: the fund-wide totals of cash, grants payable and PSC reserve, and their month balances from the first
    month of the chart onwards (one query, a few rows per month whatever the number of postings). Each month's end
    is worked out backwards from the totals: the movements value-dated in later months, future ones included, are
    taken off; movements before the chart's first month are in the totals and stay in every month."""
    today = today or dt.date.today()
    start = dt.date(today.year, today.month, 1)
    for _i in range(months - 1):
        start = (start - dt.timedelta(days=1)).replace(day=1)
    cash = committed = 0
    moves: dict[int, list[int]] = {}  # month (year x 100 + month) -> [cash, committed] moved in it, USD cents
    for scope, ref_id, account, cents in balances.usd_totals_and_months(
            (models.CASH, models.GRANTS_PAYABLE, models.PSC_RESERVE), start):
        cash_cents, committed_cents = (int(cents), 0) if account == models.CASH else (0, -int(cents))
        if scope == balances.FUND:
            cash, committed = cash + cash_cents, committed + committed_cents
        else:
            slot = moves.setdefault(ref_id, [0, 0])
            slot[0], slot[1] = slot[0] + cash_cents, slot[1] + committed_cents
    days, day = [], start
    while day <= today:
        days.append(day)
        day = (day + dt.timedelta(days=32)).replace(day=1)
    last = balances.month_of(days[-1])
    for month, (cash_moved, committed_moved) in moves.items():
        if month > last:
            cash, committed = cash - cash_moved, committed - committed_moved
    reserve = operating_reserve()
    out = []
    for day in reversed(days):
        c, k = usd_of_cents(cash), usd_of_cents(committed)
        out.append((day, c, k, c - k - reserve))
        cash_moved, committed_moved = moves.get(balances.month_of(day), (0, 0))
        cash, committed = cash - cash_moved, committed - committed_moved
    out.reverse()
    return out
