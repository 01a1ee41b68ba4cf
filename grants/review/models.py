"""Screening, the sanctions list, reviews with their conflict-of-interest declarations, and Board decisions.

Money is ``Numeric(14, 2)`` with its currency beside it (US dollars: calls and grants are in USD). Reviewer
identities and scores never leave the fund's side: nothing here is shown to applicants but the decision itself.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fund.db import UTCDateTime, db, utcnow
from fund.models import User
from grants.models import MONEY, Application

#: The eligibility checklist, in the order it is shown.
SCREENING_ITEMS = ("registered_nonprofit", "applies_directly", "own_bank_account", "safeguarding_policy",
                   "direct_assistance", "not_sanctioned", "budget_within_limits")
ITEM_RESULTS = ("pass", "fail", "needs_info")
SCREENING_OUTCOMES = ("eligible", "ineligible", "returned")

#: A reviewer's declaration: none yet, no conflict, or a conflict (which recuses them).
COI_PENDING, COI_NONE, COI_CONFLICT = "pending", "none", "conflict"
RECOMMENDATIONS = ("fund", "fund_with_changes", "reserve", "do_not_fund")
DECISION_OUTCOMES = ("approved", "reserve", "rejected")


class ReviewSettings(db.Model):
    """Per-call review settings: the minimum number of reviewers each application needs (default 2), and the
    review deadline (the last day reviewers may be assigned; none: no deadline)."""

    __tablename__ = "call_review_settings"
    __table_args__ = (CheckConstraint("min_reviewers >= 1 AND min_reviewers <= 10", name="min_reviewers"),)

    call_id: Mapped[int] = mapped_column(ForeignKey("funding_call.id", ondelete="CASCADE"), primary_key=True)
    min_reviewers: Mapped[int] = mapped_column(Integer, default=2)
    review_deadline: Mapped[dt.date | None] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Screening(db.Model):
    """The eligibility screening of an application (one per application; re-screened after a return)."""

    __tablename__ = "screening"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), unique=True)
    outcome: Mapped[str | None] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    screened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    items: Mapped[list[ScreeningItem]] = relationship(
        back_populates="screening", lazy="selectin", cascade="all, delete-orphan", order_by="ScreeningItem.id")

    def item(self, code: str) -> ScreeningItem | None:
        return next((i for i in self.items if i.code == code), None)


class ScreeningItem(db.Model):
    __tablename__ = "screening_item"
    __table_args__ = (UniqueConstraint("screening_id", "code", name="uq_screening_item_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    screening_id: Mapped[int] = mapped_column(ForeignKey("screening.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    result: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)

    screening: Mapped[Screening] = relationship(back_populates="items", lazy="raise")


class SanctionsImport(db.Model):
    """One import of the UN Security Council consolidated list (the last one is the list in force)."""

    __tablename__ = "sanctions_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    generated: Mapped[str | None] = mapped_column(String(64))
    entries: Mapped[int] = mapped_column(Integer)
    names: Mapped[int] = mapped_column(Integer)


#: What a sanctions list entry is.
SANCTIONS_KINDS = ("individual", "entity")


class SanctionsEntry(db.Model):
    """A listed individual or entity."""

    __tablename__ = "sanctions_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference_number: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(500))

    names: Mapped[list[SanctionsName]] = relationship(back_populates="entry", lazy="raise",
                                                      cascade="all, delete-orphan")


class SanctionsName(db.Model):
    """A name of a listed entry (its main name or an alias), with a normalised matching key. A name with
    apostrophes has one row per key (apostrophes joining letters, and separating words)."""

    __tablename__ = "sanctions_name"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("sanctions_entry.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    is_alias: Mapped[bool] = mapped_column(default=False)
    #: Normalised tokens, sorted and joined by spaces (see grants.review.sanctions.keys).
    key: Mapped[str] = mapped_column(String(500), index=True)

    entry: Mapped[SanctionsEntry] = relationship(back_populates="names", lazy="joined")


class Review(db.Model):
    """A reviewer's assignment to an application: their declaration, then their scores.

    Status: ``assigned`` (nothing saved yet), ``draft`` (scores saved), ``submitted`` (locked), or ``recused``
    (a conflict was declared: content, documents and scoring stay closed to the reviewer)."""

    __tablename__ = "review"
    __table_args__ = (UniqueConstraint("application_id", "reviewer_id", name="uq_review_application_reviewer"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="assigned", index=True)
    coi: Mapped[str] = mapped_column(String(16), default=COI_PENDING)
    coi_reason: Mapped[str | None] = mapped_column(Text)
    coi_declared_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    recommendation: Mapped[str | None] = mapped_column(String(32))
    general_comment: Mapped[str | None] = mapped_column(Text)
    saved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    scores: Mapped[list[ReviewScore]] = relationship(back_populates="review", lazy="selectin",
                                                     cascade="all, delete-orphan", order_by="ReviewScore.id")
    reviewer: Mapped[User] = relationship(foreign_keys=[reviewer_id], lazy="joined", innerjoin=True)
    application: Mapped[Application] = relationship(lazy="joined", innerjoin=True)

    @property
    def recused(self) -> bool:
        return self.coi == COI_CONFLICT

    @property
    def submitted(self) -> bool:
        return self.status == "submitted"

    def score_for(self, criterion_id: int) -> ReviewScore | None:
        return next((s for s in self.scores if s.criterion_id == criterion_id), None)


class ReviewScore(db.Model):
    __tablename__ = "review_score"
    __table_args__ = (
        UniqueConstraint("review_id", "criterion_id", name="uq_review_score_criterion"),
        CheckConstraint("score IS NULL OR (score >= 1 AND score <= 5)", name="score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id", ondelete="CASCADE"), index=True)
    criterion_id: Mapped[int] = mapped_column(ForeignKey("call_criterion.id", ondelete="CASCADE"), index=True)
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)

    review: Mapped[Review] = relationship(back_populates="scores", lazy="raise")


class Decision(db.Model):
    """A Board decision on an application: approved (with the amount committed), reserve list, or rejected.

    An application may have several (reserve, then approved when money arrives); the latest is in force."""

    __tablename__ = "board_decision"
    __table_args__ = (CheckConstraint("amount IS NULL OR amount > 0", name="amount"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("funding_call.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    reason: Mapped[str | None] = mapped_column(Text)
    #: Why a reserve-list application was approved before a better-ranked one (required then).
    out_of_order_reason: Mapped[str | None] = mapped_column(Text)
    #: The weighted score when the decision was taken (kept for the record).
    score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    grant_id: Mapped[int | None] = mapped_column(Integer)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
