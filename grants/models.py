"""Organisations, calls for proposals, applications and their documents.

Money is ``Numeric(14, 2)`` in US dollars (exact), ``Decimal`` in Python; the currency is stated beside every
amount (``currency`` columns, always "USD" here). Victims are never recorded: beneficiaries are counts by sex
and age band.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fund.db import UTCDateTime, db, utcnow
from fund.models import User

MONEY = Numeric(14, 2)


class Organisation(db.Model):
    """An applicant organisation. Its users are the ``User`` rows whose ``organisation_id`` names it."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    acronym: Mapped[str | None] = mapped_column(String(30))
    registration_number: Mapped[str | None] = mapped_column(String(100))
    registration_date: Mapped[dt.date | None] = mapped_column(Date)
    country: Mapped[str] = mapped_column(String(2))
    address: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(String(255))
    year_established: Mapped[int | None] = mapped_column(Integer)
    org_type: Mapped[str] = mapped_column(String(32))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(255))
    contact_phone: Mapped[str | None] = mapped_column(String(50))
    years_direct_assistance: Mapped[int | None] = mapped_column(Integer)
    # Bank account: shown masked; full details to finance officers only, each view audited.
    bank_account_holder: Mapped[str | None] = mapped_column(String(200))
    bank_name: Mapped[str | None] = mapped_column(String(200))
    bank_account_number: Mapped[str | None] = mapped_column(String(64))
    bank_swift: Mapped[str | None] = mapped_column(String(11))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    admins: Mapped[list[OrganisationAdmin]] = relationship(
        back_populates="organisation", lazy="raise", cascade="all, delete-orphan"
    )

    def recipients(self, contact_language: str = "en") -> list[tuple[str, str]]:
        """(e-mail, language) of everyone who hears about the organisation's applications and grants: its active
        users and its contact address (in ``contact_language`` unless it is a user's)."""
        members = db.session.execute(
            select(User).where(User.organisation_id == self.id, User.active.is_(True))
        ).scalars().all()
        recipients = {(u.email, u.language or "en") for u in members}
        if self.contact_email and self.contact_email not in {email for email, _lang in recipients}:
            recipients.add((self.contact_email, contact_language))
        return sorted(recipients)

    def __repr__(self) -> str:
        return f"<Organisation {self.id} {self.name}>"


class BankDetailsChange(db.Model):
    """One version of an organisation's bank account: the history of its payee (grants.payee).

    ``applied`` versions took effect at once (no grant was running); ``pending`` ones wait for a finance officer
    to verify them by a call-back, then become ``verified`` (and the organisation's account) or ``rejected``;
    a newer request makes a pending one ``superseded``. The organisation's ``bank_*`` columns always hold the
    account that payments go to."""

    __tablename__ = "bank_details_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    bank_account_holder: Mapped[str | None] = mapped_column(String(200))
    bank_name: Mapped[str | None] = mapped_column(String(200))
    bank_account_number: Mapped[str | None] = mapped_column(String(64))
    bank_swift: Mapped[str | None] = mapped_column(String(11))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Possible matches of the new holder on the sanctions list, when it was screened (Match.as_dict()).
    sanctions_matches: Mapped[list] = mapped_column(JSON, default=list)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The verifier's call-back: whom they called, at which number from our own records, what was confirmed.
    callback_note: Mapped[str | None] = mapped_column(Text)
    decision_note: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<BankDetailsChange {self.id} org {self.organisation_id} {self.status}>"


class OrganisationAdmin(db.Model):
    """Users who manage an organisation's profile and colleagues: its creator and whoever they promote."""

    __tablename__ = "organisation_admin"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"),
                                                 primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="admins", lazy="raise")


class Invitation(db.Model):
    """An invitation to join an organisation, accepted once through a signed, expiring link."""

    __tablename__ = "organisation_invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(255))
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    accepted_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    organisation: Mapped[Organisation] = relationship(lazy="joined")


class Call(db.Model):
    """A call for proposals. Status: draft -> open -> closed -> decided (grants.workflow.CALL_WORKFLOW)."""

    __tablename__ = "funding_call"
    __table_args__ = (
        CheckConstraint("min_grant > 0 AND max_grant >= min_grant", name="grant_limits"),
        CheckConstraint("closes_at > opens_at", name="dates"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title_en: Mapped[str] = mapped_column(String(255))
    title_fr: Mapped[str] = mapped_column(String(255))
    description_en: Mapped[str] = mapped_column(Text, default="")
    description_fr: Mapped[str] = mapped_column(Text, default="")
    window: Mapped[str] = mapped_column(String(32))
    opens_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    envelope: Mapped[Decimal] = mapped_column(MONEY)
    min_grant: Mapped[Decimal] = mapped_column(MONEY)
    max_grant: Mapped[Decimal] = mapped_column(MONEY)
    max_duration_months: Mapped[int] = mapped_column(Integer)
    #: ISO 3166-1 alpha-2 codes; empty means every country.
    eligible_countries: Mapped[list] = mapped_column(JSON, default=list)
    priority_forms: Mapped[list] = mapped_column(JSON, default=list)
    required_documents: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    criteria: Mapped[list[Criterion]] = relationship(
        back_populates="call", lazy="selectin", order_by="Criterion.position", cascade="all, delete-orphan"
    )

    def title(self, language: str) -> str:
        return self.title_fr if language == "fr" and self.title_fr else self.title_en

    def description(self, language: str) -> str:
        return self.description_fr if language == "fr" and self.description_fr else self.description_en

    @property
    def window_code(self) -> str:
        from grants.taxonomies import WINDOWS

        return WINDOWS[self.window][0]

    def is_open_at(self, now: dt.datetime) -> bool:
        return self.status == "open" and self.opens_at <= now < self.closes_at

    def __repr__(self) -> str:
        return f"<Call {self.id} {self.title_en}>"


class ReferenceCounter(db.Model):
    """The last sequence number of application references per prefix ("VTF-2027-SGP2"), taken atomically."""

    __tablename__ = "application_reference_counter"

    prefix: Mapped[str] = mapped_column(String(32), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


def take_next(counter, **key) -> int:
    """The next number of a counter table (``prefix``/``last``, ``year``/``last``: one row a ``key``), taken with an
    insert-if-missing then one atomic UPDATE ... RETURNING, so concurrent requests never share a number."""
    table = counter.__table__
    ((column, value),) = key.items()
    dialect_insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(dialect_insert(table).values(**key, last=0).on_conflict_do_nothing(index_elements=[column]))
    return db.session.execute(
        update(table).where(table.c[column] == value).values(last=table.c.last + 1).returning(table.c.last)
    ).scalar_one()


class Criterion(db.Model):
    """An assessment criterion of a call, with its weight (a call's weights sum to 100)."""

    __tablename__ = "call_criterion"
    __table_args__ = (CheckConstraint("weight > 0 AND weight <= 100", name="weight"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("funding_call.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name_en: Mapped[str] = mapped_column(String(255))
    name_fr: Mapped[str] = mapped_column(String(255))
    weight: Mapped[int] = mapped_column(Integer)

    call: Mapped[Call] = relationship(back_populates="criteria", lazy="raise")

    def name(self, language: str) -> str:
        return self.name_fr if language == "fr" and self.name_fr else self.name_en


class Application(db.Model):
    """An organisation's application to a call. Status changes only through grants.workflow."""

    __tablename__ = "application"
    __table_args__ = (UniqueConstraint("call_id", "organisation_id", name="uq_application_call_organisation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("funding_call.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    status: Mapped[str] = mapped_column(String(32), default="draft", index=True)
    reference: Mapped[str | None] = mapped_column(String(40), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Section: the project
    project_title: Mapped[str | None] = mapped_column(String(255))
    summary: Mapped[str | None] = mapped_column(Text)
    objectives: Mapped[str | None] = mapped_column(Text)
    # Section: where and when
    countries: Mapped[list] = mapped_column(JSON, default=list)
    locations: Mapped[str | None] = mapped_column(Text)
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    duration_months: Mapped[int | None] = mapped_column(Integer)
    # Section: who is assisted, and how
    forms_of_exploitation: Mapped[list] = mapped_column(JSON, default=list)
    assistance_types: Mapped[list] = mapped_column(JSON, default=list)
    # Section: approach
    identification_referral: Mapped[str | None] = mapped_column(Text)
    partners: Mapped[str | None] = mapped_column(Text)
    risks_safeguarding: Mapped[str | None] = mapped_column(Text)
    monitoring_plan: Mapped[str | None] = mapped_column(Text)
    # Budget: the requested amount is the sum of the lines (kept by grants.operations).
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    requested_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))

    call: Mapped[Call] = relationship(lazy="joined", innerjoin=True)
    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin=True)
    budget_lines: Mapped[list[BudgetLine]] = relationship(
        back_populates="application", lazy="selectin", order_by="BudgetLine.position", cascade="all, delete-orphan"
    )
    beneficiaries: Mapped[list[BeneficiaryCount]] = relationship(
        back_populates="application", lazy="selectin", cascade="all, delete-orphan"
    )
    documents: Mapped[list[Document]] = relationship(
        back_populates="application", lazy="raise", order_by="Document.id"
    )

    def __repr__(self) -> str:
        return f"<Application {self.id} {self.status}>"


class BeneficiaryCount(db.Model):
    """How many people the project expects to assist, by sex and age band. Counts only, never names."""

    __tablename__ = "application_beneficiary"
    __table_args__ = (
        UniqueConstraint("application_id", "sex", "age_band", name="uq_application_beneficiary_cell"),
        CheckConstraint("count >= 0", name="count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    sex: Mapped[str] = mapped_column(String(32))
    age_band: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)

    application: Mapped[Application] = relationship(back_populates="beneficiaries", lazy="raise")


class BudgetLine(db.Model):
    """A line of an application's budget: quantity x unit cost = total, in the application's currency."""

    __tablename__ = "budget_line"
    __table_args__ = (CheckConstraint("quantity > 0 AND unit_cost >= 0 AND total >= 0", name="amounts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(255))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    unit_cost: Mapped[Decimal] = mapped_column(MONEY)
    total: Mapped[Decimal] = mapped_column(MONEY)

    application: Mapped[Application] = relationship(back_populates="budget_lines", lazy="raise")


class ApplicationEvent(db.Model):
    """The history of an application's status (every workflow transition), with the message that came with it.

    A return for revision is the fund's request for information: it stays open on the applicant's dashboard
    until the application is submitted again (``resolved_at``)."""

    __tablename__ = "application_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    trigger: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    message: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Document(db.Model):
    """A stored file: an application's document, an organisation's PSEA policy, a generated acknowledgement.

    The bytes live in fund.storage under ``storage_key`` (random); ``filename`` is only a display name."""

    __tablename__ = "document"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("application.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application | None] = relationship(back_populates="documents", lazy="raise")
