"""Which donors' money paid which grant: recorded once, when the money moves, for the whole fund.

Every donor statement, the staff attribution matrix and their CSV and JSON read the rows of
:class:`Attribution`; nothing recomputes a split from today's data, so a statement issued today stays true when
another donor's contribution arrives tomorrow, and the statements of all donors together never claim more than
the fund paid.

A donor's money sits in *pools*: one per (donor, earmark), the earmark being the pledge's funding window, region
or theme, or none. A pool's *unspent balance* is what its contributions brought in minus what it paid (grants and
programme support costs) plus what came back to it. The rows, all in US cents at the rates the ledger used:

================ =====================================================================================
``contribution`` money received into a pool (negative: a reversed contribution)
``grant``        a pool's money paying a grant (negative: money returned by a refund or a reversal)
``psc``          a pool's money paying the programme support costs of a grant's expenditure (same signs)
================ =====================================================================================

so ``unspent = sum(contribution) - sum(grant) - sum(psc)`` for a pool, a donor or the fund. Each pool's unspent
balance is also kept in :class:`AttributionPool`, updated with the rows that move it (one statement per write, in
the same transaction, under the fund lock), so a payment reads the pools' balances without adding up the fund's
history; :func:`pool_differences` recomputes them from the rows (``flask ledger check`` runs it).

The method, applied by the ledger's posting functions in the transaction and under the fund lock of the posting:

* a payment to a grant (a disbursement, or the reversal of a grantee refund) is paid first by earmarked pools
  whose earmark applies to the grant (:func:`fund.grant_directory.earmarks_applying`), pro rata to their
  unspent balances at that moment, then by pools without an earmark, pro rata to theirs; never more than a pool
  holds. Whatever the pools cannot cover stays unattributed (the fund paid it, but no donor's available money
  could be named for it);
* the programme support costs charged on that expenditure are paid the same way (the PSC true-up after the
  payment);
* money coming back from a grant (a grantee refund, the reversal of a disbursement, PSC given back) returns to
  the pools that paid the grant, in proportion to what each still has attributed to it, at most all of it;
* a contribution's reversal takes its money out of its pool again; what the pool had already spent of it is
  taken back from the grants (and PSC) the pool paid, in proportion, and stays paid but unattributed;
* pledge write-offs move no cash and change no pool.

Every split is to the cent by the largest remainder (:func:`largest_remainder`), so shares add up exactly. Hence,
for any set of donors and any period: no grant is attributed more than the fund paid it net of refunds (and all
of it when the pools held enough), no donor more than it gave, and PSC likewise. Reads are aggregate queries on
these rows (GROUP BY donor, grant, kind), filtered by donor and period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    and_,
    case,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from fund.accounting import models
from fund.accounting.rates import BASE_CURRENCY, from_minor
from fund.audit import make_append_only
from fund.db import db

CONTRIBUTION = "contribution"
GRANT = "grant"
PSC = "psc"
KINDS = (CONTRIBUTION, GRANT, PSC)

#: Earmark types and the grants directory parameter that matches each.
EARMARK_PARAMETERS = {"funding_window": "funding_window", "region": "region", "theme": "theme"}

ZERO = Decimal("0.00")


class Attribution(db.Model):
    """One movement of a donor's pool, written with the ledger entry that moved the money (append-only)."""

    __tablename__ = "ledger_attribution"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entry.id"), index=True)
    value_date: Mapped[dt.date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    donor_id: Mapped[int] = mapped_column(Integer, index=True)
    earmark_type: Mapped[str | None] = mapped_column(String(20))
    earmark_value: Mapped[str | None] = mapped_column(String(200))
    grant_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: US cents: received into the pool (contribution) or paid out of it (grant, psc); negative when undone.
    usd_cents: Mapped[int] = mapped_column(BigInteger)

    @property
    def usd(self) -> Decimal:
        return from_minor(self.usd_cents, BASE_CURRENCY)


make_append_only(Attribution.__table__)

Pool = tuple[int, str | None, str | None]  # (donor_id, earmark_type, earmark_value)

#: How a pool without an earmark is keyed in :class:`AttributionPool` (a unique key cannot hold NULL).
NO_EARMARK = ""


class AttributionPool(db.Model):
    """A pool's unspent balance: the sum of its :class:`Attribution` rows (contributions in, grants and PSC out),
    kept current by the writes that add them. Written only by :func:`_write` and the migration that back-filled it."""

    __tablename__ = "ledger_attribution_pool"
    __table_args__ = (UniqueConstraint("donor_id", "earmark_type", "earmark_value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    donor_id: Mapped[int] = mapped_column(Integer)
    #: The earmark of the pool, ``NO_EARMARK`` (not NULL) for a pool without one.
    earmark_type: Mapped[str] = mapped_column(String(20), default=NO_EARMARK)
    earmark_value: Mapped[str] = mapped_column(String(200), default=NO_EARMARK)
    #: US cents received minus US cents paid out.
    usd_cents: Mapped[int] = mapped_column(BigInteger, default=0)

    @property
    def pool(self) -> Pool:
        return _pool(self.donor_id, self.earmark_type, self.earmark_value)


def pool_order(pool: Pool) -> tuple[int, str, str]:
    """The fixed order of pools (donor, then earmark, a pool without an earmark first): a pool without an
    earmark has None where the others have text, which Python does not compare."""
    return pool[0], pool[1] or "", pool[2] or ""


def _pool(donor_id: int, etype: str | None, evalue: str | None) -> Pool:
    if not etype:
        return (donor_id, None, None)
    return (donor_id, etype, evalue or None)


def largest_remainder(total: int, weights: dict) -> dict:
    """Share ``total`` (integer cents, >= 0) in proportion to ``weights`` (integers or Decimals > 0) so that the
    shares add up to ``total`` exactly: floors first, then one more cent to the largest remainders (ties to the
    key met first)."""
    weight_sum = sum(weights.values())
    if total <= 0 or not weights or weight_sum <= 0:
        return {k: 0 for k in weights}
    exact = {k: Fraction(total) * Fraction(w) / Fraction(weight_sum) for k, w in weights.items()}
    shares = {k: int(v) for k, v in exact.items()}
    left = total - sum(shares.values())
    position = {k: i for i, k in enumerate(weights)}
    for k in sorted(weights, key=lambda k: (-(exact[k] - shares[k]), position[k]))[:left]:
        shares[k] += 1
    return shares


def _cents(value: Decimal) -> int:
    return int(value.scaleb(2))


# Writing (called by fund.accounting.ledger's posting functions only) -------------------------------------------------


def _unspent_pools() -> dict[Pool, int]:
    """Pools with money left, in a fixed order (donor, earmark): one query on the kept pool balances."""
    rows = db.session.execute(
        select(AttributionPool.donor_id, AttributionPool.earmark_type, AttributionPool.earmark_value,
               AttributionPool.usd_cents).where(AttributionPool.usd_cents > 0)
    ).all()
    pools = {_pool(d, t, v): int(c) for d, t, v, c in rows}
    return dict(sorted(pools.items(), key=lambda item: pool_order(item[0])))


def _earmarks_applying(grant_id: int, earmarks: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    from fund.grant_directory import earmarks_applying

    return earmarks_applying(grant_id, [(t, v) for t, v in earmarks if t in EARMARK_PARAMETERS])


_POOL_UPSERT = text(
    "INSERT INTO ledger_attribution_pool (donor_id, earmark_type, earmark_value, usd_cents) "
    "VALUES (:donor_id, :earmark_type, :earmark_value, :usd_cents) "
    "ON CONFLICT (donor_id, earmark_type, earmark_value) DO UPDATE SET "
    "usd_cents = ledger_attribution_pool.usd_cents + excluded.usd_cents")


def _write(entry, kind: str, grant_id: int | None, shares: dict[Pool, int], sign: int) -> None:
    """Add the rows of ``shares`` (one statement) and move the kept balances of their pools by as much (one
    statement), whatever the number of pools."""
    rows, deltas = [], {}
    for (donor_id, etype, evalue), cents in shares.items():
        if cents:
            rows.append({"entry_id": entry.id, "value_date": entry.value_date, "kind": kind, "donor_id": donor_id,
                         "earmark_type": etype, "earmark_value": evalue, "grant_id": grant_id,
                         "usd_cents": sign * cents})
            key = (donor_id, etype or NO_EARMARK, (evalue or NO_EARMARK) if etype else NO_EARMARK)
            deltas[key] = deltas.get(key, 0) + (sign * cents if kind == CONTRIBUTION else -sign * cents)
    if not rows:
        return
    # Statements that are compiled once (see fund.accounting.balances._UPSERT): the generic insert, and the upsert
    # as text.
    db.session.execute(insert(Attribution.__table__), rows)
    db.session.execute(_POOL_UPSERT, [{"donor_id": d, "earmark_type": t, "earmark_value": v, "usd_cents": c}
                                      for (d, t, v), c in sorted(deltas.items())])


def record_contribution(entry, *, donor_id: int, usd: Decimal, earmark: tuple[str | None, str | None] | None) -> None:
    """Money received into the donor's pool of ``earmark`` ((type, value) or None)."""
    etype, evalue = earmark if earmark and earmark[0] else (None, None)
    _write(entry, CONTRIBUTION, None, {(donor_id, etype, evalue): _cents(usd)}, 1)


def reverse_contribution(original, reversal) -> None:
    """Take a reversed contribution's money out of its pool. When the pool has already spent part of it, that part
    is taken back from what the pool paid (grants and PSC, in proportion to what it still has attributed to each):
    those payments stay made, but no longer in this donor's name."""
    rows = db.session.execute(select(Attribution).where(Attribution.entry_id == original.id,
                                                        Attribution.kind == CONTRIBUTION)).scalars().all()
    unspent = _unspent_pools()
    for row in rows:
        pool = (row.donor_id, row.earmark_type, row.earmark_value)
        shortfall = row.usd_cents - max(unspent.get(pool, 0), 0)
        if shortfall > 0:
            paid = db.session.execute(
                select(Attribution.grant_id, Attribution.kind, func.sum(Attribution.usd_cents))
                .where(Attribution.donor_id == row.donor_id, Attribution.kind != CONTRIBUTION,
                       _same_earmark(row.earmark_type, row.earmark_value))
                .group_by(Attribution.grant_id, Attribution.kind)
                .having(func.sum(Attribution.usd_cents) > 0)
            ).all()
            held = dict(sorted(((g, k), int(c)) for g, k, c in paid))
            for (grant_id, kind), cents in largest_remainder(min(shortfall, sum(held.values())), held).items():
                _write(reversal, kind, grant_id, {pool: cents}, -1)
        _write(reversal, CONTRIBUTION, None, {pool: row.usd_cents}, -1)


def _same_earmark(etype: str | None, evalue: str | None):
    if etype is None:
        return Attribution.earmark_type.is_(None)
    return and_(Attribution.earmark_type == etype, Attribution.earmark_value == evalue)


def attribute_payment(entry, grant_id: int, usd: Decimal, kind: str = GRANT) -> int:
    """Name the pools whose money paid ``usd`` to a grant (or its PSC): earmarked pools that apply to the grant
    first, then pools without an earmark, each group pro rata to the pools' unspent balances. Returns the cents
    attributed (less than ``usd`` when the pools could not cover it)."""
    wanted = _cents(usd)
    if wanted <= 0:
        return 0
    pools = _unspent_pools()
    earmarks = {(t, v) for _d, t, v in pools if t is not None}
    applying = _earmarks_applying(grant_id, earmarks) if earmarks else set()
    attributed = 0
    for group in ({p: c for p, c in pools.items() if p[1] is not None and (p[1], p[2]) in applying},
                  {p: c for p, c in pools.items() if p[1] is None}):
        take = min(wanted - attributed, sum(group.values()))
        if take <= 0:
            continue
        shares = largest_remainder(take, group)
        _write(entry, kind, grant_id, shares, 1)
        attributed += take
    return attributed


def return_from_grant(entry, grant_id: int, usd: Decimal, kind: str = GRANT) -> int:
    """Money coming back from a grant (or its PSC) returns to the pools that paid it, in proportion to what each
    still has attributed to it, at most all of that. Returns the cents returned."""
    wanted = _cents(usd)
    if wanted <= 0:
        return 0
    rows = db.session.execute(
        select(Attribution.donor_id, Attribution.earmark_type, Attribution.earmark_value,
               func.sum(Attribution.usd_cents))
        .where(Attribution.grant_id == grant_id, Attribution.kind == kind)
        .group_by(Attribution.donor_id, Attribution.earmark_type, Attribution.earmark_value)
        .having(func.sum(Attribution.usd_cents) > 0)
    ).all()
    held = dict(sorted((((d, t, v), int(c)) for d, t, v, c in rows), key=lambda item: pool_order(item[0])))
    take = min(wanted, sum(held.values()))
    if take <= 0:
        return 0
    _write(entry, kind, grant_id, largest_remainder(take, held), -1)
    return take


@dataclass(frozen=True)
class PoolDifference:
    pool: Pool
    kept: int
    recomputed: int

    def __str__(self) -> str:
        donor_id, etype, evalue = self.pool
        earmark = f"{etype} {evalue!r}" if etype else "no earmark"
        return (f"attribution pool of donor {donor_id} ({earmark}): kept {self.kept} US cents unspent, "
                f"attribution rows say {self.recomputed}")


def pool_differences() -> list[PoolDifference]:
    """Every pool whose kept unspent balance differs from the sum of its attribution rows (a missing row counts as
    zero): an integrity check, always empty."""
    balance = func.sum(case((Attribution.kind == CONTRIBUTION, Attribution.usd_cents), else_=-Attribution.usd_cents))
    recomputed: dict[Pool, int] = {}
    for d, t, v, c in db.session.execute(
            select(Attribution.donor_id, Attribution.earmark_type, Attribution.earmark_value, balance)
            .group_by(Attribution.donor_id, Attribution.earmark_type, Attribution.earmark_value)).all():
        pool = _pool(d, t, v)
        recomputed[pool] = recomputed.get(pool, 0) + int(c or 0)
    kept: dict[Pool, int] = {}
    for row in db.session.execute(select(AttributionPool)).scalars():
        kept[row.pool] = kept.get(row.pool, 0) + row.usd_cents
    return [PoolDifference(pool, kept.get(pool, 0), recomputed.get(pool, 0))
            for pool in sorted(set(kept) | set(recomputed), key=pool_order)
            if kept.get(pool, 0) != recomputed.get(pool, 0)]


# Reading -------------------------------------------------------------------------------------------------------


@dataclass
class DonorUse:
    """A donor's pools over a period (USD): unspent at the start, received, paid to grants and PSC, unspent at the
    end (``opening + received - grants - psc = closing``); per grant, what its money paid in the period, split into
    earmarked and unearmarked; per earmark, the same four figures."""

    donor_id: int
    opening: Decimal = ZERO
    received: Decimal = ZERO
    grants_total: Decimal = ZERO
    psc: Decimal = ZERO
    closing: Decimal = ZERO
    grants: dict[int, tuple[Decimal, Decimal]] = field(default_factory=dict)  # grant -> (unearmarked, earmarked)
    earmarks: dict[tuple[str | None, str | None], dict[str, Decimal]] = field(default_factory=dict)
    earmark_grants: dict[tuple[str | None, str | None], int] = field(default_factory=dict)  # grants each paid

    @property
    def reconciles(self) -> bool:
        return self.opening + self.received - self.grants_total - self.psc == self.closing


def donor_use(donor_id: int, date_from: dt.date, date_to: dt.date) -> DonorUse:
    """One donor's use of funds for a period: one aggregate query on that donor's rows, grouped by kind, earmark,
    before or in the period and, for grants paid in the period, by grant."""
    use = DonorUse(donor_id)
    before = case((Attribution.value_date < date_from, 1), else_=0)
    paid_grant = case((and_(Attribution.kind == GRANT, Attribution.value_date >= date_from), Attribution.grant_id),
                      else_=None)
    rows = db.session.execute(
        select(Attribution.kind, Attribution.earmark_type, Attribution.earmark_value, before, paid_grant,
               func.sum(Attribution.usd_cents))
        .where(Attribution.donor_id == donor_id, Attribution.value_date <= date_to)
        .group_by(Attribution.kind, Attribution.earmark_type, Attribution.earmark_value, before, paid_grant)
    ).all()
    for kind, etype, evalue, is_before, grant_id, cents in rows:
        value = from_minor(int(cents), BASE_CURRENCY)
        signed = value if kind == CONTRIBUTION else -value
        figures = use.earmarks.setdefault((etype, evalue), {"opening": ZERO, "received": ZERO, "grants": ZERO,
                                                            "psc": ZERO, "closing": ZERO})
        figures["closing"] += signed
        use.closing += signed
        if is_before:
            figures["opening"] += signed
            use.opening += signed
        elif kind == CONTRIBUTION:
            figures["received"] += value
            use.received += value
        elif kind == GRANT:
            figures["grants"] += value
            use.grants_total += value
            unearmarked, earmarked_value = use.grants.get(grant_id, (ZERO, ZERO))
            use.grants[grant_id] = (unearmarked, earmarked_value + value) if etype is not None else \
                (unearmarked + value, earmarked_value)
            if value > 0:
                use.earmark_grants[(etype, evalue)] = use.earmark_grants.get((etype, evalue), 0) + 1
        else:
            figures["psc"] += value
            use.psc += value
    use.grants = {g: v for g, v in sorted(use.grants.items()) if v != (ZERO, ZERO)}
    return use


@dataclass
class Matrix:
    """Donor x grant attribution over a period (USD, net of money returned), with the fund's figures beside it:
    what each grant was paid net of refunds (grant expense) and what each donor received into its pools."""

    date_from: dt.date
    date_to: dt.date
    cells: dict[tuple[int, int], Decimal] = field(default_factory=dict)
    psc: dict[int, Decimal] = field(default_factory=dict)  # donor -> PSC paid
    received: dict[int, Decimal] = field(default_factory=dict)  # donor -> received in the period
    paid: dict[int, Decimal] = field(default_factory=dict)  # grant -> paid net of refunds in the period
    psc_charged: Decimal = ZERO

    @property
    def donor_ids(self) -> list[int]:
        return sorted({d for d, _g in self.cells} | set(self.psc) | set(self.received))

    @property
    def grant_ids(self) -> list[int]:
        return sorted({g for _d, g in self.cells} | set(self.paid))

    def row_total(self, donor_id: int) -> Decimal:
        return sum((v for (d, _g), v in self.cells.items() if d == donor_id), ZERO)

    def column_total(self, grant_id: int) -> Decimal:
        return sum((v for (_d, g), v in self.cells.items() if g == grant_id), ZERO)

    @property
    def total(self) -> Decimal:
        return sum(self.cells.values(), ZERO)

    def unattributed(self, grant_id: int) -> Decimal:
        return self.paid.get(grant_id, ZERO) - self.column_total(grant_id)


def matrix(date_from: dt.date, date_to: dt.date) -> Matrix:
    """The whole fund's attribution for a period: two aggregate queries (attribution rows, grant expense)."""
    m = Matrix(date_from, date_to)
    in_period = and_(Attribution.value_date >= date_from, Attribution.value_date <= date_to)
    rows = db.session.execute(
        select(Attribution.kind, Attribution.donor_id, Attribution.grant_id, func.sum(Attribution.usd_cents))
        .where(in_period).group_by(Attribution.kind, Attribution.donor_id, Attribution.grant_id)
    ).all()
    for kind, donor_id, grant_id, cents in rows:
        value = from_minor(int(cents), BASE_CURRENCY)
        if kind == GRANT:
            if value:
                m.cells[(donor_id, grant_id)] = m.cells.get((donor_id, grant_id), ZERO) + value
        elif kind == PSC:
            m.psc[donor_id] = m.psc.get(donor_id, ZERO) + value
        else:
            m.received[donor_id] = m.received.get(donor_id, ZERO) + value
    rows = db.session.execute(
        select(models.Posting.grant_id, models.Posting.account, func.sum(models.Posting.usd_cents))
        .join(models.JournalEntry, models.Posting.entry_id == models.JournalEntry.id)
        .where(models.Posting.account.in_([models.GRANT_EXPENSE, models.PSC]), models.Posting.grant_id.is_not(None),
               models.JournalEntry.value_date >= date_from, models.JournalEntry.value_date <= date_to)
        .group_by(models.Posting.grant_id, models.Posting.account)
    ).all()
    for grant_id, account, cents in rows:
        value = from_minor(int(cents), BASE_CURRENCY)
        if account == models.GRANT_EXPENSE:
            if value:
                m.paid[grant_id] = value
        else:
            m.psc_charged += value
    return m


def matrix_data(m: Matrix) -> dict:
    """The matrix as plain data (donor names, grant numbers), for the staff page, its CSV and the API: one query
    for the donors' names and one for the grants' facts."""
    from fund.grant_directory import directory

    names = donor_names(m.donor_ids)
    info = directory().grants(m.grant_ids)
    grants = [{"id": g, "number": info[g].number if g in info else f"#{g}",
               "organisation": info[g].organisation if g in info else "", "attributed": m.column_total(g),
               "paid": m.paid.get(g, ZERO), "unattributed": m.unattributed(g)} for g in m.grant_ids]
    donors = [{"id": d, "name": names.get(d, f"#{d}"), "cells": [m.cells.get((d, g["id"]), ZERO) for g in grants],
               "attributed": m.row_total(d), "psc": m.psc.get(d, ZERO), "received": m.received.get(d, ZERO)}
              for d in m.donor_ids]
    return {
        "currency": BASE_CURRENCY, "period": {"from": m.date_from, "to": m.date_to}, "donors": donors,
        "grants": grants,
        "totals": {"attributed": m.total, "paid": sum(m.paid.values(), ZERO),
                   "unattributed": sum(m.paid.values(), ZERO) - m.total,
                   "psc_attributed": sum(m.psc.values(), ZERO), "psc_charged": m.psc_charged,
                   "received": sum(m.received.values(), ZERO)},
    }


# Names of donors (the donors package registers where they come from; the fund knows no domain tables) -----------

_lookups: dict[str, Callable[[list[int]], dict[int, str]]] = {}


def register_donor_names(lookup: Callable[[list[int]], dict[int, str]]) -> None:
    """Register ``lookup(ids) -> {id: name}`` (one query for all the ids)."""
    _lookups["donor_names"] = lookup


def donor_names(ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(ids))
    lookup = _lookups.get("donor_names")
    return lookup(ids) if ids and lookup is not None else {}


__all__ = ["Attribution", "AttributionPool", "DonorUse", "Matrix", "attribute_payment", "donor_use",
           "largest_remainder", "matrix", "matrix_data", "pool_differences", "record_contribution",
           "register_donor_names", "return_from_grant", "reverse_contribution"]
