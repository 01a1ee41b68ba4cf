"""The fund in figures by year, from the ledger (USD): contributions received per donor (anonymous donors pooled),
grants committed, disbursements, programme support costs, refunds and the cash balance at the end of each year.

Two aggregate queries whatever the size of the fund: the postings summed per year, account and entry kind, and
the contributions' cash postings summed per year and donor, kept in memory until the ledger changes (then one
query for the donors' names and wishes). A reversal carries the kind of the entry it reverses, so every figure is
net of reversals.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from decimal import Decimal

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select

from donors.models import DONOR_TYPES, Donor
from fund.accounting import ledger
from fund.db import db

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
ANONYMOUS = "anonymous"
#: Donor types (plural, as the public pages group donors) and the anonymous donors pooled: code -> label.
DONOR_TYPE_LABELS = dict(zip((*DONOR_TYPES, ANONYMOUS), (
    _l("Member States"), _l("Intergovernmental organisations"), _l("Private sector"), _l("Foundations"),
    _l("Individuals"), _l("Other donors"), _l("Anonymous donors")), strict=True))


def _usd(cents) -> Decimal:
    return (Decimal(int(cents or 0)) * CENT).quantize(CENT)


@dataclass
class DonorLine:
    name: str  # the donor's name, or "" for the anonymous donors pooled
    type: str
    amount: Decimal


@dataclass
class Year:
    year: int
    contributions: Decimal = ZERO
    donors: list[DonorLine] = field(default_factory=list)
    by_type: dict[str, Decimal] = field(default_factory=dict)
    committed: Decimal = ZERO
    disbursed: Decimal = ZERO
    refunded: Decimal = ZERO
    psc: Decimal = ZERO
    balance: Decimal = ZERO  # cash at the end of the year

    @property
    def anonymous(self) -> Decimal:
        return sum((d.amount for d in self.donors if not d.name), ZERO)


def _year(column):
    return func.extract("year", column)


_cache: dict = {}


def _ledger_sums() -> tuple[list, list]:
    """The two aggregate queries, kept per process until the ledger changes: it is append-only, so the id of its
    latest entry names its state (a correction is a new entry)."""
    key = (current_app.config["SQLALCHEMY_DATABASE_URI"],
           db.session.execute(select(func.max(ledger.JournalEntry.id))).scalar())
    if key in _cache:
        return _cache[key]
    year = _year(ledger.JournalEntry.value_date)
    rows = db.session.execute(
        select(year, ledger.Posting.account, ledger.JournalEntry.kind, func.sum(ledger.Posting.usd_cents))
        .join(ledger.JournalEntry, ledger.JournalEntry.id == ledger.Posting.entry_id)
        .group_by(year, ledger.Posting.account, ledger.JournalEntry.kind)).all()
    donor_rows = db.session.execute(
        select(year, ledger.Posting.donor_id, func.sum(ledger.Posting.usd_cents))
        .join(ledger.JournalEntry, ledger.JournalEntry.id == ledger.Posting.entry_id)
        .where(ledger.Posting.account == ledger.CASH, ledger.JournalEntry.kind == ledger.CONTRIBUTION)
        .group_by(year, ledger.Posting.donor_id)).all()
    _cache.clear()
    _cache[key] = (list(rows), list(donor_rows))
    return _cache[key]


_years: dict = {}
TTL = 300  # seconds: a donor renamed (the fingerprint misses a name of the same length) shows within this time


def by_year() -> list[Year]:
    """Every year with a movement, oldest first: computed again when the ledger or the donors change."""
    donors_mark = db.session.execute(
        select(func.count(Donor.id), func.coalesce(func.sum(func.length(Donor.name) * Donor.id), 0),
               func.coalesce(func.sum(case((Donor.anonymous.is_(True), Donor.id), else_=0)), 0))).one()
    key = (current_app.config["SQLALCHEMY_DATABASE_URI"],
           db.session.execute(select(func.max(ledger.JournalEntry.id))).scalar(), tuple(donors_mark))
    cached = _years.get(key)
    if cached is not None and time.monotonic() - cached[0] < TTL:
        return cached[1]
    years = _by_year()
    _years.clear()
    _years[key] = (time.monotonic(), years)
    return years


def _by_year() -> list[Year]:
    rows, donor_rows = _ledger_sums()
    years: dict[int, Year] = {}
    for y, account, kind, cents in rows:
        item = years.setdefault(int(y), Year(int(y)))
        v = _usd(cents)
        if account == ledger.CASH:
            item.balance += v
            if kind == ledger.CONTRIBUTION:
                item.contributions += v
            elif kind == ledger.DISBURSEMENT:
                item.disbursed -= v
            elif kind == ledger.GRANT_REFUND:
                item.refunded += v
            elif kind == ledger.PSC_CHARGE:
                item.psc -= v
        elif account == ledger.GRANTS_PAYABLE and kind == ledger.COMMITMENT:
            item.committed -= v
    donor_ids = {d for _y, d, _c in donor_rows if d is not None}
    donors = {d.id: d for d in db.session.execute(select(Donor).where(Donor.id.in_(donor_ids))).scalars()} \
        if donor_ids else {}
    pooled: dict[int, Decimal] = {}
    for y, donor_id, cents in donor_rows:
        item = years[int(y)]
        v = _usd(cents)
        donor = donors.get(donor_id)
        if donor is None or donor.anonymous:
            pooled[int(y)] = pooled.get(int(y), ZERO) + v
            kind = ANONYMOUS
        else:
            item.donors.append(DonorLine(donor.name, donor.type, v))
            kind = donor.type if donor.type in DONOR_TYPES else "other"
        item.by_type[kind] = item.by_type.get(kind, ZERO) + v
    for y, amount in pooled.items():
        years[y].donors.append(DonorLine("", ANONYMOUS, amount))
    balance = ZERO
    for item in sorted(years.values(), key=lambda i: i.year):
        balance += item.balance
        item.balance = balance
        item.donors.sort(key=lambda d: (d.name == "", -d.amount, d.name))
    return sorted(years.values(), key=lambda i: i.year)


def totals(years: list[Year]) -> Year:
    """All years together (the balance is the latest)."""
    out = Year(0)
    for y in years:
        out.contributions += y.contributions
        out.committed += y.committed
        out.disbursed += y.disbursed
        out.refunded += y.refunded
        out.psc += y.psc
        for k, v in y.by_type.items():
            out.by_type[k] = out.by_type.get(k, ZERO) + v
    out.balance = years[-1].balance if years else ZERO
    return out


def current_year() -> int:
    return dt.date.today().year
