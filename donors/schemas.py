"""marshmallow schemas of the donors package: input (unknown fields refused) and output, API and portal."""

from __future__ import annotations

import datetime as dt

import pycountry
from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from donors.models import (
    DONOR_TYPES,
    EARMARK_TYPES,
    INSTALMENT_STATUSES,
    LANGUAGES,
    PLEDGE_STATUSES,
    Contribution,
    Donor,
    IssuedStatement,
    Pledge,
)
from fund.accounting.api import Rate
from fund.accounting.rates import check_places, validate_money
from fund.i18n import translate as _
from fund.money import MoneyError
from fund.schemas import Amount, Id, InSchema, PageQuery, QuerySchema, RequiredDateRange, Sort


def _not_future(day: dt.date) -> None:
    # One day of slack for time zones ahead of UTC.
    if day > dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1):
        raise ValidationError(_("Cannot be in the future."))


def _country(code: str) -> None:
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValidationError(_("Not an ISO 3166-1 alpha-2 country code (such as FR or NG)."))


class _Stripped(InSchema):
    @pre_load
    def strip(self, data, **kwargs):
        if isinstance(data, dict):
            return {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
        return data


class DonorIn(_Stripped):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    type = fields.String(required=True, validate=validate.OneOf(DONOR_TYPES))
    country = fields.String(load_default=None, allow_none=True, validate=_country)
    language = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES))
    contact_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    contact_email = fields.Email(load_default=None, allow_none=True)
    anonymous = fields.Boolean(load_default=False)

    @pre_load
    def upper_country(self, data, **kwargs):
        if isinstance(data, dict) and isinstance(data.get("country"), str):
            data = {**data, "country": data["country"].upper() or None}
        return data

    @validates_schema
    def member_states_have_a_country(self, data, **kwargs):
        if data.get("type") == "member_state" and not data.get("country"):
            raise ValidationError({"country": [_("A Member State donor needs its country.")]})


class Totals(Schema):
    currency = fields.String()
    pledged = Amount()
    received = Amount()
    written_off = Amount()
    outstanding = Amount()


class DonorOut(Schema):
    id = fields.Integer()
    name = fields.String()
    type = fields.String(validate=validate.OneOf(DONOR_TYPES))
    country = fields.String(allow_none=True)
    language = fields.String()
    contact_name = fields.String(allow_none=True)
    contact_email = fields.String(allow_none=True)
    anonymous = fields.Boolean()
    created_at = fields.DateTime()
    totals = fields.Nested(Totals)


class DonorQuery(PageQuery):
    type = fields.String(validate=validate.OneOf(DONOR_TYPES))
    q = fields.String(validate=validate.Length(max=200))
    sort = Sort({"name": Donor.name, "type": Donor.type, "id": Donor.id}, default="name,id")


class PledgeQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(PLEDGE_STATUSES))
    sort = Sort({"pledged_on": Pledge.pledged_on, "confirmed_on": Pledge.confirmed_on, "status": Pledge.status,
                 "id": Pledge.id}, default="-pledged_on,-id")


class EarmarkIn(InSchema):
    type = fields.String(required=True, validate=validate.OneOf(EARMARK_TYPES))
    value = fields.String(required=True, validate=validate.Length(min=1, max=200))


class InstalmentIn(InSchema):
    due_on = fields.Date(required=True)
    amount = Amount(required=True)


class PledgeIn(_Stripped):
    amount = Amount(required=True)
    currency = fields.String(required=True, validate=validate.Length(min=1, max=10))
    pledged_on = fields.Date(required=True)
    status = fields.String(load_default="announced", validate=validate.OneOf(["announced", "confirmed"]))
    confirmed_on = fields.Date(load_default=None, allow_none=True)
    instalments = fields.List(fields.Nested(InstalmentIn), load_default=list)
    earmark = fields.Nested(EarmarkIn, load_default=None, allow_none=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))

    @validates_schema(skip_on_field_errors=False)
    def check_money(self, data, **kwargs):
        validate_money(data)
        currency = data.get("currency")
        errors = {}
        for i, inst in enumerate(data.get("instalments") or []):
            if not currency or "amount" not in inst:
                continue  # the missing field is reported by its own validation
            try:
                inst["amount"] = check_places(inst["amount"], currency)
            except MoneyError as exc:
                errors[i] = {"amount": [str(exc)]}
        if errors:
            raise ValidationError({"instalments": errors})


class InstalmentOut(Schema):
    id = fields.Integer()
    due_on = fields.Date()
    amount = Amount()
    paid = Amount(positive=False)
    currency = fields.String()
    status = fields.String(validate=validate.OneOf(INSTALMENT_STATUSES))


class EarmarkOut(Schema):
    type = fields.String(validate=validate.OneOf(EARMARK_TYPES))
    value = fields.String()


class PledgeOut(Schema):
    id = fields.Integer()
    donor_id = fields.Integer()
    amount = Amount()
    currency = fields.String()
    pledged_on = fields.Date()
    confirmed_on = fields.Date(allow_none=True)
    status = fields.String(validate=validate.OneOf(PLEDGE_STATUSES))
    earmark = fields.Nested(EarmarkOut, allow_none=True)
    note = fields.String(allow_none=True)
    received = Amount()
    written_off = Amount()
    outstanding = Amount()
    instalments = fields.List(fields.Nested(InstalmentOut))


class ConfirmIn(InSchema):
    confirmed_on = fields.Date(load_default=None, allow_none=True, validate=_not_future)


class CancelIn(_Stripped):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class WriteOffIn(_Stripped):
    amount = Amount(load_default=None, allow_none=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ContributionIn(_Stripped):
    donor_id = Id(required=True, strict=True)
    pledge_id = Id(load_default=None, allow_none=True, strict=True)
    amount = Amount(required=True)
    currency = fields.String(required=True, validate=validate.Length(min=1, max=10))
    received_on = fields.Date(required=True, validate=_not_future)
    bank_reference = fields.String(required=True, validate=validate.Length(min=1, max=100))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))

    @validates_schema(skip_on_field_errors=False)
    def check_money(self, data, **kwargs):
        validate_money(data)


class ContributionOut(Schema):
    id = fields.Integer()
    donor_id = fields.Integer()
    pledge_id = fields.Integer(allow_none=True)
    unpledged = fields.Boolean()
    amount = Amount()
    currency = fields.String()
    received_on = fields.Date()
    bank_reference = fields.String()
    usd_amount = Amount(currency="USD")
    exchange_rate = Rate(attribute="units_per_usd")
    exchange_rate_id = fields.Integer(allow_none=True)
    rate_month = fields.String()
    rate_version = fields.Integer(allow_none=True)
    ledger_entry_id = fields.Integer()
    reversed = fields.Boolean()
    reversal_entry_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class ContributionQuery(PageQuery):
    donor_id = Id()
    pledge_id = Id()
    sort = Sort({"received_on": Contribution.received_on, "id": Contribution.id}, default="-received_on,-id")


class IssuedStatementQuery(PageQuery):
    sort = Sort({"issued_at": IssuedStatement.issued_at, "period_to": IssuedStatement.period_to,
                 "id": IssuedStatement.id}, default="-issued_at,-id")


# Statements ---------------------------------------------------------------------------------------------------

#: The longest period of one statement.
MAX_STATEMENT_YEARS = 20


def _check_period(data: dict) -> None:
    date_from, date_to = data.get("date_from"), data.get("date_to")
    if date_from and date_to:
        if date_from > date_to:
            raise ValidationError({"to": [_("The period ends before it starts.")]})
        if (date_to - date_from).days > 366 * MAX_STATEMENT_YEARS:
            raise ValidationError({"to": [_("A statement covers at most %(years)d years.",
                                            years=MAX_STATEMENT_YEARS)]})


class StatementQuery(QuerySchema, RequiredDateRange):
    format = fields.String(load_default="pdf", validate=validate.OneOf(["pdf", "csv", "json"]))
    lang = fields.String(load_default=None, validate=validate.OneOf(LANGUAGES))

    @validates_schema
    def period(self, data, **kwargs):
        _check_period(data)


class StatementIn(InSchema, RequiredDateRange):
    lang = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(LANGUAGES))

    @validates_schema
    def period(self, data, **kwargs):
        _check_period(data)
        date_to = data.get("date_to")
        if date_to and date_to > dt.datetime.now(dt.UTC).date():
            raise ValidationError({"to": [_("A statement is issued for a period that has ended (up to today at the "
                                            "latest).")]})


class VoidIn(_Stripped):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class StatementOut(Schema):
    number = fields.String()
    donor_id = fields.Integer()
    period_from = fields.Date(data_key="from")
    period_to = fields.Date(data_key="to")
    language = fields.String()
    issued_at = fields.DateTime()
    sha256 = fields.String()
    size = fields.Integer()
    verification_code = fields.String()
    verification_url = fields.String()
    download_url = fields.String()
    status = fields.String(validate=validate.OneOf(["valid", "void"]))
    voided_at = fields.DateTime(allow_none=True)
    void_reason = fields.String(allow_none=True)
    totals = fields.Dict()
