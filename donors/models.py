"""Donors, pledges (with instalments and the pledge state machine) and contributions received.

Amounts are stored as integer minor units of their currency (``amount_minor``) beside the currency code; the
``amount`` properties give Decimals. What a pledge has received, written off or still owes is computed from the
fund's ledger (:func:`fund.accounting.ledger.pledges_figures`), never stored twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Integer, String, Text, event, inspect, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fund.accounting.ledger import JournalEntry
from fund.accounting.rates import DecimalText, ExchangeRate, from_minor
from fund.db import UTCDateTime, db, utcnow
from fund.i18n import translate as _
from fund.models import ADMIN, FINANCE_OFFICER

DONOR_TYPES = ("member_state", "intergovernmental", "private_sector", "foundation", "individual", "other")
LANGUAGES = ("en", "fr")
EARMARK_TYPES = ("funding_window", "region", "theme")

#: Roles that record donors, pledges and contributions.
WRITERS = frozenset({FINANCE_OFFICER, ADMIN})


class Donor(db.Model):
    __tablename__ = "donor"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    type: Mapped[str] = mapped_column(String(30))
    #: ISO 3166-1 alpha-2; None for donors without one (some intergovernmental organisations).
    country: Mapped[str | None] = mapped_column(String(2))
    language: Mapped[str] = mapped_column(String(2), default="en")
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(255))
    #: Hidden in public material (the donor asked to stay anonymous).
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    pledges: Mapped[list[Pledge]] = relationship(back_populates="donor", lazy="raise", order_by="Pledge.id")

    @property
    def public_name(self) -> str:
        return "Anonymous donor" if self.anonymous else self.name

    def __repr__(self) -> str:
        return f"<Donor {self.id} {self.name}>"


# The pledge state machine ------------------------------------------------------------------------------------

ANNOUNCED = "announced"
CONFIRMED = "confirmed"
PARTIALLY_PAID = "partially_paid"
PAID = "paid"
CANCELLED = "cancelled"
WRITTEN_OFF = "written_off"
PLEDGE_STATUSES = (ANNOUNCED, CONFIRMED, PARTIALLY_PAID, PAID, CANCELLED, WRITTEN_OFF)
#: An instalment's status, from the amounts received in due-date order (donors.operations.summarise).
INSTALMENT_STATUSES = ("due", "overdue", "partly_paid", "paid", "closed")
#: Status names in running text (in the reader's language).
STATUS_LABELS = {
    ANNOUNCED: lambda: _("announced"),
    CONFIRMED: lambda: _("confirmed"),
    PARTIALLY_PAID: lambda: _("partially paid"),
    PAID: lambda: _("paid"),
    CANCELLED: lambda: _("cancelled"),
    WRITTEN_OFF: lambda: _("written off"),
}
#: Statuses in which the pledge is booked in the ledger as receivable.
BOOKED = frozenset({CONFIRMED, PARTIALLY_PAID, PAID, WRITTEN_OFF})
#: Statuses in which the pledge may still receive money or be written off.
OPEN = frozenset({ANNOUNCED, CONFIRMED, PARTIALLY_PAID})


@dataclass(frozen=True)
class Transition:
    """An action on a pledge: the statuses it starts from, those it may end in, who may trigger it, the guard."""

    sources: frozenset
    targets: frozenset
    roles: frozenset
    guard: str


PLEDGE_TRANSITIONS: dict[str, Transition] = {
    # A finance officer confirms an announced pledge once the agreement is signed (booked as receivable).
    "confirm": Transition(frozenset({ANNOUNCED}), frozenset({CONFIRMED}), WRITERS,
                          "a rate exists for the confirmation month"),
    # Money received: against an announced pledge it confirms it first (the money proves the agreement). A
    # payment that settles a pledge of which a part was written off leaves it written off (not paid in full).
    "receive": Transition(frozenset({ANNOUNCED, CONFIRMED, PARTIALLY_PAID}),
                          frozenset({PARTIALLY_PAID, PAID, WRITTEN_OFF}), WRITERS,
                          "the payment is in the pledge's currency and at most its outstanding amount"),
    "write_off": Transition(frozenset({CONFIRMED, PARTIALLY_PAID}),
                            frozenset({CONFIRMED, PARTIALLY_PAID, WRITTEN_OFF}), WRITERS,
                            "the amount is at most the outstanding amount"),
    "cancel": Transition(frozenset({ANNOUNCED, CONFIRMED}), frozenset({CANCELLED}), WRITERS,
                         "nothing has been received or written off"),
    # A ledger entry of the pledge was reversed (a correction): the status follows the amounts again.
    "correct": Transition(frozenset({CONFIRMED, PARTIALLY_PAID, PAID, WRITTEN_OFF, CANCELLED}),
                          frozenset(PLEDGE_STATUSES), WRITERS, "the reversal leaves no negative balance"),
}


def settled_status(amount: Decimal, received: Decimal, written_off: Decimal) -> str:
    """The status of a booked pledge from its amounts: paid, written off, partially paid or confirmed."""
    outstanding = amount - received - written_off
    if outstanding <= 0:
        return WRITTEN_OFF if written_off > 0 else PAID
    return PARTIALLY_PAID if received > 0 else CONFIRMED


class Pledge(db.Model):
    __tablename__ = "pledge"

    id: Mapped[int] = mapped_column(primary_key=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("donor.id"), index=True)
    currency: Mapped[str] = mapped_column(ForeignKey("currency.code"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    pledged_on: Mapped[dt.date] = mapped_column(Date)
    confirmed_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default=ANNOUNCED, index=True)
    earmark_type: Mapped[str | None] = mapped_column(String(20))
    earmark_value: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    donor: Mapped[Donor] = relationship(back_populates="pledges", lazy="joined")
    instalments: Mapped[list[PledgeInstalment]] = relationship(
        back_populates="pledge", order_by="(PledgeInstalment.due_on, PledgeInstalment.id)", lazy="selectin",
        cascade="all, delete-orphan")

    @property
    def amount(self) -> Decimal:
        return from_minor(self.amount_minor, self.currency)

    @property
    def earmark(self) -> dict | None:
        if not self.earmark_type:
            return None
        return {"type": self.earmark_type, "value": self.earmark_value}

    def __repr__(self) -> str:
        return f"<Pledge {self.id} {self.amount} {self.currency} {self.status}>"


class PledgeInstalment(db.Model):
    __tablename__ = "pledge_instalment"

    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledge.id", ondelete="CASCADE"), index=True)
    due_on: Mapped[dt.date] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(BigInteger)

    pledge: Mapped[Pledge] = relationship(back_populates="instalments")

    @property
    def currency(self) -> str:
        return self.pledge.currency

    @property
    def amount(self) -> Decimal:
        return from_minor(self.amount_minor, self.pledge.currency)


class Contribution(db.Model):
    """Money received from a donor, against a pledge or unpledged, with the rate and USD value used."""

    __tablename__ = "contribution"

    id: Mapped[int] = mapped_column(primary_key=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("donor.id"), index=True)
    pledge_id: Mapped[int | None] = mapped_column(ForeignKey("pledge.id"), index=True)
    currency: Mapped[str] = mapped_column(ForeignKey("currency.code"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    received_on: Mapped[dt.date] = mapped_column(Date, index=True)
    bank_reference: Mapped[str] = mapped_column(String(100), unique=True)
    #: The exact rate version used (None for USD, whose rate is 1).
    exchange_rate_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_rate.id"))
    units_per_usd: Mapped[Decimal] = mapped_column(DecimalText)
    usd_cents: Mapped[int] = mapped_column(BigInteger)
    ledger_entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entry.id"), unique=True)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    donor: Mapped[Donor] = relationship(lazy="joined")
    pledge: Mapped[Pledge | None] = relationship(lazy="select")
    exchange_rate: Mapped[ExchangeRate | None] = relationship(lazy="joined")
    ledger_entry: Mapped[JournalEntry] = relationship(lazy="joined")

    @property
    def amount(self) -> Decimal:
        return from_minor(self.amount_minor, self.currency)

    @property
    def usd_amount(self) -> Decimal:
        return from_minor(self.usd_cents, "USD")

    @property
    def unpledged(self) -> bool:
        return self.pledge_id is None

    @property
    def rate_month(self) -> str:
        return self.received_on.strftime("%Y-%m")

    @property
    def rate_version(self) -> int | None:
        return self.exchange_rate.version if self.exchange_rate is not None else None

    @property
    def reversal_entry_id(self) -> int | None:
        rev = self.ledger_entry.reversed_by
        return rev.id if rev is not None else None

    @property
    def reversed(self) -> bool:
        return self.ledger_entry.reversed_by is not None


# Issued statements ------------------------------------------------------------------------------------------


class StatementCounter(db.Model):
    """The last statement number given in a year (locked while a statement is issued, so numbers never repeat
    and two requests cannot both issue the same donor's statement for a period)."""

    __tablename__ = "statement_counter"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class IssuedStatement(db.Model):
    """A donor statement as issued: the PDF is stored (``storage_key``) with its SHA-256 and never re-rendered.

    Immutable: only voiding writes to it again (once: ``voided_at``, ``voided_by_id``, ``void_reason``); a
    corrected statement is a new one. ``totals`` keeps the totals printed on it, for the public verification page.
    """

    __tablename__ = "issued_statement"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: VTF-ST-<year of the period's end>-<sequence>, e.g. VTF-ST-2027-0007.
    number: Mapped[str] = mapped_column(String(20), unique=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("donor.id"), index=True)
    period_from: Mapped[dt.date] = mapped_column(Date)
    period_to: Mapped[dt.date] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(2))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    #: The donor's name and anonymity as printed.
    donor_name: Mapped[str] = mapped_column(String(200))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    #: Random and unguessable (80 bits), printed as text and QR code; the key of /verify/<code>.
    verification_code: Mapped[str] = mapped_column(String(32), unique=True)
    totals: Mapped[dict] = mapped_column(JSON)
    voided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    void_reason: Mapped[str | None] = mapped_column(Text)

    donor: Mapped[Donor] = relationship(lazy="joined")

    @property
    def voided(self) -> bool:
        return self.voided_at is not None

    @property
    def public_name(self) -> str | None:
        """The donor's name for public pages, or None when the donor is (or was, at issue) anonymous."""
        if self.anonymous or self.donor.anonymous:
            return None
        return self.donor_name

    def __repr__(self) -> str:
        return f"<IssuedStatement {self.number}>"


VOID_FIELDS = frozenset({"voided_at", "voided_by_id", "void_reason"})


@event.listens_for(IssuedStatement, "before_update")
def _issued_statements_are_immutable(mapper, connection, target: IssuedStatement) -> None:
    state = inspect(target)
    for attr in mapper.column_attrs:
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        if attr.key not in VOID_FIELDS:
            raise ValueError(f"issued statement {target.number}: {attr.key} cannot change (void and issue anew)")
    voided_at = connection.execute(
        select(IssuedStatement.voided_at).where(IssuedStatement.id == target.id)).scalar_one_or_none()
    if voided_at is not None:
        raise ValueError(f"issued statement {target.number} is already void")


@event.listens_for(IssuedStatement, "before_delete")
def _issued_statements_are_kept(mapper, connection, target: IssuedStatement) -> None:
    raise ValueError(f"issued statement {target.number} cannot be deleted (void it)")
