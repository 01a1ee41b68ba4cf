"""JSON API of the fund's finances: the fund position, UN operational rates of exchange, the ledger."""

from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from fund.accounting import attribution, figures, ledger, rates
from fund.accounting.models import JournalEntry, Posting
from fund.db import db, utcnow
from fund.listing import list_page
from fund.models import ADMIN, AUDITOR, FINANCE_OFFICER, FUND_MANAGER
from fund.openapi import action
from fund.permissions import access
from fund.schemas import Amount, DateRange, DecimalString, Id, InSchema, PageQuery, Sort, paged

WRITE = (FINANCE_OFFICER, ADMIN)
READ = (FINANCE_OFFICER, ADMIN, FUND_MANAGER, AUDITOR)

blp = Blueprint("finance_api", __name__, url_prefix="/api/v1",
                description="Fund position, exchange rates and the ledger")


# Schemas ------------------------------------------------------------------------------------------------------


class Month(fields.Field):
    """A month as "YYYY-MM" (loaded as the first day of the month)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.strftime("%Y-%m")

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("Give the month as YYYY-MM.")
        try:
            return rates.parse_month(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class Rate(DecimalString):
    """A rate in units of currency per USD 1, as a decimal string (a JSON integer is accepted; floats are not)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {"example": "0.9235"})
        super().__init__(whole_digits=rates.RATE_INTEGER_DIGITS, places=rates.RATE_PLACES, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        rate = super()._deserialize(value, attr, data, **kwargs)
        try:
            return rates.parse_rate(rate)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class RateIn(InSchema):
    currency = fields.String(required=True, validate=validate.Length(min=1, max=10))
    month = Month(required=True)
    units_per_usd = Rate(required=True)


class RateOut(Schema):
    id = fields.Integer()
    currency = fields.String()
    month = Month()
    version = fields.Integer()
    units_per_usd = Rate()
    source = fields.String()
    entered_at = fields.DateTime()
    entered_by_id = fields.Integer(allow_none=True)


class RateQuery(PageQuery):
    currency = fields.String(validate=validate.Length(max=10))
    month = Month()
    all_versions = fields.Boolean(load_default=False)
    sort = Sort({"month": rates.ExchangeRate.month, "currency": rates.ExchangeRate.currency,
                 "version": rates.ExchangeRate.version, "entered_at": rates.ExchangeRate.entered_at,
                 "id": rates.ExchangeRate.id}, default="-month,currency,-version,id")


def _usd(*names: str) -> dict:
    """Signed figures in US dollars (a position or a total may be negative), one field each."""
    return {name: Amount(positive=False, currency="USD") for name in names}


PositionOut = Schema.from_dict(
    {"currency": fields.String(), **_usd("received", "receivable", "disbursed", "psc", "refunded", "cash", "committed",
                                          "operating_reserve", "available", "fx_gain_loss", "written_off")},
    name="PositionOut")


class PostingOut(Schema):
    line = fields.Integer()
    account = fields.String(validate=validate.OneOf(list(ledger.ACCOUNTS)))
    currency = fields.String()
    amount = Amount()
    usd_amount = Amount(attribute="usd", currency="USD")
    exchange_rate_id = fields.Integer(allow_none=True)
    donor_id = fields.Integer(allow_none=True)
    pledge_id = fields.Integer(allow_none=True)
    grant_id = fields.Integer(allow_none=True)


class EntryOut(Schema):
    id = fields.Integer()
    kind = fields.String(validate=validate.OneOf(list(ledger.KINDS)))
    value_date = fields.Date()
    posted_at = fields.DateTime()
    description = fields.String()
    created_by_id = fields.Integer(allow_none=True)
    reversal_of_id = fields.Integer(allow_none=True)
    reversed_by_id = fields.Function(lambda e: e.reversed_by.id if e.reversed_by is not None else None)
    postings = fields.List(fields.Nested(PostingOut))


class EntryQuery(PageQuery, DateRange):
    kind = fields.String(validate=validate.OneOf(list(ledger.KINDS)))
    account = fields.String(validate=validate.OneOf(list(ledger.ACCOUNTS)))
    currency = fields.String(validate=validate.Length(equal=3))
    donor_id = Id()
    pledge_id = Id()
    grant_id = Id()
    reversed = fields.Boolean()
    sort = Sort({"id": JournalEntry.id, "value_date": JournalEntry.value_date,
                 "posted_at": JournalEntry.posted_at}, default="-id")


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


class PeriodQuery(DateRange):
    """A period of value dates, both ends included; this calendar year by default."""

    class Meta:
        unknown = EXCLUDE

    @post_load
    def defaults(self, data, **kwargs):
        today = utcnow().date()
        data.setdefault("date_from", today.replace(month=1, day=1))
        data.setdefault("date_to", today)
        if data["date_from"] > data["date_to"]:
            raise ValidationError({"to": ["The period ends before it starts."]})
        return data


class MatrixDonorOut(Schema):
    id = fields.Integer()
    name = fields.String()
    cells = fields.List(Amount(positive=False, currency="USD"),
                        metadata={"description": "USD per grant, in the order of ``grants``"})
    attributed = Amount(positive=False, currency="USD")
    psc = Amount(positive=False, currency="USD")
    received = Amount(positive=False, currency="USD")


class MatrixGrantOut(Schema):
    id = fields.Integer()
    number = fields.String()
    organisation = fields.String()
    attributed = Amount(positive=False, currency="USD")
    paid = Amount(positive=False, currency="USD")
    unattributed = Amount(positive=False, currency="USD")


MatrixTotalsOut = Schema.from_dict(
    _usd("attributed", "paid", "unattributed", "psc_attributed", "psc_charged", "received"), name="MatrixTotalsOut")


class MatrixPeriodOut(Schema):
    date_from = fields.Date(data_key="from", attribute="from")
    date_to = fields.Date(data_key="to", attribute="to")


class MatrixOut(Schema):
    currency = fields.String()
    period = fields.Nested(MatrixPeriodOut)
    donors = fields.List(fields.Nested(MatrixDonorOut))
    grants = fields.List(fields.Nested(MatrixGrantOut))
    totals = fields.Nested(MatrixTotalsOut)


class ReverseIn(InSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=400))


# Routes -------------------------------------------------------------------------------------------------------


@blp.route("/fund/position")
@access(*READ)
@blp.response(200, PositionOut)
def fund_position():
    """The fund position in USD from the ledger: cash = received - disbursed - psc + refunded; available = cash -
    committed - operating reserve. ``committed`` includes the programme support costs that undisbursed
    commitments will attract."""
    return figures.fund_position().as_dict()


@action(blp, "/exchange-rates", roles=WRITE, response=RateOut, body=RateIn, status=201)
def set_rate(data):
    """Enter the UN operational rate of a currency for a month (units per USD 1). A different value for a month
    that has one is a new version (201); the same value again changes nothing (200)."""
    change = rates.set_rate(data["currency"], data["month"], data["units_per_usd"], actor=current_user, source="api")
    if not change.added:
        return change.rate, 200
    return change.rate


@blp.route("/exchange-rates")
@access(*READ)
@blp.arguments(RateQuery, location="query")
@blp.response(200, paged(RateOut))
def list_rates(args):
    """Rates, newest month first: the current version of each month, or every version (``all_versions``)."""
    return list_page(rates.rates_query(args.get("currency"), args.get("month"), all_versions=args["all_versions"]),
                     args)


@blp.route("/ledger/entries")
@access(*READ)
@blp.arguments(EntryQuery, location="query")
@blp.response(200, paged(EntryOut))
def list_entries(args):
    """Journal entries with their postings, newest first, filtered by kind, account, currency, donor, pledge,
    grant, value date (``from``, ``to``) or whether they were reversed."""
    return list_page(entries_query(args), args)


@blp.route("/fund/attribution")
@access(*READ)
@blp.arguments(PeriodQuery, location="query")
@blp.response(200, MatrixOut)
def attribution_matrix(args):
    """Which donors' money paid which grant in the period (``from``, ``to``, value dates), as the fund recorded it
    when the money moved: one cell per donor and grant (USD, net of money returned). Each donor's row adds up to
    the use of funds of its statement for the period, each grant's column to what its donors' statements
    attribute to it, which is at most what the grant was paid (``paid``, net of refunds)."""
    return attribution.matrix_data(attribution.matrix(args["date_from"], args["date_to"]))


@action(blp, "/ledger/entries/<int:entry_id>/reverse", roles=WRITE, response=EntryOut, body=ReverseIn,
        status=201)
def reverse_entry(data, entry_id: int):
    """Reverse an entry (once): a new entry negating every posting, linked to the original. 409 when it was
    already reversed, is itself a reversal, or would leave a negative balance."""
    db.get_or_404(JournalEntry, entry_id)
    return ledger.reverse_entry(entry_id, reason=data["reason"], actor=current_user)
