"""Balances of the ledger kept current as entries are posted, so that figures never add up the history.

Every posting adds its amount (in its currency and in USD) to five levels of balance, each a row of
:class:`LedgerBalance` keyed by (scope, ref_id, account, entry kind, currency):

========= ============= =================================================================================
scope     ref_id        read by
========= ============= =================================================================================
fund      0             the fund position and cash per currency (a few dozen rows, whatever the history)
donor     donor id      a donor's pledged, received, written off and outstanding
pledge    pledge id     a pledge's booked, received, written off, cancelled and receivable
grant     grant id      a grant's committed, paid, refunded, remaining, expenditure and PSC
month     year x 100    the fund's movements value-dated in that month (202611 for November 2026): the
          + month       position at the end of each month, for the finance dashboard's chart
========= ============= =================================================================================

The month balances are kept for every account, not only the three the chart reads: the same rule for every
posting keeps them, the check and the migration that back-filled them, and they cost one more row per account,
kind and currency in the entry's one statement.

:func:`fund.accounting.ledger.post_entry` calls :func:`apply` for each entry it writes, in the same transaction and
after the fund lock (one ``INSERT ... ON CONFLICT DO UPDATE`` statement per entry, on SQLite and PostgreSQL alike),
so a balance is exactly the sum of the postings committed with it. :func:`differences` recomputes every balance
from the postings and lists those that disagree: ``flask ledger check`` runs it (and CI runs that).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    UniqueConstraint,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Mapped, mapped_column

from fund.accounting.models import JournalEntry, Posting
from fund.db import db

FUND = "fund"
DONOR = "donor"
PLEDGE = "pledge"
GRANT = "grant"
MONTH = "month"
SCOPES = (FUND, DONOR, PLEDGE, GRANT, MONTH)


class LedgerBalance(db.Model):
    """The sum of the postings of one account, entry kind and currency, fund-wide, for one donor, pledge or
    grant, or fund-wide for one month of value dates. Written only by :func:`apply` (from ``post_entry``) and by
    the migrations that back-filled it."""

    __tablename__ = "ledger_balance"
    __table_args__ = (UniqueConstraint("scope", "ref_id", "account", "kind", "currency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))
    #: The donor, pledge or grant id (0 for the fund scope; year x 100 + month for the month scope).
    ref_id: Mapped[int] = mapped_column(Integer)
    account: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(30))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    usd_cents: Mapped[int] = mapped_column(BigInteger, default=0)


Key = tuple[str, int, str, str, str]


def month_of(day: dt.date) -> int:
    """The ref_id of the month scope for the month of ``day``: 202611 for any day of November 2026."""
    return day.year * 100 + day.month


def _keys(account: str, kind: str, currency: str, month: int, donor_id, pledge_id, grant_id) -> list[Key]:
    keys = [(FUND, 0, account, kind, currency), (MONTH, month, account, kind, currency)]
    for scope, ref in ((DONOR, donor_id), (PLEDGE, pledge_id), (GRANT, grant_id)):
        if ref is not None:
            keys.append((scope, ref, account, kind, currency))
    return keys


#: The same upsert on both databases, as text: the dialects' ``insert().on_conflict_do_update()`` cannot be cached,
#: and compiling it again for every entry cost more than sending it.
_UPSERT = text(
    "INSERT INTO ledger_balance (scope, ref_id, account, kind, currency, amount_minor, usd_cents) "
    "VALUES (:scope, :ref_id, :account, :kind, :currency, :amount_minor, :usd_cents) "
    "ON CONFLICT (scope, ref_id, account, kind, currency) DO UPDATE SET "
    "amount_minor = ledger_balance.amount_minor + excluded.amount_minor, "
    "usd_cents = ledger_balance.usd_cents + excluded.usd_cents")


def apply(kind: str, value_date: dt.date, postings: Iterable) -> None:
    """Add the postings of one entry of ``kind`` value-dated ``value_date`` to the balances (one statement). Call
    under the fund lock, in the transaction that writes the postings."""
    month = month_of(value_date)
    deltas: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for p in postings:
        for key in _keys(p.account, kind, p.currency, month, p.donor_id, p.pledge_id, p.grant_id):
            deltas[key][0] += p.amount_minor
            deltas[key][1] += p.usd_cents
    if not deltas:
        return
    db.session.execute(_UPSERT, [
        {"scope": s, "ref_id": r, "account": a, "kind": k, "currency": c, "amount_minor": m, "usd_cents": u}
        for (s, r, a, k, c), (m, u) in sorted(deltas.items())
    ])


def _by_account_kind():
    t = LedgerBalance
    query = (select(t.ref_id, t.account, t.kind, func.sum(t.usd_cents), func.sum(t.amount_minor))
             .where(t.scope == bindparam("scope")).group_by(t.ref_id, t.account, t.kind))
    of_ids = query.where(t.ref_id.in_(bindparam("ids", expanding=True)))
    return query, of_ids, of_ids.where(t.account == bindparam("account"))


#: The three shapes of :func:`usd_by_account_kind`, built once (every figure of every page reads one of them).
_BY_SCOPE, _BY_IDS, _BY_IDS_AND_ACCOUNT = _by_account_kind()


def usd_by_account_kind(scope: str, ref_ids: Iterable[int] | None = None, *, account: str | None = None) -> list:
    """(ref_id, account, kind, USD cents, amount in minor units) summed over currencies, for ``ref_ids`` of
    ``scope`` (all of the fund scope when None; ``account`` only if given, with ``ref_ids``); one query on the
    balances."""
    if ref_ids is None:
        if account is not None:
            raise ValueError("an account is read for given ref_ids")
        return db.session.execute(_BY_SCOPE, {"scope": scope}).all()
    params = {"scope": scope, "ids": list(ref_ids)}
    if account is None:
        return db.session.execute(_BY_IDS, params).all()
    return db.session.execute(_BY_IDS_AND_ACCOUNT, {**params, "account": account}).all()


def usd_by_account_kind_scopes(scopes: Iterable[tuple[str, Iterable[int]]]) -> dict[str, list]:
    """:func:`usd_by_account_kind` for several scopes at once, such as a donor and its pledges: ``scopes`` are
    (scope, ref_ids) pairs. Returns each scope's rows (ref_id, account, kind, USD cents, amount in minor units),
    every account, with one query on the balances."""
    t = LedgerBalance
    wanted = [(scope, sorted(set(ids))) for scope, ids in scopes]
    result: dict[str, list] = {scope: [] for scope, _ids in wanted}
    where = [and_(t.scope == scope, t.ref_id.in_(ids)) for scope, ids in wanted if ids]
    if not where:
        return result
    rows = db.session.execute(
        select(t.scope, t.ref_id, t.account, t.kind, func.sum(t.usd_cents), func.sum(t.amount_minor))
        .where(or_(*where)).group_by(t.scope, t.ref_id, t.account, t.kind)
    ).all()
    for scope, *row in rows:
        result[scope].append(tuple(row))
    return result


def by_currency(account: str) -> list:
    """(currency, amount in minor units, USD cents) of one account, fund-wide, per currency."""
    t = LedgerBalance
    return db.session.execute(
        select(t.currency, func.sum(t.amount_minor), func.sum(t.usd_cents))
        .where(t.scope == FUND, t.account == account).group_by(t.currency).order_by(t.currency)
    ).all()


def usd_totals_and_months(accounts: Iterable[str], since: dt.date) -> list:
    """(scope, ref_id, account, USD cents) summed over kinds and currencies, for ``accounts``: the fund-wide totals
    (scope FUND, ref_id 0) and the movements of each month from the month of ``since`` onwards, later months and
    months value-dated in the future included (scope MONTH); one query, a few rows per month whatever the number
    of postings. Months with no movement have no row."""
    t = LedgerBalance
    return db.session.execute(
        select(t.scope, t.ref_id, t.account, func.sum(t.usd_cents))
        .where(t.account.in_(list(accounts)),
               or_(t.scope == FUND, and_(t.scope == MONTH, t.ref_id >= month_of(since))))
        .group_by(t.scope, t.ref_id, t.account)
    ).all()


# Checking ------------------------------------------------------------------------------------------------------


def recomputed_query():
    """Every balance recomputed from the postings: (scope, ref_id, account, kind, currency, minor, cents). The month
    of the month scope is grouped by the year and month extracted from the value date (portable to SQLite and
    PostgreSQL)."""
    parts = []
    for scope, column in ((FUND, None), (DONOR, Posting.donor_id), (PLEDGE, Posting.pledge_id),
                          (GRANT, Posting.grant_id)):
        ref = literal_column("0") if column is None else column
        query = (select(literal_column(f"'{scope}'").label("scope"), ref.label("ref_id"), Posting.account,
                        JournalEntry.kind, Posting.currency, func.sum(Posting.amount_minor).label("amount_minor"),
                        func.sum(Posting.usd_cents).label("usd_cents"))
                 .join(JournalEntry, JournalEntry.id == Posting.entry_id)
                 .group_by(Posting.account, JournalEntry.kind, Posting.currency))
        if column is not None:
            query = query.where(column.is_not(None)).group_by(column)
        parts.append(query)
    year, month = func.extract("year", JournalEntry.value_date), func.extract("month", JournalEntry.value_date)
    parts.append(
        select(literal_column(f"'{MONTH}'").label("scope"),
               cast(year * literal_column("100") + month, Integer).label("ref_id"), Posting.account,
               JournalEntry.kind, Posting.currency, func.sum(Posting.amount_minor).label("amount_minor"),
               func.sum(Posting.usd_cents).label("usd_cents"))
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .group_by(year, month, Posting.account, JournalEntry.kind, Posting.currency))
    return union_all(*parts)


@dataclass(frozen=True)
class Difference:
    scope: str
    ref_id: int
    account: str
    kind: str
    currency: str
    kept: tuple[int, int]
    recomputed: tuple[int, int]

    def __str__(self) -> str:
        where = self.scope if self.scope == FUND else f"{self.scope} {self.ref_id}"
        return (f"{where} {self.account} {self.kind} {self.currency}: kept {self.kept[0]} minor units / "
                f"{self.kept[1]} US cents, postings say {self.recomputed[0]} / {self.recomputed[1]}")


def differences() -> list[Difference]:
    """Every balance whose kept value differs from the sum of its postings (a missing row counts as zero)."""
    kept = {(r.scope, r.ref_id, r.account, r.kind, r.currency): (r.amount_minor, r.usd_cents)
            for r in db.session.execute(select(LedgerBalance)).scalars()}
    recomputed = {tuple(row[:5]): (int(row[5] or 0), int(row[6] or 0))
                  for row in db.session.execute(recomputed_query()).all()}
    result = []
    for key in sorted(set(kept) | set(recomputed), key=str):
        a, b = kept.get(key, (0, 0)), recomputed.get(key, (0, 0))
        if a != b:
            result.append(Difference(*key, kept=a, recomputed=b))
    return result


__all__ = ["LedgerBalance", "apply", "month_of", "usd_by_account_kind", "usd_by_account_kind_scopes", "by_currency",
           "usd_totals_and_months", "differences", "recomputed_query"]
