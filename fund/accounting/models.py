"""The ledger's tables and its chart of accounts: journal entries and their postings.

The rules that write them are in :mod:`fund.accounting.ledger`; the figures read from them in
:mod:`fund.accounting.figures`. Rates of exchange, kept balances and donor attribution keep their own tables
beside the functions that write them (:mod:`~fund.accounting.rates`, :mod:`~fund.accounting.balances`,
:mod:`~fund.accounting.attribution`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fund.accounting.rates import BASE_CURRENCY, from_minor
from fund.audit import make_append_only
from fund.db import UTCDateTime, db, utcnow

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


# Entry kinds (a reversing entry has the kind of the entry it reverses) --------------------------------------

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

