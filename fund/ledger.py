"""The fund's double-entry ledger: every movement of money, in its own currency and in USD.

A :class:`JournalEntry` has two or more :class:`Posting` rows. Each posting names an account, holds the amount in
its own currency (integer minor units) and in USD (integer cents), the exact exchange-rate version it used, and
optional dimensions ``donor_id``, ``pledge_id`` and ``grant_id`` (plain indexed integers: the ledger knows no
domain tables). Debits are positive, credits negative. Every entry balances to zero in each currency and in USD;
exchange differences go to ``fx_gain_loss`` (a posting of 0 in the currency and the difference in USD).

Append-only: there is no update or delete path, and on PostgreSQL a trigger refuses UPDATE and DELETE on the
ledger tables. A correction is a reversing entry linked to the original (``reversal_of_id``, unique: an entry is
reversed at most once). "Reversed" is derived from that link, never written on the original.

Figures (fund position, per-donor, per-pledge, per-grant) are read from balances that :func:`post_entry` keeps
current in the posting's transaction (:mod:`fund.balances`): a few rows each, whatever the number of postings.
`flask ledger check` recomputes every balance from the postings.

Which donors' money paid which grant is recorded by the same functions, in the same transaction, beside the
postings (:mod:`fund.attribution`): contributions fill the donors' pools, payments, refunds, PSC and reversals
move money out of them and back.

Grants and donors move money only through the public functions below. Functions that check a limited resource
(available balance, cash, a grant's outstanding commitment, a pledge's receivable) take the fund lock first:
the single row of :class:`LedgerLock` with ``SELECT ... FOR UPDATE`` on PostgreSQL (SQLite transactions are
``BEGIN IMMEDIATE`` already). Call them before :func:`fund.audit.record` in an operation (or call
:func:`lock_fund` first) so that locks are always taken in the same order. None of them commits.

Accounts and what their balances mean (USD):

====================== =========================================================================
cash                   money held, per currency
contributions_receivable confirmed pledges not yet received, per donor, pledge and currency
contribution_revenue   contributions recognised (confirmed pledges, unpledged receipts)
pledge_write_offs      pledged amounts that will not be received
commitments            fund balance set aside for grants (mirror of the two lines below)
grants_payable         grant commitments not yet disbursed, per grant
psc_reserve            programme support costs that the outstanding commitments will attract
grant_expense          disbursements net of grantee refunds, per grant
programme_support_costs PSC charged: PSC_RATE x expenditure, cumulatively per grant
fx_gain_loss           exchange differences between the pledge rate and the receipt rate
====================== =========================================================================
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from fund import attribution, audit, balances
from fund.audit import make_append_only
from fund.db import UTCDateTime, db, utcnow
from fund.errors import Conflict, FundError
from fund.money import MoneyError, to_decimal
from fund.rates import BASE_CURRENCY, RateUsed, check_places, from_minor, rate_for, to_minor
from fund.rates import translate as _

# Chart of accounts --------------------------------------------------------------------------------------------

CASH = "cash"
RECEIVABLE = "contributions_receivable"
REVENUE = "contribution_revenue"
WRITE_OFFS = "pledge_write_offs"
COMMITMENTS = "commitments"
GRANTS_PAYABLE = "grants_payable"
PSC_RESERVE = "psc_reserve"
GRANT_EXPENSE = "grant_expense"
PSC = "programme_support_costs"
FX = "fx_gain_loss"

ACCOUNTS: dict[str, str] = {
    CASH: "Cash",
    RECEIVABLE: "Contributions receivable",
    REVENUE: "Contribution revenue",
    WRITE_OFFS: "Pledges written off",
    COMMITMENTS: "Fund balance committed to grants",
    GRANTS_PAYABLE: "Grants payable (commitments)",
    PSC_RESERVE: "Programme support costs on commitments",
    GRANT_EXPENSE: "Grant expense",
    PSC: "Programme support costs",
    FX: "Exchange gain or loss",
}

# Entry kinds (a reversing entry has the kind of the entry it reverses).
PLEDGE_CONFIRMED = "pledge_confirmed"
PLEDGE_CANCELLED = "pledge_cancelled"
PLEDGE_WRITE_OFF = "pledge_write_off"
CONTRIBUTION = "contribution"
COMMITMENT = "commitment"
COMMITMENT_RELEASE = "commitment_release"
DISBURSEMENT = "disbursement"
GRANT_REFUND = "grant_refund"
PSC_CHARGE = "psc"

KINDS: dict[str, str] = {
    PLEDGE_CONFIRMED: "Pledge confirmed",
    PLEDGE_CANCELLED: "Pledge cancelled",
    PLEDGE_WRITE_OFF: "Pledge written off",
    CONTRIBUTION: "Contribution received",
    COMMITMENT: "Grant committed",
    COMMITMENT_RELEASE: "Commitment released",
    DISBURSEMENT: "Disbursement paid",
    GRANT_REFUND: "Grantee refund",
    PSC_CHARGE: "Programme support costs",
}
GRANT_KINDS = frozenset({COMMITMENT, COMMITMENT_RELEASE, DISBURSEMENT, GRANT_REFUND, PSC_CHARGE})

ZERO = Decimal("0.00")


class UnbalancedEntry(ValueError):
    """A programming error: the lines of an entry do not balance (never a user error)."""


# Models -------------------------------------------------------------------------------------------------------


class LedgerLock(db.Model):
    """The single row that operations guarding the fund's money lock (``SELECT ... FOR UPDATE``)."""

    __tablename__ = "ledger_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class JournalEntry(db.Model):
    __tablename__ = "journal_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    value_date: Mapped[dt.date] = mapped_column(Date, index=True)
    posted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    description: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    #: The entry this one reverses; unique, so an entry is reversed at most once.
    reversal_of_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entry.id"), unique=True)

    postings: Mapped[list[Posting]] = relationship(back_populates="entry", order_by="Posting.line", lazy="selectin")
    reversal_of: Mapped[JournalEntry | None] = relationship(
        remote_side=[id], foreign_keys=[reversal_of_id], back_populates="reversed_by", lazy="select")
    reversed_by: Mapped[JournalEntry | None] = relationship(
        back_populates="reversal_of", foreign_keys=[reversal_of_id], uselist=False, lazy="select")

    @property
    def is_reversal(self) -> bool:
        return self.reversal_of_id is not None

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind)

    def __repr__(self) -> str:
        return f"<JournalEntry {self.id} {self.kind}>"


class Posting(db.Model):
    __tablename__ = "ledger_posting"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entry.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    account: Mapped[str] = mapped_column(String(40), index=True)
    currency: Mapped[str] = mapped_column(ForeignKey("currency.code"), index=True)
    #: The amount in integer minor units of ``currency`` (debit positive).
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    #: The amount in US cents (debit positive).
    usd_cents: Mapped[int] = mapped_column(BigInteger)
    exchange_rate_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_rate.id"), index=True)
    donor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    pledge_id: Mapped[int | None] = mapped_column(Integer, index=True)
    grant_id: Mapped[int | None] = mapped_column(Integer, index=True)

    entry: Mapped[JournalEntry] = relationship(back_populates="postings")

    @property
    def amount(self) -> Decimal:
        return from_minor(self.amount_minor, self.currency)

    @property
    def usd(self) -> Decimal:
        return from_minor(self.usd_cents, BASE_CURRENCY)


for _table in (JournalEntry.__table__, Posting.__table__):
    make_append_only(_table)


# Posting ------------------------------------------------------------------------------------------------------


@dataclass
class Line:
    """One line of an entry being built. Debits positive, credits negative."""

    account: str
    currency: str
    amount: Decimal
    usd: Decimal
    rate_id: int | None = None
    donor_id: int | None = None
    pledge_id: int | None = None
    grant_id: int | None = None


def _today() -> dt.date:
    return utcnow().date()


def _actor_id(actor) -> int | None:
    return getattr(actor, "id", None)


def held_in_transaction(name: str) -> bool:
    """Whether :func:`hold_in_transaction` was called for ``name`` in a transaction still open: a row lock taken
    then is still held (PostgreSQL releases it only at the end of the transaction, or at the rollback of the
    savepoint it was taken in, which ends that savepoint's transaction too)."""
    txn = db.session.info.get(("held", name))
    return txn is not None and txn.is_active


def hold_in_transaction(name: str) -> None:
    session = db.session()
    session.info[("held", name)] = session.get_nested_transaction() or session.get_transaction()


def lock_fund() -> None:
    """Take the fund lock for the rest of the transaction (PostgreSQL: ``SELECT ... FOR UPDATE`` of the single
    :class:`LedgerLock` row, created on first use; SQLite: the transaction already holds the write lock). Once per
    transaction: an operation and the postings it makes both ask for it."""
    if held_in_transaction("fund"):
        return
    stmt = select(LedgerLock.id).where(LedgerLock.id == 1).with_for_update()
    if db.session.execute(stmt).first() is not None:
        hold_in_transaction("fund")
        return
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    db.session.execute(insert(LedgerLock).values(id=1).on_conflict_do_nothing())
    db.session.execute(stmt)
    hold_in_transaction("fund")


def post_entry(kind: str, lines: Iterable[Line], *, value_date: dt.date | None = None, description: str = "",
               actor=None, reversal_of: JournalEntry | None = None) -> JournalEntry:
    """Write one balanced entry (the low-level primitive; prefer the named functions below).

    Amounts must fit their currency's minor units and USD amounts the cent: rounding happens once, before, in
    the caller's conversion. Raises :class:`UnbalancedEntry` unless the lines sum to zero in each currency and in
    USD. Lines of zero in both are dropped. Audited (``ledger.post``). Adds the postings to the kept balances
    (:mod:`fund.balances`) in the same transaction."""
    if kind not in KINDS:
        raise ValueError(f"unknown entry kind {kind!r}")
    rows = []
    per_currency: dict[str, int] = defaultdict(int)
    usd_total = 0
    for line in lines:
        if line.account not in ACCOUNTS:
            raise ValueError(f"unknown account {line.account!r}")
        try:
            minor = to_minor(line.amount, line.currency)
            cents = to_minor(line.usd, BASE_CURRENCY)
        except MoneyError as exc:
            raise UnbalancedEntry(f"{line}: {exc}") from exc
        if minor == 0 and cents == 0:
            continue
        per_currency[line.currency] += minor
        usd_total += cents
        rows.append((line, minor, cents))
    unbalanced = {c: s for c, s in per_currency.items() if s}
    if unbalanced or usd_total:
        raise UnbalancedEntry(f"{kind} entry does not balance: per currency {unbalanced}, USD cents {usd_total}")
    if len(rows) < 2:
        raise UnbalancedEntry(f"{kind} entry needs at least two postings")
    entry = JournalEntry(kind=kind, value_date=value_date or _today(), posted_at=utcnow(),
                         description=(description or KINDS[kind])[:500], created_by_id=_actor_id(actor),
                         reversal_of_id=reversal_of.id if reversal_of is not None else None)
    entry.postings = [
        Posting(line=i, account=line.account, currency=line.currency, amount_minor=minor, usd_cents=cents,
                exchange_rate_id=line.rate_id, donor_id=line.donor_id, pledge_id=line.pledge_id,
                grant_id=line.grant_id)
        for i, (line, minor, cents) in enumerate(rows, start=1)
    ]
    db.session.add(entry)
    if reversal_of is None:
        db.session.flush()
    else:
        try:
            with db.session.begin_nested():  # the unique reversal_of_id backs the check made under the lock
                db.session.flush()
        except IntegrityError as exc:
            raise Conflict(_("Entry %(id)d has already been reversed.", id=reversal_of.id)) from exc
    balances.apply(kind, entry.postings)  # same transaction, under the callers' fund lock
    what = f"{kind}, reversing entry {reversal_of.id}" if reversal_of is not None else kind
    audit.record(
        "ledger.reverse" if reversal_of is not None else "ledger.post", entry, actor=actor,
        summary=f"Ledger entry {entry.id} ({what}): {entry.description}",
        changes={"postings": [None, [[p.account, p.currency, str(p.amount), str(p.usd), p.donor_id, p.pledge_id,
                                      p.grant_id] for p in entry.postings]]},
    )
    return entry


def _usd(amount, field_name: str = "amount_usd") -> Decimal:
    try:
        value = to_decimal(amount)
    except MoneyError as exc:
        raise FundError(str(exc), fields={field_name: [str(exc)]}) from exc
    if value <= 0:
        raise FundError(_("The amount must be greater than zero."),
                        fields={field_name: [_("Must be greater than zero.")]})
    if value != value.quantize(Decimal("0.01")):
        message = _("%(currency)s amounts have at most %(places)d decimal places.", currency="USD", places=2)
        raise FundError(message, fields={field_name: [message]})
    return value.quantize(Decimal("0.01"))


def _cents(value: int | None) -> Decimal:
    return from_minor(value or 0, BASE_CURRENCY)


# Receivables (pledges) ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Receivable:
    """What a confirmed pledge still owes: in its currency and at its booking rate in USD."""

    currency: str
    amount: Decimal
    usd: Decimal
    rate_id: int | None


def receivable(pledge_id: int, currency: str) -> Receivable:
    """The receivable balance of a pledge (two small queries)."""
    minor, cents = db.session.execute(
        select(func.coalesce(func.sum(Posting.amount_minor), 0), func.coalesce(func.sum(Posting.usd_cents), 0))
        .where(Posting.account == RECEIVABLE, Posting.pledge_id == pledge_id, Posting.currency == currency)
    ).one()
    rate_id = db.session.execute(
        select(Posting.exchange_rate_id).join(JournalEntry)
        .where(Posting.account == RECEIVABLE, Posting.pledge_id == pledge_id, Posting.amount_minor > 0,
               JournalEntry.kind == PLEDGE_CONFIRMED, JournalEntry.reversal_of_id.is_(None))
        .order_by(Posting.id.desc()).limit(1)
    ).scalar_one_or_none()
    return Receivable(currency, from_minor(minor, currency), _cents(cents), rate_id)


def _carrying(amount: Decimal, bal: Receivable) -> Decimal:
    """The USD carrying value of ``amount`` of a receivable: all of it when it clears the balance, otherwise
    the proportional share (ROUND_HALF_UP), so the USD balance reaches zero exactly with the currency balance."""
    if amount == bal.amount:
        return bal.usd
    return (bal.usd * amount / bal.amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def post_pledge_confirmed(*, donor_id: int, pledge_id: int, amount: Decimal, currency: str, value_date: dt.date,
                          rate: RateUsed | None = None, description: str = "", actor=None) -> JournalEntry:
    """A pledge confirmed by agreement: Dr contributions receivable / Cr contribution revenue, in the pledge's
    currency, at the rate of ``value_date``'s month (or ``rate``). Raises MissingRate (422) without a rate."""
    lock_fund()
    rate = rate or rate_for(currency, value_date)
    usd = rate.to_usd(amount)
    dims = {"donor_id": donor_id, "pledge_id": pledge_id}
    return post_entry(PLEDGE_CONFIRMED, [
        Line(RECEIVABLE, currency, amount, usd, rate.id, **dims),
        Line(REVENUE, currency, -amount, -usd, rate.id, **dims),
    ], value_date=value_date, description=description or f"Pledge {pledge_id} confirmed", actor=actor)


def post_pledge_cancelled(*, donor_id: int, pledge_id: int, currency: str, value_date: dt.date | None = None,
                          description: str = "", actor=None) -> JournalEntry:
    """Cancel what a confirmed pledge still owes: Dr revenue / Cr receivable, at the booking value."""
    lock_fund()
    bal = receivable(pledge_id, currency)
    if bal.amount <= 0:
        raise Conflict(_("This pledge has nothing receivable to cancel."))
    dims = {"donor_id": donor_id, "pledge_id": pledge_id}
    return post_entry(PLEDGE_CANCELLED, [
        Line(REVENUE, currency, bal.amount, bal.usd, bal.rate_id, **dims),
        Line(RECEIVABLE, currency, -bal.amount, -bal.usd, bal.rate_id, **dims),
    ], value_date=value_date, description=description or f"Pledge {pledge_id} cancelled", actor=actor)


def post_pledge_write_off(*, donor_id: int, pledge_id: int, amount: Decimal, currency: str,
                          value_date: dt.date | None = None, description: str = "", actor=None) -> JournalEntry:
    """Write off part or all of what a pledge still owes: Dr pledges written off / Cr receivable."""
    lock_fund()
    bal = receivable(pledge_id, currency)
    if amount <= 0 or amount > bal.amount:
        message = _("At most the outstanding amount, %(amount)s %(currency)s.", amount=bal.amount, currency=currency)
        raise FundError(message, fields={"amount": [message]})
    usd = _carrying(amount, bal)
    dims = {"donor_id": donor_id, "pledge_id": pledge_id}
    return post_entry(PLEDGE_WRITE_OFF, [
        Line(WRITE_OFFS, currency, amount, usd, bal.rate_id, **dims),
        Line(RECEIVABLE, currency, -amount, -usd, bal.rate_id, **dims),
    ], value_date=value_date, description=description or f"Pledge {pledge_id} written off", actor=actor)


def post_contribution_received(*, donor_id: int, amount: Decimal, currency: str, value_date: dt.date,
                               pledge_id: int | None = None, rate: RateUsed | None = None, description: str = "",
                               earmark: tuple[str | None, str | None] | None = None, actor=None) -> JournalEntry:
    """Money received from a donor, converted at the rate of ``value_date``'s month (or ``rate``).

    Against a confirmed pledge: Dr cash (receipt rate) / Cr receivable (booking value), the exchange difference
    to FX gain/loss. Unpledged: Dr cash / Cr contribution revenue. Refuses more than the pledge's receivable.
    The USD received goes into the donor's pool of ``earmark`` ((type, value) of the pledge, or None): see
    :mod:`fund.attribution`."""
    lock_fund()
    rate = rate or rate_for(currency, value_date)
    usd = rate.to_usd(amount)
    if pledge_id is None:
        lines = [Line(CASH, currency, amount, usd, rate.id, donor_id=donor_id),
                 Line(REVENUE, currency, -amount, -usd, rate.id, donor_id=donor_id)]
    else:
        bal = receivable(pledge_id, currency)
        if amount > bal.amount:
            message = _("The payment is larger than the pledge's outstanding amount (%(amount)s %(currency)s): "
                        "record it against no pledge (unpledged) or split it.", amount=bal.amount, currency=currency)
            raise FundError(message, fields={"amount": [message]})
        carrying = _carrying(amount, bal)
        dims = {"donor_id": donor_id, "pledge_id": pledge_id}
        lines = [Line(CASH, currency, amount, usd, rate.id, **dims),
                 Line(RECEIVABLE, currency, -amount, -carrying, bal.rate_id, **dims),
                 Line(FX, currency, Decimal(0), carrying - usd, rate.id, **dims)]
    entry = post_entry(CONTRIBUTION, lines, value_date=value_date, actor=actor,
                       description=description or f"Contribution received from donor {donor_id}")
    attribution.record_contribution(entry, donor_id=donor_id, usd=usd, earmark=earmark)
    db.session.flush()
    return entry


# Grants -------------------------------------------------------------------------------------------------------


def psc_rate() -> Decimal:
    """PSC_RATE from the configuration (default 0.13), as a Decimal."""
    return to_decimal(str(current_app.config.get("PSC_RATE", "0.13")))


def operating_reserve() -> Decimal:
    return to_decimal(str(current_app.config.get("OPERATING_RESERVE_USD", "0"))).quantize(Decimal("0.01"))


def _round_usd(value: Decimal) -> Decimal:
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
        f, v = result[grant_id], _cents(cents)
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


def _psc_lines(f: GrantFigures, *, charge: bool) -> tuple[list[Line], Decimal]:
    """Lines that bring a grant's PSC to PSC_RATE x expenditure (cumulative, so rounding never drifts) when
    ``charge``, and its PSC reserve to what the outstanding commitment will attract. Returns (lines, charge)."""
    rate = psc_rate()
    lines: list[Line] = []
    target = _round_usd(rate * f.expenditure) if charge else f.psc
    delta = target - f.psc
    if delta:
        lines += [Line(PSC, BASE_CURRENCY, delta, delta, grant_id=f.grant_id),
                  Line(CASH, BASE_CURRENCY, -delta, -delta, grant_id=f.grant_id)]
    reserve = max(ZERO, _round_usd(rate * (f.expenditure + f.remaining)) - target)
    r_delta = reserve - f.psc_reserved
    if r_delta:
        lines += [Line(COMMITMENTS, BASE_CURRENCY, r_delta, r_delta, grant_id=f.grant_id),
                  Line(PSC_RESERVE, BASE_CURRENCY, -r_delta, -r_delta, grant_id=f.grant_id)]
    return lines, delta


def _psc_true_up(grant_id: int, *, value_date: dt.date | None, actor, description: str = "") -> JournalEntry | None:
    """Bring a grant's PSC to PSC_RATE x its expenditure; the donors' pools pay the PSC charged (or get back the
    PSC given back) like the expenditure itself (:mod:`fund.attribution`)."""
    lines, delta = _psc_lines(grant_figures(grant_id), charge=True)
    if not lines:
        return None
    entry = post_entry(PSC_CHARGE, lines, value_date=value_date, actor=actor,
                       description=description or f"Programme support costs of grant {grant_id}: {delta} USD")
    if delta > 0:
        attribution.attribute_payment(entry, grant_id, delta, attribution.PSC)
    elif delta < 0:
        attribution.return_from_grant(entry, grant_id, -delta, attribution.PSC)
    db.session.flush()
    return entry


def commit_grant(grant_id: int, amount_usd: Decimal, *, value_date: dt.date | None = None, description: str = "",
                 actor=None) -> JournalEntry:
    """Commit ``amount_usd`` to a grant: Dr commitments / Cr grants payable, plus the PSC the commitment will
    attract (Cr psc_reserve), so that the fund can always pay it and its PSC.

    Under the fund lock, refuses with :class:`Conflict` (409) when the amount plus its PSC exceeds the available
    balance (cash - committed - operating reserve): concurrent commitments can never together exceed it."""
    amount = _usd(amount_usd)
    lock_fund()
    f = grant_figures(grant_id)
    f.remaining += amount
    psc_lines, _charge = _psc_lines(f, charge=False)
    reserve = sum((ln.usd for ln in psc_lines if ln.account == COMMITMENTS), ZERO)
    position = fund_position()
    needed = amount + reserve
    if needed > position.available:
        raise Conflict(_("Committing USD %(amount)s (USD %(needed)s with programme support costs) exceeds the "
                         "available balance of USD %(available)s.", amount=amount, needed=needed,
                         available=position.available),
                       fields={"amount_usd": [_("At most USD %(available)s is available, programme support costs "
                                                "included.", available=max(position.available, ZERO))]})
    lines = [Line(COMMITMENTS, BASE_CURRENCY, amount, amount, grant_id=grant_id),
             Line(GRANTS_PAYABLE, BASE_CURRENCY, -amount, -amount, grant_id=grant_id), *psc_lines]
    return post_entry(COMMITMENT, lines, value_date=value_date, actor=actor,
                      description=description or f"Grant {grant_id} committed")


def release_commitment(grant_id: int, amount_usd: Decimal | None = None, *, value_date: dt.date | None = None,
                       description: str = "", actor=None) -> JournalEntry:
    """Release all (``amount_usd=None``) or part of a grant's undisbursed commitment back to the available
    balance, with its PSC reserve. Refuses (409) more than the outstanding commitment."""
    lock_fund()
    f = grant_figures(grant_id)
    amount = f.remaining if amount_usd is None else _usd(amount_usd)
    if amount <= 0 or amount > f.remaining:
        raise Conflict(_("Grant %(grant)d has USD %(remaining)s of commitment outstanding; USD %(amount)s cannot "
                         "be released.", grant=grant_id, remaining=f.remaining, amount=amount),
                       fields={"amount_usd": [_("At most USD %(amount)s.", amount=f.remaining)]})
    f.remaining -= amount
    psc_lines, _charge = _psc_lines(f, charge=False)
    lines = [Line(GRANTS_PAYABLE, BASE_CURRENCY, amount, amount, grant_id=grant_id),
             Line(COMMITMENTS, BASE_CURRENCY, -amount, -amount, grant_id=grant_id), *psc_lines]
    return post_entry(COMMITMENT_RELEASE, lines, value_date=value_date, actor=actor,
                      description=description or f"Commitment of grant {grant_id} released")


@dataclass
class GrantPosting:
    """What a disbursement or a refund posted: its entry, the PSC entry (if PSC changed) and the PSC amount
    charged (negative when a refund gave PSC back), in USD."""

    entry: JournalEntry
    psc_entry: JournalEntry | None
    psc_usd: Decimal
    usd: Decimal


def pay_disbursement(grant_id: int, amount_usd: Decimal, *, value_date: dt.date | None = None,
                     description: str = "", actor=None) -> GrantPosting:
    """Pay ``amount_usd`` of a grant: Dr grants payable / Cr cash (USD) and Dr grant expense / Cr commitments; then
    a PSC entry charging PSC_RATE x the grant's total expenditure - PSC already charged (Dr PSC / Cr cash).

    Under the fund lock, refuses (409) more than the grant's outstanding commitment, or when cash (all currencies,
    in USD) cannot cover the payment and its PSC."""
    amount = _usd(amount_usd)
    lock_fund()
    f = grant_figures(grant_id)
    if amount > f.remaining:
        raise Conflict(_("USD %(amount)s exceeds the outstanding commitment of grant %(grant)d (USD %(remaining)s).",
                         amount=amount, grant=grant_id, remaining=f.remaining),
                       fields={"amount_usd": [_("At most USD %(amount)s.", amount=f.remaining)]})
    psc_charge = _round_usd(psc_rate() * (f.expenditure + amount)) - f.psc
    cash = fund_position().cash
    if amount + psc_charge > cash:
        raise Conflict(_("Cash of USD %(cash)s cannot cover USD %(amount)s and its programme support costs "
                         "(USD %(psc)s).", cash=cash, amount=amount, psc=psc_charge),
                       fields={"amount_usd": [_("Cash is insufficient.")]})
    entry = post_entry(DISBURSEMENT, [
        Line(GRANTS_PAYABLE, BASE_CURRENCY, amount, amount, grant_id=grant_id),
        Line(CASH, BASE_CURRENCY, -amount, -amount, grant_id=grant_id),
        Line(GRANT_EXPENSE, BASE_CURRENCY, amount, amount, grant_id=grant_id),
        Line(COMMITMENTS, BASE_CURRENCY, -amount, -amount, grant_id=grant_id),
    ], value_date=value_date, actor=actor, description=description or f"Disbursement to grant {grant_id}")
    attribution.attribute_payment(entry, grant_id, amount)
    psc_entry = _psc_true_up(grant_id, value_date=value_date, actor=actor)
    return GrantPosting(entry, psc_entry, psc_charge, amount)


def record_grant_refund(grant_id: int, amount: Decimal, currency: str = BASE_CURRENCY, *,
                        value_date: dt.date | None = None, rate: RateUsed | None = None, description: str = "",
                        actor=None) -> GrantPosting:
    """Money a grantee paid back, in any currency: Dr cash / Cr grant expense at the rate of ``value_date``'s month
    (or ``rate``); then a PSC entry recomputing PSC cumulatively on the reduced expenditure (Cr PSC / Dr cash).

    ``amount`` must fit its currency. Refuses (409) a refund larger, in USD, than the grant's net expenditure;
    MissingRate (422) without a rate."""
    value_date = value_date or _today()
    try:
        value = check_places(to_decimal(amount), currency)
    except MoneyError as exc:
        raise FundError(str(exc), fields={"amount": [str(exc)]}) from exc
    if value <= 0:
        raise FundError(_("The amount must be greater than zero."),
                        fields={"amount": [_("Must be greater than zero.")]})
    lock_fund()
    rate = rate or rate_for(currency, value_date)
    usd = rate.to_usd(value)
    f = grant_figures(grant_id)
    if usd > f.expenditure:
        raise Conflict(_("A refund of USD %(usd)s exceeds what grant %(grant)d has spent (USD %(spent)s).", usd=usd,
                         grant=grant_id, spent=f.expenditure),
                       fields={"amount": [_("At most USD %(amount)s in value.", amount=f.expenditure)]})
    entry = post_entry(GRANT_REFUND, [
        Line(CASH, currency, value, usd, rate.id, grant_id=grant_id),
        Line(GRANT_EXPENSE, currency, -value, -usd, rate.id, grant_id=grant_id),
    ], value_date=value_date, actor=actor, description=description or f"Refund from grant {grant_id}")
    attribution.return_from_grant(entry, grant_id, usd)
    before = f.psc
    psc_entry = _psc_true_up(grant_id, value_date=value_date, actor=actor)
    after = grant_figures(grant_id).psc if psc_entry else before
    return GrantPosting(entry, psc_entry, after - before, usd)


# Reversal -----------------------------------------------------------------------------------------------------

#: kind -> callables(original, reversal) run after a reversal is posted, in the same transaction. They may raise
#: FundError to refuse it (the caller's transaction is then rolled back). Domain packages register them.
_REVERSAL_HOOKS: dict[str, dict[str, Callable[[JournalEntry, JournalEntry], None]]] = defaultdict(dict)


def on_reversal(*kinds: str) -> Callable:
    """Register ``fn(original, reversal)`` to run when an entry of one of ``kinds`` is reversed."""

    def decorator(fn: Callable[[JournalEntry, JournalEntry], None]):
        for kind in kinds:
            _REVERSAL_HOOKS[kind][f"{fn.__module__}.{fn.__qualname__}"] = fn
        return fn

    return decorator


def reversal_of(entry_id: int) -> JournalEntry | None:
    return db.session.execute(select(JournalEntry).where(JournalEntry.reversal_of_id == entry_id)).scalar_one_or_none()


def reverse_entry(entry: JournalEntry | int, *, reason: str, value_date: dt.date | None = None,
                  actor=None) -> JournalEntry:
    """Reverse an entry: a new entry of the same kind with every posting negated (same accounts, dimensions and
    rate versions), linked to the original. Refuses (409) a second reversal, the reversal of a reversal, and of a
    PSC entry (PSC follows expenditure: reverse the disbursement or refund). Afterwards receivables and grant
    commitments must not be negative, PSC of the grants concerned is recomputed, and the domain hooks run."""
    reason = (reason or "").strip()
    if not reason:
        message = _("Give the reason for the reversal.")
        raise FundError(message, fields={"reason": [message]})
    lock_fund()
    entry_id = entry if isinstance(entry, int) else entry.id
    original = db.session.get(JournalEntry, entry_id, populate_existing=True)
    if original is None:
        raise FundError(_("There is no ledger entry %(id)d.", id=entry_id), status=404, code="not_found")
    if original.reversal_of_id is not None:
        raise Conflict(_("Entry %(id)d is itself a reversal (of entry %(original)d) and cannot be reversed; post the "
                         "original movement again instead.", id=original.id, original=original.reversal_of_id))
    if original.kind == PSC_CHARGE:
        raise Conflict(_("Programme support costs follow expenditure and cannot be reversed on their own; reverse "
                         "the disbursement or refund instead."))
    existing = reversal_of(original.id)
    if existing is not None:
        raise Conflict(_("Entry %(id)d has already been reversed by entry %(reversal)d.", id=original.id,
                         reversal=existing.id))
    release_guard = original.kind == COMMITMENT_RELEASE
    lines = [Line(p.account, p.currency, -p.amount, -p.usd, p.exchange_rate_id, p.donor_id, p.pledge_id, p.grant_id)
             for p in original.postings]
    reversal = post_entry(original.kind, lines, value_date=value_date, actor=actor, reversal_of=original,
                          description=f"Reversal of entry {original.id}: {reason}")
    _check_balances(original)
    _reattribute(original, reversal)
    grant_ids = sorted({p.grant_id for p in original.postings if p.grant_id is not None})
    for grant_id in grant_ids:
        _psc_true_up(grant_id, value_date=value_date, actor=actor,
                     description=f"Programme support costs of grant {grant_id} after reversal of entry {original.id}")
    if release_guard and fund_position().available < 0:
        raise Conflict(_("Reversing this release would commit more than the available balance."))
    for hook in _REVERSAL_HOOKS.get(original.kind, {}).values():
        hook(original, reversal)
    return reversal


def _reattribute(original: JournalEntry, reversal: JournalEntry) -> None:
    """The donors' pools after a reversal: a contribution leaves its pool (refused when spent), a reversed
    disbursement returns to the pools that paid the grant, a reversed refund is paid again like a payment."""
    if original.kind == CONTRIBUTION:
        attribution.reverse_contribution(original, reversal)
    elif original.kind in (DISBURSEMENT, GRANT_REFUND):
        for p in original.postings:
            if p.account == GRANT_EXPENSE and p.grant_id is not None:
                if p.usd_cents > 0:
                    attribution.return_from_grant(reversal, p.grant_id, p.usd)
                elif p.usd_cents < 0:
                    attribution.attribute_payment(reversal, p.grant_id, -p.usd)
    db.session.flush()


def _check_balances(original: JournalEntry) -> None:
    """After a reversal: no pledge's receivable and no grant's commitment or expenditure may be negative."""
    pledges = {p.pledge_id for p in original.postings if p.pledge_id is not None and p.account == RECEIVABLE}
    if pledges:
        rows = db.session.execute(
            select(Posting.pledge_id, func.sum(Posting.amount_minor), func.sum(Posting.usd_cents))
            .where(Posting.account == RECEIVABLE, Posting.pledge_id.in_(pledges)).group_by(Posting.pledge_id)
        ).all()
        if any(minor < 0 or cents < 0 for _p, minor, cents in rows):
            raise Conflict(_("This reversal would leave a pledge owing less than nothing: reverse the payments or "
                             "write-offs made against it first."))
    grants = {p.grant_id for p in original.postings if p.grant_id is not None}
    for f in grants_figures(grants).values():
        if f.remaining < 0 or f.expenditure < 0:
            raise Conflict(_("This reversal would leave grant %(grant)d with a negative commitment or expenditure: "
                             "reverse the later movements first.", grant=f.grant_id))


# Figures ------------------------------------------------------------------------------------------------------


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
        v = _cents(cents)
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
    return [(c, from_minor(m, c), _cents(u)) for c, m, u in balances.by_currency(CASH)]


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
        f, v = result[donor_id], _cents(cents)
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
        f.receivable_usd += _cents(cents)
        if kind == PLEDGE_CONFIRMED:
            f.booked += v
        elif kind == CONTRIBUTION:
            f.received -= v
        elif kind == PLEDGE_WRITE_OFF:
            f.written_off -= v
        elif kind == PLEDGE_CANCELLED:
            f.cancelled -= v
    return result


# Browsing -----------------------------------------------------------------------------------------------------


def entries_query(filters: dict):
    """Entries matching the browse filters (kind, account, currency, donor_id, pledge_id, grant_id, date_from,
    date_to, reversed), newest first, with postings and reversal links loaded."""
    query = select(JournalEntry).options(selectinload(JournalEntry.reversed_by))
    if filters.get("kind"):
        query = query.where(JournalEntry.kind == filters["kind"])
    posting_filters = []
    for key, column in (("account", Posting.account), ("currency", Posting.currency),
                        ("donor_id", Posting.donor_id), ("pledge_id", Posting.pledge_id),
                        ("grant_id", Posting.grant_id)):
        if filters.get(key) not in (None, ""):
            posting_filters.append(column == filters[key])
    if posting_filters:
        query = query.where(JournalEntry.id.in_(select(Posting.entry_id).where(*posting_filters)))
    if filters.get("date_from"):
        query = query.where(JournalEntry.value_date >= filters["date_from"])
    if filters.get("date_to"):
        query = query.where(JournalEntry.value_date <= filters["date_to"])
    if filters.get("reversed") is not None:
        reversed_ids = select(JournalEntry.reversal_of_id).where(JournalEntry.reversal_of_id.is_not(None))
        if filters["reversed"]:
            query = query.where(JournalEntry.id.in_(reversed_ids))
        else:
            query = query.where(JournalEntry.id.not_in(reversed_ids))
    return query.order_by(JournalEntry.id.desc())


def unbalanced_entries() -> list[int]:
    """Ids of entries that do not balance per currency or in USD (an integrity check: always empty)."""
    per_currency = select(Posting.entry_id).group_by(Posting.entry_id, Posting.currency).having(
        func.sum(Posting.amount_minor) != 0)
    usd = select(Posting.entry_id).group_by(Posting.entry_id).having(func.sum(Posting.usd_cents) != 0)
    ids = set(db.session.execute(per_currency).scalars()) | set(db.session.execute(usd).scalars())
    return sorted(ids)


__all__ = [
    "ACCOUNTS", "KINDS", "JournalEntry", "Posting", "Line", "FundPosition", "GrantFigures", "GrantPosting",
    "lock_fund", "post_entry", "post_pledge_confirmed", "post_pledge_cancelled", "post_pledge_write_off",
    "post_contribution_received", "commit_grant", "release_commitment", "pay_disbursement", "record_grant_refund",
    "reverse_entry", "on_reversal", "fund_position", "grant_figures", "grants_figures", "donors_figures",
    "pledges_figures", "cash_by_currency", "entries_query", "unbalanced_entries",
]
