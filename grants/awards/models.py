"""Grants and what hangs off them: budget, tranche schedule, disbursements, grantee reports, refunds, history.

Money is ``Numeric(14, 2)`` in US dollars (exact), ``Decimal`` in Python, with its currency beside it; a refund
keeps its original currency (``Numeric(18, 3)`` fits every ISO 4217 exponent the fund uses), the USD value and
the rate version. What the ledger knows (committed, paid, refunded, remaining, PSC) is read from
:mod:`fund.accounting.ledger`, never stored twice here; a grant's ledger postings carry its id as ``grant_id``.

Statuses change only through :mod:`grants.awards.workflow`. Victims are never recorded: report results are
aggregate counts per breakdown.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from fund.db import UTCDateTime, db, utcnow
from fund.models import User
from grants.models import MONEY, Application, Organisation

#: Tranche conditions: what must have happened before a tranche may be approved and paid.
SIGNATURE = "signature"
INTERIM_ACCEPTED = "interim_report"
FINAL_ACCEPTED = "final_report"
CONDITIONS = (SIGNATURE, INTERIM_ACCEPTED, FINAL_ACCEPTED)

INTERIM = "interim"
FINAL = "final"
REPORT_KINDS = (INTERIM, FINAL)

#: Report result breakdowns (each must add up to the same total).
SEX_AGE = "sex_age"
BY_FORM = "form"
BY_ASSISTANCE = "assistance"
BY_COUNTRY = "country"
BREAKDOWNS = (SEX_AGE, BY_FORM, BY_ASSISTANCE, BY_COUNTRY)
NOT_RECORDED = "not_recorded"


class GrantNumberCounter(db.Model):
    """The last grant number of each year (VTF/2027/014), taken atomically."""

    __tablename__ = "grant_number_counter"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Grant(db.Model):
    """A grant awarded to an organisation for an approved application.

    Status: pending_signature -> active <-> suspended -> closed | terminated (grants.awards.workflow)."""

    __tablename__ = "grant_award"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("end_date >= start_date", name="dates"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id"), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    amount: Mapped[Decimal] = mapped_column(MONEY)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(24), default="pending_signature", index=True)
    #: The copy of the agreement signed by the organisation (a grants Document of kind "signed_agreement").
    signed_document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    signed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    countersigned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    countersigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin=True)
    application: Mapped[Application] = relationship(lazy="select")
    budget_lines: Mapped[list[GrantBudgetLine]] = relationship(
        back_populates="grant", lazy="selectin", order_by="GrantBudgetLine.position", cascade="all, delete-orphan")
    tranches: Mapped[list[Tranche]] = relationship(
        back_populates="grant", lazy="selectin", order_by="Tranche.number", cascade="all, delete-orphan")
    reports: Mapped[list[GrantReport]] = relationship(
        back_populates="grant", lazy="selectin", order_by="GrantReport.due_on", cascade="all, delete-orphan")
    disbursements: Mapped[list[Disbursement]] = relationship(
        back_populates="grant", lazy="selectin", order_by="Disbursement.id", cascade="all, delete-orphan")
    #: Read by the grant's page (the operations write refunds by their grant_id).
    refunds: Mapped[list[GrantRefund]] = relationship(lazy="select", order_by="GrantRefund.id", viewonly=True)

    def report(self, kind: str) -> GrantReport | None:
        return next((r for r in self.reports if r.kind == kind), None)

    @property
    def budget_total(self) -> Decimal:
        return sum((line.amount for line in self.budget_lines), Decimal("0.00"))

    def __repr__(self) -> str:
        return f"<Grant {self.id} {self.number} {self.status}>"


class GrantBudgetLine(db.Model):
    """A line of the approved budget (copied from the application; revisable by agreement)."""

    __tablename__ = "grant_budget_line"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grant_award.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(255))
    amount: Mapped[Decimal] = mapped_column(MONEY)

    grant: Mapped[Grant] = relationship(back_populates="budget_lines", lazy="raise")


class Tranche(db.Model):
    """One instalment of the award: its amount, the condition that releases it and when it is expected."""

    __tablename__ = "grant_tranche"
    __table_args__ = (
        UniqueConstraint("grant_id", "number", name="uq_grant_tranche_number"),
        CheckConstraint("amount > 0", name="amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grant_award.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    condition: Mapped[str] = mapped_column(String(24))
    expected_on: Mapped[dt.date] = mapped_column(Date)

    grant: Mapped[Grant] = relationship(back_populates="tranches", lazy="raise")
    #: What has been requested, approved and paid against the tranche and when it was last paid, read with the
    #: tranche by the grant's API answer and page (:data:`grants.awards.reads.GRANT_DETAIL`); None when not asked for.
    requested_total: Mapped[Decimal | None] = query_expression()
    approved_total: Mapped[Decimal | None] = query_expression()
    paid_total: Mapped[Decimal | None] = query_expression()
    last_paid_on: Mapped[dt.date | None] = query_expression()


class Disbursement(db.Model):
    """A payment of (part of) a tranche. Status: scheduled -> requested -> approved -> paid, or cancelled, or
    failed (grants.awards.workflow). Two different finance officers request and approve."""

    __tablename__ = "disbursement"
    __table_args__ = (CheckConstraint("amount > 0", name="amount"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grant_award.id", ondelete="CASCADE"), index=True)
    tranche_id: Mapped[int] = mapped_column(ForeignKey("grant_tranche.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    amount: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(16), default="scheduled", index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The last finance officer who changed the request (they may not approve it either).
    edited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    edited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    payment_reference: Mapped[str | None] = mapped_column(String(100))
    paid_on: Mapped[dt.date | None] = mapped_column(Date)
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The ledger entry of the payment, and the PSC it charged (USD).
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entry.id"), unique=True)
    psc_usd: Mapped[Decimal | None] = mapped_column(MONEY)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    grant: Mapped[Grant] = relationship(back_populates="disbursements", lazy="raise")
    tranche: Mapped[Tranche] = relationship(lazy="joined", innerjoin=True)
    #: The people of the request, for the pages (joined when a page asks for them).
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id], lazy="select", viewonly=True)
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id], lazy="select", viewonly=True)

    def __repr__(self) -> str:
        return f"<Disbursement {self.id} {self.amount} {self.status}>"


class GrantReport(db.Model):
    """An interim or final report: narrative, results (aggregate counts) and the financial report.

    Status: due -> submitted -> accepted, or returned (with comments) and submitted again. Results count the
    victims assisted during the reporting period; expenditure is cumulative from the start of the grant."""

    __tablename__ = "grant_report"
    __table_args__ = (UniqueConstraint("grant_id", "kind", name="uq_grant_report_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grant_award.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="due", index=True)
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    due_on: Mapped[dt.date] = mapped_column(Date, index=True)
    # Narrative
    activities: Mapped[str | None] = mapped_column(Text)
    results_narrative: Mapped[str | None] = mapped_column(Text)
    challenges: Mapped[str | None] = mapped_column(Text)
    lessons: Mapped[str | None] = mapped_column(Text)
    consultation: Mapped[str | None] = mapped_column(Text)
    # Results and money, kept with the report for the record
    total_assisted: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    expenditure: Mapped[Decimal | None] = mapped_column(MONEY)
    received: Mapped[Decimal | None] = mapped_column(MONEY)
    unspent: Mapped[Decimal | None] = mapped_column(MONEY)
    audit_document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    grant: Mapped[Grant] = relationship(back_populates="reports", lazy="raise")
    results: Mapped[list[ReportResult]] = relationship(
        back_populates="report", lazy="selectin", order_by="ReportResult.id", cascade="all, delete-orphan")
    expenses: Mapped[list[ReportExpense]] = relationship(
        back_populates="report", lazy="selectin", order_by="ReportExpense.id", cascade="all, delete-orphan")

    def breakdown(self, name: str) -> dict[str, int]:
        return {r.key: r.count for r in self.results if r.breakdown == name}

    def __repr__(self) -> str:
        return f"<GrantReport {self.id} {self.kind} {self.status}>"


class ReportResult(db.Model):
    """One cell of a report's results: victims assisted in a breakdown's category (``sex_age`` keys are
    "sex|age band"). Counts only."""

    __tablename__ = "grant_report_result"
    __table_args__ = (
        UniqueConstraint("report_id", "breakdown", "key", name="uq_grant_report_result_cell"),
        CheckConstraint("count >= 0", name="count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("grant_report.id", ondelete="CASCADE"), index=True)
    breakdown: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(48))
    count: Mapped[int] = mapped_column(Integer)

    report: Mapped[GrantReport] = relationship(back_populates="results", lazy="raise")


class ReportExpense(db.Model):
    """Expenditure on one approved budget line, cumulative to the end of the report's period."""

    __tablename__ = "grant_report_expense"
    __table_args__ = (
        UniqueConstraint("report_id", "budget_line_id", name="uq_grant_report_expense_line"),
        CheckConstraint("spent >= 0", name="spent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("grant_report.id", ondelete="CASCADE"), index=True)
    budget_line_id: Mapped[int] = mapped_column(ForeignKey("grant_budget_line.id"), index=True)
    spent: Mapped[Decimal] = mapped_column(MONEY)
    explanation: Mapped[str | None] = mapped_column(Text)

    report: Mapped[GrantReport] = relationship(back_populates="expenses", lazy="raise")
    budget_line: Mapped[GrantBudgetLine] = relationship(lazy="joined", innerjoin=True)


class GrantRefund(db.Model):
    """Unspent money the grantee paid back, in its own currency, with the USD value and the rate used."""

    __tablename__ = "grant_refund"
    __table_args__ = (CheckConstraint("amount > 0", name="amount"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grant_award.id", ondelete="CASCADE"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 3))
    usd: Mapped[Decimal] = mapped_column(MONEY)
    exchange_rate_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_rate.id"))
    received_on: Mapped[dt.date] = mapped_column(Date)
    bank_reference: Mapped[str] = mapped_column(String(100))
    ledger_entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entry.id"), unique=True)
    psc_usd: Mapped[Decimal] = mapped_column(MONEY)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class GrantEvent(db.Model):
    """The history of a grant and of its disbursements and reports: every workflow step, with its message."""

    __tablename__ = "grant_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grant_award.id", ondelete="CASCADE"), index=True)
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    message: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="select", viewonly=True)


class ReportReminder(db.Model):
    """A reminder sent about a report: at most one per report per day (the unique key makes it so)."""

    __tablename__ = "grant_report_reminder"
    __table_args__ = (UniqueConstraint("report_id", "sent_on", name="uq_grant_report_reminder_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("grant_report.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    sent_on: Mapped[dt.date] = mapped_column(Date)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
