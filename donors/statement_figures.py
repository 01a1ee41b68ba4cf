"""The figures of a donor statement, each read from the fund's ledger over a period: what a donor pledged, paid
and still owes, what its money was used for, what those grants achieved, and the fund's totals for context.
What a statement reads grows with the donor's own movements in the period, never with the fund: the donor's rows
of the ledger and of the attribution, the grants its money paid, and for the fund's totals its kept month
balances (:func:`fund_context`).

Everything comes from the fund's ledger (postings with their ``donor_id``, ``pledge_id`` and ``grant_id``) and,
for grants, from :func:`fund.grant_directory.directory` (donors never import grants). The figures are plain data;
:func:`donors.statements.build_statement` puts them together as a statement.

Outstanding pledges (the receivable account, per pledge and currency) reconcile exactly, in each pledge's own
currency and in USD at the pledges' booking rates::

    opening + pledged - received - written off = closing

where *pledged* is the pledges confirmed in the period net of cancellations, *received* what payments took off
the pledges and *written off* what was written off, all by ledger value date. Payments are also shown at the UN
operational rate of their own month; against a pledge the difference from the booking value is the exchange
difference of the ledger.

Use of funds (:data:`donors.statements.METHOD`) is read from the attribution the fund recorded when the money moved
(:mod:`fund.accounting.attribution`), never recomputed: the donor's unspent money at the start of the period, what it
received, what its money paid to grants and in programme support costs, and what is unspent at the end::

    opening + received - attributed - psc = held

Results are the public ones (:func:`results_of`): each attributed grant's victims assisted as the fund publishes
them, and the fund's published results, so that statements add no figure a reader could combine with others.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import case, func, or_, select

from donors.models import Contribution, Donor
from fund import disclosure
from fund.accounting import attribution, balances, ledger
from fund.accounting.balances import LedgerBalance
from fund.accounting.ledger import JournalEntry, Posting
from fund.accounting.rates import BASE_CURRENCY, from_minor
from fund.db import db
from fund.grant_directory import directory

ZERO = Decimal("0.00")
#: The accounts of the fund's figures beside a statement (:func:`fund_context`).
FUND_ACCOUNTS = (ledger.CASH, ledger.GRANT_EXPENSE, ledger.PSC)


def _usd(cents) -> Decimal:
    return from_minor(int(cents or 0), BASE_CURRENCY)


@dataclass
class Movement:
    """Opening, movements in the period and closing of outstanding pledges, in one currency."""

    currency: str
    opening: Decimal
    pledged: Decimal
    received: Decimal
    written_off: Decimal
    closing: Decimal

    @classmethod
    def zero(cls, currency: str) -> Movement:
        z = from_minor(0, currency)
        return cls(currency, z, z, z, z, z)

    @property
    def reconciles(self) -> bool:
        return self.opening + self.pledged - self.received - self.written_off == self.closing

    def add(self, other: Movement) -> None:
        for name in ("opening", "pledged", "received", "written_off", "closing"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class PledgeLine:
    id: int
    pledged_on: dt.date
    confirmed_on: dt.date | None
    amount: Decimal
    currency: str
    status: str
    earmark_type: str | None
    earmark_value: str | None
    movement: Movement
    usd: Movement


@dataclass
class Payment:
    """A payment received (or the reversal of one: negative amounts), at the rate of its month."""

    entry_id: int
    date: dt.date
    reference: str
    pledge_id: int | None
    currency: str
    amount: Decimal
    rate: Decimal
    rate_month: str
    usd: Decimal
    reversal: bool


@dataclass
class GrantShare:
    grant_id: int
    number: str
    organisation: str
    title: str
    countries: list[str]
    paid_in_period: Decimal
    unearmarked: Decimal
    earmarked: Decimal

    @property
    def total(self) -> Decimal:
        return self.unearmarked + self.earmarked


@dataclass
class EarmarkShare:
    """One of the donor's pools (an earmark, or none): unspent at the start, received, paid to grants and PSC in
    the period, unspent at the end, and how many grants it paid."""

    type: str | None
    value: str | None
    received: Decimal
    attributed: Decimal
    grants: int
    opening: Decimal = ZERO
    psc: Decimal = ZERO
    closing: Decimal = ZERO

    @property
    def held(self) -> Decimal:
        return self.closing


@dataclass
class UseOfFunds:
    """The donor's money over the period, as the fund recorded it when the money moved::

        opening (unspent at the start) + received - attributed (to grants) - psc = held (unspent at the end)
    """

    opening: Decimal = ZERO
    received: Decimal = ZERO
    attributed: Decimal = ZERO
    psc: Decimal = ZERO
    held: Decimal = ZERO
    grants: list[GrantShare] = field(default_factory=list)
    earmarks: list[EarmarkShare] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        return self.opening + self.received - self.attributed - self.psc == self.held


@dataclass
class FundContext:
    """The whole fund over the whole months of the period, ``date_from`` (the first day of its first month) to
    ``date_to`` (the last day of its last month), in USD, for context."""

    date_from: dt.date
    date_to: dt.date
    received: Decimal = ZERO
    disbursed: Decimal = ZERO
    psc: Decimal = ZERO
    cash_at_end: Decimal = ZERO


def pledge_movements(donor_id: int, date_from: dt.date, date_to: dt.date) -> dict[int, tuple[Movement, Movement]]:
    """Per pledge: (movement in its currency, movement in USD at booking values), from the receivable account."""
    before = case((JournalEntry.value_date < date_from, 1), else_=0)
    rows = db.session.execute(
        select(Posting.pledge_id, Posting.currency, JournalEntry.kind, before,
               func.sum(Posting.amount_minor), func.sum(Posting.usd_cents))
        .join(JournalEntry, Posting.entry_id == JournalEntry.id)
        .where(Posting.account == ledger.RECEIVABLE, Posting.donor_id == donor_id,
               JournalEntry.value_date <= date_to)
        .group_by(Posting.pledge_id, Posting.currency, JournalEntry.kind, before)
    ).all()
    result: dict[int, tuple[Movement, Movement]] = {}
    for pledge_id, currency, kind, is_before, minor, cents in rows:
        own, usd = result.setdefault(pledge_id, (Movement.zero(currency), Movement.zero(BASE_CURRENCY)))
        for movement, value in ((own, from_minor(int(minor), currency)), (usd, _usd(cents))):
            movement.closing += value
            if is_before:
                movement.opening += value
            elif kind in (ledger.PLEDGE_CONFIRMED, ledger.PLEDGE_CANCELLED):
                movement.pledged += value
            elif kind == ledger.CONTRIBUTION:
                movement.received -= value
            elif kind == ledger.PLEDGE_WRITE_OFF:
                movement.written_off -= value
            else:  # pragma: no cover - the receivable account has no other kind of entry
                raise ValueError(f"unexpected {kind} posting on the receivable account")
    return result


def payments_received(donor_id: int, date_from: dt.date, date_to: dt.date) -> list[Payment]:
    """Payments received in the period, from the cash postings of contribution entries (reversals included)."""
    original = func.coalesce(JournalEntry.reversal_of_id, JournalEntry.id)
    rows = db.session.execute(
        select(JournalEntry.id, JournalEntry.value_date, JournalEntry.reversal_of_id, Posting.currency,
               Posting.amount_minor, Posting.usd_cents, Posting.pledge_id, Contribution.bank_reference,
               Contribution.units_per_usd, Contribution.received_on)
        .join(JournalEntry, Posting.entry_id == JournalEntry.id)
        .outerjoin(Contribution, Contribution.ledger_entry_id == original)
        .where(Posting.account == ledger.CASH, Posting.donor_id == donor_id, JournalEntry.kind == ledger.CONTRIBUTION,
               JournalEntry.value_date >= date_from, JournalEntry.value_date <= date_to)
        .order_by(JournalEntry.value_date, JournalEntry.id)
    ).all()
    payments = []
    for entry_id, value_date, reversal_of, currency, minor, cents, pledge_id, reference, rate, received_on in rows:
        payments.append(Payment(
            entry_id=entry_id, date=value_date, reference=reference or f"#{entry_id}", pledge_id=pledge_id,
            currency=currency, amount=from_minor(minor, currency),
            rate=rate if rate is not None else Decimal(1),
            rate_month=(received_on or value_date).strftime("%Y-%m"), usd=_usd(cents),
            reversal=reversal_of is not None))
    return payments


def _grant_payments(date_from: dt.date, date_to: dt.date, grant_ids: list[int]) -> dict[int, Decimal]:
    """What the fund paid each of the given grants in the period, net of refunds (the grant expense account),
    USD > 0."""
    query = (select(Posting.grant_id, func.sum(Posting.usd_cents))
             .join(JournalEntry, Posting.entry_id == JournalEntry.id)
             .where(Posting.account == ledger.GRANT_EXPENSE, Posting.grant_id.in_(grant_ids),
                    JournalEntry.value_date >= date_from, JournalEntry.value_date <= date_to)
             .group_by(Posting.grant_id))
    return {grant_id: _usd(cents) for grant_id, cents in db.session.execute(query).all() if cents and cents > 0}


def use_of_funds(donor_id: int, date_from: dt.date, date_to: dt.date) -> UseOfFunds:
    """The donor's use of funds over the period, read from the attribution the fund recorded when the money moved
    (:mod:`fund.accounting.attribution`, see :data:`donors.statements.METHOD`): two aggregate queries on this
    donor's rows, one for the grants' facts and one for what the fund paid them, whatever the size of the fund."""
    figures = attribution.donor_use(donor_id, date_from, date_to)
    use = UseOfFunds(opening=figures.opening, received=figures.received, attributed=figures.grants_total,
                     psc=figures.psc, held=figures.closing)
    for (etype, evalue), f in sorted(figures.earmarks.items(), key=lambda i: (i[0][0] is None, i[0][0] or "",
                                                                              i[0][1] or "")):
        use.earmarks.append(EarmarkShare(etype, evalue, f["received"], f["grants"],
                                         figures.earmark_grants.get((etype, evalue), 0), opening=f["opening"],
                                         psc=f["psc"], closing=f["closing"]))
    ids = list(figures.grants)
    if not ids:
        return use
    info = directory().grants(ids)
    paid = _grant_payments(date_from, date_to, ids)
    for grant_id in ids:
        g = info.get(grant_id)
        unearmarked, earmarked = figures.grants[grant_id]
        use.grants.append(GrantShare(
            grant_id=grant_id, number=g.number if g else f"#{grant_id}", organisation=g.organisation if g else "",
            title=g.title if g else "", countries=list(g.countries) if g else [],
            paid_in_period=paid.get(grant_id, ZERO), unearmarked=unearmarked, earmarked=earmarked))
    return use


def results_of(grant_ids: list[int], date_from: dt.date, date_to: dt.date) -> dict:
    """What the grants achieved, as the fund publishes it (codes; labels are added per language by
    :func:`results_view`).

    Every figure is an entry of the public results (:func:`fund.disclosure.publication`): each grant's victims
    assisted as its public page shows them, and the fund's results by sex and age, form of exploitation, type of
    assistance and country. A statement adds no figure of its own, so any number of statements, of any donors and
    periods, read together and beside the public pages give away nothing the public pages do not: they are
    protected as one set. The victims of the statement's grants together are shown only when the public figures
    already determine them (:func:`fund.disclosure.sum_if_published`). The period chooses the grants (those the
    donor's money paid in it); their results are those of every report the fund has accepted for them to date."""
    published = disclosure.publication()
    fund_results = published.results if published is not None else None
    shown = fund_results.grants if fund_results is not None else {}
    reported = sorted(g for g in set(grant_ids) if g in shown)
    return {
        "reported": reported,
        "grants": {g: shown[g] for g in reported},
        "grants_total": disclosure.sum_if_published(reported, published) if reported else None,
        "withdrawn": fund_results.withdrawn if fund_results is not None else False,
        "total": fund_results.total if fund_results is not None else 0,
        "sex_age": fund_results.sex_age if fund_results is not None else {},
        "sexes": fund_results.sexes if fund_results is not None else {},
        "ages": fund_results.ages if fund_results is not None else {},
        "by_form": fund_results.by_form if fund_results is not None else {},
        "by_assistance": fund_results.by_assistance if fund_results is not None else {},
        "by_country": fund_results.by_country if fund_results is not None else {},
    }


def fund_context(date_from: dt.date, date_to: dt.date) -> FundContext:
    """The fund's money over the whole months the period falls in, from the kept month balances
    (:mod:`fund.accounting.balances`): one query of a few rows per month of the fund's life, whatever the number of
    postings. The fund's figures are context beside the donor's own, so they are given for whole calendar months
    (the statement names them) rather than read from every posting of the partial months at the period's ends."""
    first, last = balances.month_of(date_from), balances.month_of(date_to)
    b = LedgerBalance
    rows = db.session.execute(
        select(b.ref_id, b.account, b.kind, func.sum(b.usd_cents))
        .where(b.scope == balances.MONTH, b.account.in_(FUND_ACCOUNTS), b.ref_id <= last)
        .group_by(b.ref_id, b.account, b.kind)).all()
    end = (date_to.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    context = FundContext(date_from=date_from.replace(day=1), date_to=end)
    for month, account, kind, cents in rows:
        value = _usd(cents)
        if account == ledger.CASH:
            context.cash_at_end += value
        if month < first:
            continue
        if account == ledger.CASH and kind == ledger.CONTRIBUTION:
            context.received += value
        elif account == ledger.GRANT_EXPENSE:
            context.disbursed += value
        elif account == ledger.PSC:
            context.psc += value
    return context


def donors_with_activity(date_from: dt.date, date_to: dt.date) -> list[int]:
    """Donors with a ledger movement in the period or pledges outstanding at its start (one query)."""
    moved = (JournalEntry.value_date >= date_from) & (JournalEntry.value_date <= date_to)
    open_before = (JournalEntry.value_date < date_from) & (Posting.account == ledger.RECEIVABLE)
    rows = db.session.execute(
        select(Posting.donor_id)
        .join(JournalEntry, Posting.entry_id == JournalEntry.id)
        .where(Posting.donor_id.is_not(None), JournalEntry.value_date <= date_to)
        .group_by(Posting.donor_id)
        .having(or_(func.count(case((moved, 1))) > 0,
                    func.coalesce(func.sum(case((open_before, Posting.amount_minor), else_=0)), 0) != 0))
    ).scalars().all()
    known = set(db.session.execute(select(Donor.id).where(Donor.id.in_(rows))).scalars()) if rows else set()
    return sorted(d for d in rows if d in known)
