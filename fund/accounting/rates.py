"""Currencies and the UN operational rates of exchange.

Currencies: ISO 4217 codes with their minor units, held in our own ``currency`` table (seeded by the migration
from :data:`ISO_4217_CURRENCIES`; not CLDR, which differs from ISO for IDR, HUF, COP and IQD). An amount with
more decimals than its currency allows is refused.

Rates: one UN operational rate per currency per month, in units of the currency per USD 1 (USD is always 1 and
is never stored). Rates are versioned and the table is append-only: a rate that a posting used is never
changed; a correction is a new version for the same month, which applies to postings made after it. Postings
reference the exact version they used.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from marshmallow import ValidationError
from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from fund import audit
from fund.accounting.lock import lock_fund
from fund.audit import make_append_only
from fund.db import UTCDateTime, db, utcnow
from fund.errors import FundError
from fund.i18n import translate as _
from fund.money import MoneyError, round_money, to_decimal

BASE_CURRENCY = "USD"

#: ISO 4217 (list one): code, English name, minor units. Our own data; the migration seeds the table from it.
ISO_4217_CURRENCIES: tuple[tuple[str, str, int], ...] = (
    ("AED", "UAE Dirham", 2), ("AFN", "Afghani", 2), ("ALL", "Lek", 2), ("AMD", "Armenian Dram", 2),
    ("ANG", "Netherlands Antillean Guilder", 2), ("AOA", "Kwanza", 2), ("ARS", "Argentine Peso", 2),
    ("AUD", "Australian Dollar", 2), ("AWG", "Aruban Florin", 2), ("AZN", "Azerbaijan Manat", 2),
    ("BAM", "Convertible Mark", 2), ("BBD", "Barbados Dollar", 2), ("BDT", "Taka", 2),
    ("BGN", "Bulgarian Lev", 2), ("BHD", "Bahraini Dinar", 3), ("BIF", "Burundi Franc", 0),
    ("BMD", "Bermudian Dollar", 2), ("BND", "Brunei Dollar", 2), ("BOB", "Boliviano", 2),
    ("BOV", "Mvdol", 2), ("BRL", "Brazilian Real", 2), ("BSD", "Bahamian Dollar", 2),
    ("BTN", "Ngultrum", 2), ("BWP", "Pula", 2), ("BYN", "Belarusian Ruble", 2), ("BZD", "Belize Dollar", 2),
    ("CAD", "Canadian Dollar", 2), ("CDF", "Congolese Franc", 2), ("CHE", "WIR Euro", 2),
    ("CHF", "Swiss Franc", 2), ("CHW", "WIR Franc", 2), ("CLF", "Unidad de Fomento", 4),
    ("CLP", "Chilean Peso", 0), ("CNY", "Yuan Renminbi", 2), ("COP", "Colombian Peso", 2),
    ("COU", "Unidad de Valor Real", 2), ("CRC", "Costa Rican Colon", 2), ("CUP", "Cuban Peso", 2),
    ("CVE", "Cabo Verde Escudo", 2), ("CZK", "Czech Koruna", 2), ("DJF", "Djibouti Franc", 0),
    ("DKK", "Danish Krone", 2), ("DOP", "Dominican Peso", 2), ("DZD", "Algerian Dinar", 2),
    ("EGP", "Egyptian Pound", 2), ("ERN", "Nakfa", 2), ("ETB", "Ethiopian Birr", 2), ("EUR", "Euro", 2),
    ("FJD", "Fiji Dollar", 2), ("FKP", "Falkland Islands Pound", 2), ("GBP", "Pound Sterling", 2),
    ("GEL", "Lari", 2), ("GHS", "Ghana Cedi", 2), ("GIP", "Gibraltar Pound", 2), ("GMD", "Dalasi", 2),
    ("GNF", "Guinean Franc", 0), ("GTQ", "Quetzal", 2), ("GYD", "Guyana Dollar", 2),
    ("HKD", "Hong Kong Dollar", 2), ("HNL", "Lempira", 2), ("HTG", "Gourde", 2), ("HUF", "Forint", 2),
    ("IDR", "Rupiah", 2), ("ILS", "New Israeli Sheqel", 2), ("INR", "Indian Rupee", 2),
    ("IQD", "Iraqi Dinar", 3), ("IRR", "Iranian Rial", 2), ("ISK", "Iceland Krona", 0),
    ("JMD", "Jamaican Dollar", 2), ("JOD", "Jordanian Dinar", 3), ("JPY", "Yen", 0),
    ("KES", "Kenyan Shilling", 2), ("KGS", "Som", 2), ("KHR", "Riel", 2), ("KMF", "Comorian Franc", 0),
    ("KPW", "North Korean Won", 2), ("KRW", "Won", 0), ("KWD", "Kuwaiti Dinar", 3),
    ("KYD", "Cayman Islands Dollar", 2), ("KZT", "Tenge", 2), ("LAK", "Lao Kip", 2),
    ("LBP", "Lebanese Pound", 2), ("LKR", "Sri Lanka Rupee", 2), ("LRD", "Liberian Dollar", 2),
    ("LSL", "Loti", 2), ("LYD", "Libyan Dinar", 3), ("MAD", "Moroccan Dirham", 2), ("MDL", "Moldovan Leu", 2),
    ("MGA", "Malagasy Ariary", 2), ("MKD", "Denar", 2), ("MMK", "Kyat", 2), ("MNT", "Tugrik", 2),
    ("MOP", "Pataca", 2), ("MRU", "Ouguiya", 2), ("MUR", "Mauritius Rupee", 2), ("MVR", "Rufiyaa", 2),
    ("MWK", "Malawi Kwacha", 2), ("MXN", "Mexican Peso", 2), ("MXV", "Mexican Unidad de Inversion", 2),
    ("MYR", "Malaysian Ringgit", 2), ("MZN", "Mozambique Metical", 2), ("NAD", "Namibia Dollar", 2),
    ("NGN", "Naira", 2), ("NIO", "Cordoba Oro", 2), ("NOK", "Norwegian Krone", 2),
    ("NPR", "Nepalese Rupee", 2), ("NZD", "New Zealand Dollar", 2), ("OMR", "Rial Omani", 3),
    ("PAB", "Balboa", 2), ("PEN", "Sol", 2), ("PGK", "Kina", 2), ("PHP", "Philippine Peso", 2),
    ("PKR", "Pakistan Rupee", 2), ("PLN", "Zloty", 2), ("PYG", "Guarani", 0), ("QAR", "Qatari Rial", 2),
    ("RON", "Romanian Leu", 2), ("RSD", "Serbian Dinar", 2), ("RUB", "Russian Ruble", 2),
    ("RWF", "Rwanda Franc", 0), ("SAR", "Saudi Riyal", 2), ("SBD", "Solomon Islands Dollar", 2),
    ("SCR", "Seychelles Rupee", 2), ("SDG", "Sudanese Pound", 2), ("SEK", "Swedish Krona", 2),
    ("SGD", "Singapore Dollar", 2), ("SHP", "Saint Helena Pound", 2), ("SLE", "Leone", 2),
    ("SOS", "Somali Shilling", 2), ("SRD", "Surinam Dollar", 2), ("SSP", "South Sudanese Pound", 2),
    ("STN", "Dobra", 2), ("SVC", "El Salvador Colon", 2), ("SYP", "Syrian Pound", 2),
    ("SZL", "Lilangeni", 2), ("THB", "Baht", 2), ("TJS", "Somoni", 2), ("TMT", "Turkmenistan New Manat", 2),
    ("TND", "Tunisian Dinar", 3), ("TOP", "Pa'anga", 2), ("TRY", "Turkish Lira", 2),
    ("TTD", "Trinidad and Tobago Dollar", 2), ("TWD", "New Taiwan Dollar", 2),
    ("TZS", "Tanzanian Shilling", 2), ("UAH", "Hryvnia", 2), ("UGX", "Uganda Shilling", 0),
    ("USD", "US Dollar", 2), ("USN", "US Dollar (Next day)", 2), ("UYI", "Uruguay Peso en Unidades Indexadas", 0),
    ("UYU", "Peso Uruguayo", 2), ("UYW", "Unidad Previsional", 4), ("UZS", "Uzbekistan Sum", 2),
    ("VED", "Bolivar Soberano (digital)", 2), ("VES", "Bolivar Soberano", 2), ("VND", "Dong", 0),
    ("VUV", "Vatu", 0), ("WST", "Tala", 2), ("XAF", "CFA Franc BEAC", 0), ("XCD", "East Caribbean Dollar", 2),
    ("XCG", "Caribbean Guilder", 2), ("XOF", "CFA Franc BCEAO", 0), ("XPF", "CFP Franc", 0),
    ("YER", "Yemeni Rial", 2), ("ZAR", "Rand", 2), ("ZMW", "Zambian Kwacha", 2), ("ZWG", "Zimbabwe Gold", 2),
)

#: Rates are given with at most this many decimals, and at most this many digits before the point.
RATE_PLACES = 8
RATE_INTEGER_DIGITS = 12

CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")




class DecimalText(TypeDecorator):
    """An exact decimal stored as its text (``"0.92345"``): exact on SQLite too, where NUMERIC becomes a float.
    Used for values that are looked up, never summed in SQL (rates); amounts are integer minor units."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError("DecimalText takes Decimal values")
        return format(value, "f")

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value)


class Currency(db.Model):
    """An ISO 4217 currency the fund accepts, with its minor units (decimal places)."""

    __tablename__ = "currency"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    minor_units: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ExchangeRate(db.Model):
    """One version of the UN operational rate of a currency for a month (units of the currency per USD 1)."""

    __tablename__ = "exchange_rate"
    __table_args__ = (UniqueConstraint("currency", "month", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(ForeignKey("currency.code"), index=True)
    #: The first day of the month the rate applies to.
    month: Mapped[dt.date] = mapped_column(Date, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    units_per_usd: Mapped[Decimal] = mapped_column(DecimalText)
    source: Mapped[str] = mapped_column(String(20), default="portal")
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)

    @property
    def month_label(self) -> str:
        return self.month.strftime("%Y-%m")

    def __repr__(self) -> str:
        return f"<ExchangeRate {self.currency} {self.month_label} v{self.version} {self.units_per_usd}>"


make_append_only(ExchangeRate.__table__)


@dataclass(frozen=True)
class RateUsed:
    """The rate a conversion used: the exact stored version, or USD's implicit 1."""

    currency: str
    month: dt.date
    units_per_usd: Decimal
    rate: ExchangeRate | None = None

    @property
    def id(self) -> int | None:
        return self.rate.id if self.rate is not None else None

    @property
    def version(self) -> int | None:
        return self.rate.version if self.rate is not None else None

    @property
    def month_label(self) -> str:
        return self.month.strftime("%Y-%m")

    def to_usd(self, amount: Decimal) -> Decimal:
        """``amount`` of this currency in USD, ROUND_HALF_UP to the cent."""
        return to_usd(amount, self.units_per_usd)

    @classmethod
    def of(cls, rate: ExchangeRate) -> RateUsed:
        return cls(rate.currency, rate.month, rate.units_per_usd, rate)


# Currencies ---------------------------------------------------------------------------------------------------

_EXPONENTS: dict[str, int] = {}


def seed_currencies() -> int:
    """Insert the ISO 4217 currencies that are missing from the table (idempotent); returns how many."""
    existing = set(db.session.execute(select(Currency.code)).scalars())
    missing = [Currency(code=c, name=n, minor_units=m, active=True)
               for c, n, m in ISO_4217_CURRENCIES if c not in existing]
    db.session.add_all(missing)
    db.session.flush()
    return len(missing)


def currency_rows() -> list[dict]:
    """The seed data as rows for ``op.bulk_insert`` in migrations."""
    return [{"code": c, "name": n, "minor_units": m, "active": True} for c, n, m in ISO_4217_CURRENCIES]


def exponent(currency: str) -> int:
    """Minor units of ``currency`` from the currency table; :class:`UnknownCurrency` if it is not there."""
    code = (currency or "").upper()
    if code in _EXPONENTS:
        return _EXPONENTS[code]
    row = db.session.get(Currency, code) if CURRENCY_RE.match(code) else None
    if row is None or not row.active:
        raise UnknownCurrency(currency)
    # Minor units of a currency are fixed once amounts are stored in them; cache them for the process.
    _EXPONENTS[code] = row.minor_units
    return row.minor_units


def currency_choices() -> list[tuple[str, str]]:
    rows = db.session.execute(select(Currency).where(Currency.active.is_(True)).order_by(Currency.code)).scalars()
    return [(c.code, f"{c.code} · {c.name}") for c in rows]


class UnknownCurrency(FundError):
    def __init__(self, currency: str, field: str = "currency"):
        super().__init__(_("%(code)s is not a currency the fund accepts.", code=repr(currency)),
                         fields={field: [_("Unknown currency: give an ISO 4217 code such as EUR or JPY.")]})


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-exponent(currency))


def check_places(amount: Decimal, currency: str) -> Decimal:
    """Refuse an amount with more decimals than the currency has (table minor units); return it at scale."""
    exp = exponent(currency)
    q = Decimal(1).scaleb(-exp)
    if amount != amount.quantize(q, rounding=decimal.ROUND_HALF_UP):
        raise MoneyError(_("%(currency)s amounts have at most %(places)d decimal places.", currency=currency,
                           places=exp) if exp else _("%(currency)s amounts have no decimals.", currency=currency))
    return amount.quantize(q)


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount in integer minor units of its currency (refuses excess decimals)."""
    return int(check_places(amount, currency).scaleb(exponent(currency)))


def from_minor(units: int, currency: str) -> Decimal:
    exp = exponent(currency)
    return Decimal(int(units)).scaleb(-exp).quantize(Decimal(1).scaleb(-exp))


def validate_money(data: dict, amount_field: str = "amount", currency_field: str = "currency") -> None:
    """Schema-level check for an amount and its currency: the currency is in the table, the amount has no more
    decimals than it allows. Raises a marshmallow ValidationError naming the field; normalises the data."""
    currency = data.get(currency_field)
    if currency is None:
        return
    currency = currency.upper()
    try:
        exponent(currency)
    except UnknownCurrency as exc:
        raise ValidationError({currency_field: exc.fields["currency"]}) from exc
    data[currency_field] = currency
    amount = data.get(amount_field)
    if isinstance(amount, Decimal):
        try:
            data[amount_field] = check_places(amount, currency)
        except MoneyError as exc:
            raise ValidationError({amount_field: [str(exc)]}) from exc


# Rates --------------------------------------------------------------------------------------------------------


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def parse_month(value: str) -> dt.date:
    """``"2026-11"`` -> date(2026, 11, 1); ValueError otherwise."""
    match = MONTH_RE.match((value or "").strip())
    if not match:
        raise ValueError(_("Give the month as YYYY-MM."))
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year < 1945:
        raise ValueError(_("Give the month as YYYY-MM."))
    return dt.date(year, month, 1)


def parse_rate(value) -> Decimal:
    """A rate in units per USD 1: a positive decimal, at most 8 decimals; ValueError otherwise."""
    try:
        rate = to_decimal(value)
    except MoneyError as exc:
        raise ValueError(_("Give the rate as a decimal number such as 0.9235.")) from exc
    if rate <= 0:
        raise ValueError(_("The rate must be greater than zero."))
    if rate != rate.quantize(Decimal(1).scaleb(-RATE_PLACES), rounding=decimal.ROUND_HALF_UP):
        raise ValueError(_("The rate has at most %(places)d decimal places.", places=RATE_PLACES))
    if rate >= Decimal(10) ** RATE_INTEGER_DIGITS:
        raise ValueError(_("The rate is too large."))
    return rate


def to_usd(amount: Decimal, units_per_usd: Decimal) -> Decimal:
    """Convert at a rate in units per USD 1; ROUND_HALF_UP to the cent, once."""
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        return round_money(amount / units_per_usd, BASE_CURRENCY)


def current_rate(currency: str, month: dt.date) -> ExchangeRate | None:
    """The latest version of the rate of ``currency`` for ``month`` (any day of it), or None."""
    return db.session.execute(
        select(ExchangeRate)
        .where(ExchangeRate.currency == currency.upper(), ExchangeRate.month == month_start(month))
        .order_by(ExchangeRate.version.desc())
        .limit(1)
    ).scalar_one_or_none()


class MissingRate(FundError):
    def __init__(self, currency: str, month: dt.date, fields: Iterable[str] = ("currency",)):
        message = _("There is no UN operational rate of exchange for %(currency)s for %(month)s: a finance officer "
                    "must enter it before amounts in this currency can be recorded for that month.",
                    currency=currency, month=month.strftime("%Y-%m"))
        super().__init__(message, fields={f: [message] for f in fields})


def rate_for(currency: str, day: dt.date, *, fields: Iterable[str] = ("currency",)) -> RateUsed:
    """The rate to convert ``currency`` on ``day``: the latest version for that month (USD: 1).

    Raises :class:`MissingRate` (422, naming ``fields``) when the month has no rate."""
    currency = currency.upper()
    exponent(currency)
    if currency == BASE_CURRENCY:
        return RateUsed(BASE_CURRENCY, month_start(day), Decimal(1))
    rate = current_rate(currency, day)
    if rate is None:
        raise MissingRate(currency, month_start(day), fields)
    return RateUsed.of(rate)


def rate_used(rate_id: int | None, currency: str, day: dt.date) -> RateUsed:
    if rate_id is None:
        return RateUsed(currency, month_start(day), Decimal(1))
    return RateUsed.of(db.session.get(ExchangeRate, rate_id))


@dataclass
class RateChange:
    rate: ExchangeRate
    added: bool  # False: the month already had this exact rate


def _check_rate_input(currency: str, month) -> tuple[str, dt.date]:
    currency = (currency or "").upper()
    if currency == BASE_CURRENCY:
        message = _("USD is the base currency; its rate is always 1.")
        raise FundError(message, fields={"currency": [message]})
    exponent(currency)
    if isinstance(month, str):
        try:
            month = parse_month(month)
        except ValueError as exc:
            raise FundError(str(exc), fields={"month": [str(exc)]}) from exc
    return currency, month_start(month)


def set_rate(currency: str, month: dt.date | str, units_per_usd: Decimal, *, actor=None,
             source: str = "portal", audit_event: bool = True) -> RateChange:
    """Enter the rate of ``currency`` for ``month``. The same value again changes nothing; a different value is a
    new version (the old one stays, with the postings that used it). Audited; flushes, never commits."""
    lock_fund()  # versions are numbered under the fund lock
    currency, month = _check_rate_input(currency, month)
    try:
        units_per_usd = parse_rate(units_per_usd)
    except ValueError as exc:
        raise FundError(str(exc), fields={"units_per_usd": [str(exc)]}) from exc
    latest = current_rate(currency, month)
    if latest is not None and latest.units_per_usd == units_per_usd:
        return RateChange(latest, added=False)
    rate = ExchangeRate(
        currency=currency, month=month, version=(latest.version + 1) if latest else 1,
        units_per_usd=units_per_usd, source=source, entered_at=utcnow(), entered_by_id=getattr(actor, "id", None),
    )
    db.session.add(rate)
    db.session.flush()
    if audit_event:
        old = str(latest.units_per_usd) if latest else None
        what = "corrected (new version)" if latest else "entered"
        audit.record("exchange_rate.set", rate, actor=actor,
                     summary=f"Rate {currency} {month:%Y-%m} {what}: {units_per_usd} per USD 1 "
                             f"(version {rate.version})",
                     changes={"units_per_usd": [old, str(units_per_usd)],
                              "version": [latest.version if latest else None, rate.version]})
    return RateChange(rate, added=True)


def rates_query(currency: str | None = None, month: dt.date | None = None, *, all_versions: bool = False):
    """Rates newest month first; by default only the current version of each (currency, month)."""
    query = select(ExchangeRate)
    if currency:
        query = query.where(ExchangeRate.currency == currency.upper())
    if month:
        query = query.where(ExchangeRate.month == month_start(month))
    if not all_versions:
        latest = (select(ExchangeRate.currency, ExchangeRate.month, func.max(ExchangeRate.version).label("v"))
                  .group_by(ExchangeRate.currency, ExchangeRate.month).subquery())
        query = query.join(latest, (latest.c.currency == ExchangeRate.currency)
                           & (latest.c.month == ExchangeRate.month) & (latest.c.v == ExchangeRate.version))
    return query.order_by(ExchangeRate.month.desc(), ExchangeRate.currency, ExchangeRate.version.desc())


# CSV import ---------------------------------------------------------------------------------------------------

IMPORT_COLUMNS = ("currency", "month", "units_per_usd")
#: The longest text of a rate an import reads: 12 integer digits, a point, 8 decimals and some leading zeros.
RATE_TEXT_MAX = 32


@dataclass
class ImportResult:
    added: list[tuple[int, str, dt.date, Decimal]] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


def check_import_row(line: int, row: dict, seen: dict) -> tuple[str, dt.date, Decimal] | str:
    """Validate one CSV row; returns (currency, month, rate) or the reason it is rejected."""
    if None in row or any(v is None for v in row.values()):
        return "wrong number of columns"
    currency = (row.get("currency") or "").strip().upper()
    if currency == BASE_CURRENCY:
        return "USD is the base currency; its rate is always 1"
    try:
        exponent(currency)
    except UnknownCurrency:
        return f"unknown currency {currency!r}"
    try:
        month = parse_month(row.get("month") or "")
    except ValueError:
        return f"month {row.get('month')!r} is not YYYY-MM"
    raw = (row.get("units_per_usd") or "").strip()
    shown = repr(raw) if len(raw) <= 40 else repr(raw[:20] + "…") + f" ({len(raw)} characters)"
    if len(raw) > RATE_TEXT_MAX:
        return f"rate {shown}: at most {RATE_INTEGER_DIGITS} digits before the decimal point and {RATE_PLACES} after"
    try:
        value = to_decimal(raw)
        if value.is_finite() and value.adjusted() >= RATE_INTEGER_DIGITS:
            too_large = _("The rate is too large.")
            return f"rate {shown}: {too_large}"
        rate = parse_rate(raw)
    except (ValueError, ArithmeticError) as exc:
        return f"rate {shown}: {exc}"
    key = (currency, month)
    if key in seen and seen[key][1] != rate:
        return f"{currency} {month:%Y-%m} is also on line {seen[key][0]} with another rate"
    seen.setdefault(key, (line, rate))
    return currency, month, rate


def import_rates(rows: Iterable[tuple[int, dict]], *, actor=None, progress=None) -> ImportResult:
    """Import rates all or nothing: every row is checked first; if any is rejected nothing is written.

    ``rows`` yields (line number, {"currency", "month", "units_per_usd"}). Rows equal to the month's current
    rate are unchanged; others are added (a new month, or a new version of it). One audit event for the import.
    Flushes, never commits."""
    lock_fund()
    result = ImportResult()
    checked: list[tuple[int, str, dt.date, Decimal]] = []
    seen: dict = {}
    for line, row in rows:
        outcome = check_import_row(line, row, seen)
        if isinstance(outcome, str):
            result.rejected.append((line, outcome))
        else:
            checked.append((line, *outcome))
        if progress is not None:
            progress(1)
    if result.rejected:
        return result
    written = set()
    for line, currency, month, rate in checked:
        if (currency, month) in written:
            result.unchanged.append(line)
            continue
        change = set_rate(currency, month, rate, actor=actor, source="import", audit_event=False)
        written.add((currency, month))
        if change.added:
            result.added.append((line, currency, month, rate))
        else:
            result.unchanged.append(line)
    if result.added:
        audit.record("exchange_rate.import", entity_type="exchange_rate", actor=actor,
                     summary=f"{len(result.added)} exchange rates imported, {len(result.unchanged)} unchanged",
                     changes={"added": [[c, f"{m:%Y-%m}", str(r)] for _l, c, m, r in result.added]})
    return result
