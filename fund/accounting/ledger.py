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
current in the posting's transaction (:mod:`fund.accounting.balances`): a few rows each, whatever the number of
postings.
`flask ledger check` recomputes every balance from the postings.

Which donors' money paid which grant is recorded by the same functions, in the same transaction, beside the
postings (:mod:`fund.accounting.attribution`): contributions fill the donors' pools, payments, refunds, PSC and
reversals move money out of them and back.

Grants and donors move money only through the public functions below. Functions that check a limited resource
(available balance, cash, a grant's outstanding commitment, a pledge's receivable) take the fund lock first:
the single row of :class:`LedgerLock` with ``SELECT ... FOR UPDATE`` on PostgreSQL (SQLite transactions are
``BEGIN IMMEDIATE`` already). Call them before :func:`fund.audit.record` in an operation (or call
:func:`lock_fund` first) so that locks are always taken in the same order. None of them commits.

The chart of accounts, the entry kinds and the two tables are declared in :mod:`fund.accounting.models` and are
part of this module's interface: whoever posts or reads entries names them as ``ledger.CASH``,
``ledger.CONTRIBUTION``, ``ledger.JournalEntry``.

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
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from fund import audit
from fund.accounting import attribution, balances
from fund.accounting.figures import (
    GrantFigures,
    fund_position,
    grant_figures,
    grants_figures,
    psc_rate,
    round_usd,
    usd_of_cents,
)
from fund.accounting.lock import lock_fund
from fund.accounting.models import (
    ACCOUNTS,
    CASH,
    COMMITMENT,
    COMMITMENT_RELEASE,
    COMMITMENTS,
    CONTRIBUTION,
    DISBURSEMENT,
    FX,
    GRANT_EXPENSE,
    GRANT_REFUND,
    GRANTS_PAYABLE,
    KINDS,
    PLEDGE_CANCELLED,
    PLEDGE_CONFIRMED,
    PLEDGE_WRITE_OFF,
    PSC,
    PSC_CHARGE,
    PSC_RESERVE,
    RECEIVABLE,
    REVENUE,
    WRITE_OFFS,
    ZERO,
    JournalEntry,
    Posting,
)
from fund.accounting.rates import BASE_CURRENCY, RateUsed, check_places, from_minor, rate_for, to_minor
from fund.db import db, utcnow
from fund.errors import Conflict, FundError
from fund.i18n import translate as _
from fund.money import MoneyError, to_decimal


class UnbalancedEntry(ValueError):
    """A programming error: the lines of an entry do not balance (never a user error)."""


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


def post_entry(kind: str, lines: Iterable[Line], *, value_date: dt.date | None = None, description: str = "",
               actor=None, reversal_of: JournalEntry | None = None) -> JournalEntry:
    """Write one balanced entry (the low-level primitive; prefer the named functions below).

    Amounts must fit their currency's minor units and USD amounts the cent: rounding happens once, before, in
    the caller's conversion. Raises :class:`UnbalancedEntry` unless the lines sum to zero in each currency and in
    USD. Lines of zero in both are dropped. Audited (``ledger.post``). Adds the postings to the kept balances
    (:mod:`fund.accounting.balances`) in the same transaction."""
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
    balances.apply(kind, entry.value_date, entry.postings)  # same transaction, under the callers' fund lock
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
    return Receivable(currency, from_minor(minor, currency), usd_of_cents(cents), rate_id)


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
    :mod:`fund.accounting.attribution`."""
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


def _psc_lines(f: GrantFigures, *, charge: bool) -> tuple[list[Line], Decimal]:
    """Lines that bring a grant's PSC to PSC_RATE x expenditure (cumulative, so rounding never drifts) when
    ``charge``, and its PSC reserve to what the outstanding commitment will attract. Returns (lines, charge)."""
    rate = psc_rate()
    lines: list[Line] = []
    target = round_usd(rate * f.expenditure) if charge else f.psc
    delta = target - f.psc
    if delta:
        lines += [Line(PSC, BASE_CURRENCY, delta, delta, grant_id=f.grant_id),
                  Line(CASH, BASE_CURRENCY, -delta, -delta, grant_id=f.grant_id)]
    reserve = max(ZERO, round_usd(rate * (f.expenditure + f.remaining)) - target)
    r_delta = reserve - f.psc_reserved
    if r_delta:
        lines += [Line(COMMITMENTS, BASE_CURRENCY, r_delta, r_delta, grant_id=f.grant_id),
                  Line(PSC_RESERVE, BASE_CURRENCY, -r_delta, -r_delta, grant_id=f.grant_id)]
    return lines, delta


def _psc_true_up(grant_id: int, *, value_date: dt.date | None, actor, description: str = "") -> JournalEntry | None:
    """Bring a grant's PSC to PSC_RATE x its expenditure; the donors' pools pay the PSC charged (or get back the
    PSC given back) like the expenditure itself (:mod:`fund.accounting.attribution`)."""
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
    psc_charge = round_usd(psc_rate() * (f.expenditure + amount)) - f.psc
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


# Checking -----------------------------------------------------------------------------------------------------


def unbalanced_entries() -> list[int]:
    """Ids of entries that do not balance per currency or in USD (an integrity check: always empty)."""
    per_currency = select(Posting.entry_id).group_by(Posting.entry_id, Posting.currency).having(
        func.sum(Posting.amount_minor) != 0)
    usd = select(Posting.entry_id).group_by(Posting.entry_id).having(func.sum(Posting.usd_cents) != 0)
    ids = set(db.session.execute(per_currency).scalars()) | set(db.session.execute(usd).scalars())
    return sorted(ids)


__all__ = [
    "ACCOUNTS", "CASH", "RECEIVABLE", "REVENUE", "WRITE_OFFS", "COMMITMENTS", "GRANTS_PAYABLE", "PSC_RESERVE",
    "GRANT_EXPENSE", "PSC", "FX",
    "KINDS", "PLEDGE_CONFIRMED", "PLEDGE_CANCELLED", "PLEDGE_WRITE_OFF", "CONTRIBUTION", "COMMITMENT",
    "COMMITMENT_RELEASE", "DISBURSEMENT", "GRANT_REFUND", "PSC_CHARGE",
    "JournalEntry", "Posting", "Line", "GrantPosting",
    "lock_fund", "post_entry", "post_pledge_confirmed", "post_pledge_cancelled", "post_pledge_write_off",
    "post_contribution_received", "commit_grant", "release_commitment", "pay_disbursement", "record_grant_refund",
    "reverse_entry", "on_reversal",
    "unbalanced_entries",
]
