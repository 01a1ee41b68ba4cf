"""marshmallow schemas of grants awarded: input (forms and API) and output (API)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate, validates, validates_schema

from fund.accounting.rates import validate_money
from fund.schemas import Amount, Id, InSchema, PageQuery, Sort
from fund.vocabulary import AGE_BANDS, SEXES
from grants.awards.models import CONDITIONS, REPORT_KINDS, Disbursement, Grant
from grants.awards.templating import TRANCHE_STATUS
from grants.awards.workflow import DISBURSEMENT_STATES, GRANT_STATES, REPORT_STATES
from grants.taxonomies import BUDGET_CATEGORIES

_TEXT = 20000


def choice(values) -> fields.String:
    """A code, one of ``values`` (the document lists them)."""
    return fields.String(validate=validate.OneOf(list(values)))


def amount_and_currency() -> tuple[Amount, fields.String]:
    """An amount and, beside it, its currency."""
    return Amount(), fields.String()


def actor_and_time() -> tuple[fields.Integer, fields.DateTime]:
    """Who took a step (a user's id) and when: both empty until it is taken."""
    return fields.Integer(allow_none=True), fields.DateTime(allow_none=True)


class UsdAmount(Amount):
    """An amount in US dollars as a person types it: to the cent at most, and (with ``positive=False``) not below
    zero; refused beside the field."""

    def _deserialize(self, value, attr, data, **kwargs):
        amount = super()._deserialize(value, attr, data, **kwargs)
        if amount < 0:
            raise ValidationError(str(_l("Must not be negative.")))
        if amount != amount.quantize(Decimal("0.01")):
            raise ValidationError(str(_l("At most 2 decimal places.")))
        return amount


class _Form(InSchema):
    """Portal forms carry a CSRF token (checked by Flask-WTF before the form is read); it is not data, so it is
    dropped before loading and the API's schemas never show it."""

    @pre_load
    def _drop_csrf_token(self, data, **kwargs):
        if isinstance(data, dict) and "csrf_token" in data:
            data = {key: value for key, value in data.items() if key != "csrf_token"}
        return data


# Disbursements ------------------------------------------------------------------------------------------------

class DisbursementIn(_Form):
    tranche = fields.Integer(required=True, strict=False, validate=validate.Range(min=1, max=50))
    amount = UsdAmount(required=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))


class DisbursementEditIn(_Form):
    amount = UsdAmount(required=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))


class PaymentIn(_Form):
    payment_reference = fields.String(required=True, validate=validate.Length(min=1, max=100))
    paid_on = fields.Date(required=True)

    @validates("payment_reference")
    def _not_blank(self, value, **kwargs):
        if not value.strip():
            raise ValidationError(str(_l("Give the payment reference.")))

    @validates("paid_on")
    def _not_future(self, value, **kwargs):
        if value > dt.date.today() + dt.timedelta(days=1):
            raise ValidationError(str(_l("The value date cannot be in the future.")))


class MessageIn(_Form):
    message = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class OptionalMessageIn(_Form):
    message = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000))


# Refunds ------------------------------------------------------------------------------------------------------

class RefundIn(_Form):
    amount = Amount(required=True)
    currency = fields.String(required=True, validate=validate.Length(min=3, max=3))
    received_on = fields.Date(required=True)
    bank_reference = fields.String(required=True, validate=validate.Length(min=1, max=100))

    @validates("received_on")
    def _not_future(self, value, **kwargs):
        if value > dt.date.today() + dt.timedelta(days=1):
            raise ValidationError(str(_l("The date cannot be in the future.")))

    @validates_schema
    def _money(self, data, **kwargs):
        validate_money(data)


# Tranche schedule ---------------------------------------------------------------------------------------------

class TrancheIn(InSchema):
    percent = Amount(required=True)
    condition = fields.String(required=True, validate=validate.OneOf(CONDITIONS))


class TranchesIn(_Form):
    tranches = fields.List(fields.Nested(TrancheIn), required=True, validate=validate.Length(min=1, max=10))

    @validates("tranches")
    def _hundred(self, value, **kwargs):
        if sum((t.get("percent", Decimal(0)) for t in value), Decimal(0)) != 100:
            raise ValidationError(str(_l("The percentages must add up to 100.")))


# Budget revision ----------------------------------------------------------------------------------------------

class GrantBudgetLineIn(InSchema):
    id = Id(load_default=None, allow_none=True)
    category = fields.String(required=True, validate=validate.OneOf(list(BUDGET_CATEGORIES)))
    description = fields.String(required=True, validate=validate.Length(min=1, max=255))
    amount = UsdAmount(required=True, positive=False)


class BudgetIn(_Form):
    lines = fields.List(fields.Nested(GrantBudgetLineIn), required=True, validate=validate.Length(min=1, max=100))


# Reports ------------------------------------------------------------------------------------------------------

class CellIn(InSchema):
    sex = fields.String(required=True, validate=validate.OneOf(SEXES))
    age_band = fields.String(required=True, validate=validate.OneOf(AGE_BANDS))
    count = fields.Integer(required=True, strict=False, validate=validate.Range(min=0, max=10_000_000))


def _counts() -> fields.Dict:
    return fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=48)),
                       values=fields.Integer(strict=False, validate=validate.Range(min=0, max=10_000_000)))


class ResultsIn(InSchema):
    """Victims assisted in the period, by sex and age band (cells), and by form of exploitation, main type of
    assistance and country (category -> count; "not_recorded" where it was not recorded)."""

    sex_age = fields.List(fields.Nested(CellIn), required=True, validate=validate.Length(max=100))
    form = _counts()
    assistance = _counts()
    country = _counts()

    @post_load
    def _cells(self, data, **kwargs):
        cells: dict[str, int] = {}
        for cell in data.get("sex_age", []):
            key = f"{cell['sex']}|{cell['age_band']}"
            if key in cells:
                raise ValidationError({"sex_age": [str(_l("Each sex and age band may be given once."))]})
            cells[key] = cell["count"]
        data["sex_age"] = cells
        return data


class ExpenseIn(InSchema):
    budget_line_id = Id(required=True)
    spent = UsdAmount(required=True, positive=False)
    explanation = fields.String(allow_none=True, validate=validate.Length(max=5000))


class ReportFields(_Form):
    activities = fields.String(allow_none=True, validate=validate.Length(max=_TEXT))
    results_narrative = fields.String(allow_none=True, validate=validate.Length(max=_TEXT))
    challenges = fields.String(allow_none=True, validate=validate.Length(max=_TEXT))
    lessons = fields.String(allow_none=True, validate=validate.Length(max=_TEXT))
    consultation = fields.String(allow_none=True, validate=validate.Length(max=_TEXT))
    results = fields.Nested(ResultsIn)
    expenditure = fields.List(fields.Nested(ExpenseIn), validate=validate.Length(max=200))


class ReportIn(ReportFields):
    kind = fields.String(required=True, validate=validate.OneOf(REPORT_KINDS))


# Queries ------------------------------------------------------------------------------------------------------

class GrantQuery(PageQuery):
    status = choice(GRANT_STATES)
    organisation_id = Id()
    sort = Sort({"id": Grant.id, "number": Grant.number, "start_date": Grant.start_date, "end_date": Grant.end_date,
                 "status": Grant.status}, default="-id")


class DisbursementQuery(PageQuery):
    status = choice(DISBURSEMENT_STATES)
    grant_id = Id()
    sort = Sort({"id": Disbursement.id, "requested_at": Disbursement.requested_at,
                 "approved_at": Disbursement.approved_at, "paid_on": Disbursement.paid_on,
                 "status": Disbursement.status}, default="id")


# Output -------------------------------------------------------------------------------------------------------

class TrancheOut(Schema):
    number = fields.Integer()
    amount, currency = amount_and_currency()
    condition = choice(CONDITIONS)
    condition_met = fields.Boolean()
    expected_on = fields.Date()
    approved = Amount()
    paid = Amount()
    status = choice(TRANCHE_STATUS)


class GrantBudgetLineOut(Schema):
    id = fields.Integer()
    category = fields.String()
    description = fields.String()
    amount, currency = amount_and_currency()


class ReportSummaryOut(Schema):
    id = fields.Integer()
    kind = choice(REPORT_KINDS)
    status = choice(REPORT_STATES)
    period_start = fields.Date()
    period_end = fields.Date()
    due_on = fields.Date()
    overdue = fields.Boolean()


class DisbursementOut(Schema):
    id = fields.Integer()
    grant_id = fields.Integer()
    tranche = fields.Integer()
    amount, currency = amount_and_currency()
    status = choice(DISBURSEMENT_STATES)
    requested_by_id, requested_at = actor_and_time()
    edited_by_id = fields.Integer(allow_none=True)
    approved_by_id, approved_at = actor_and_time()
    payment_reference = fields.String(allow_none=True)
    paid_on = fields.Date(allow_none=True)
    ledger_entry_id = fields.Integer(allow_none=True)
    psc_usd = Amount(allow_none=True, currency="USD")
    note = fields.String(allow_none=True)


class GrantListOut(Schema):
    """A grant in a list: its tranches, budget and disbursements are read one grant at a time (GrantOut)."""

    id = fields.Integer()
    number = fields.String()
    status = choice(GRANT_STATES)
    organisation_id = fields.Integer()
    organisation = fields.String()
    application_id = fields.Integer()
    title = fields.String()
    currency = fields.String()
    amount = Amount()
    start_date = fields.Date()
    end_date = fields.Date()
    committed = Amount(metadata={"description": "Commitment in the ledger, net of releases."})
    paid = Amount(metadata={"description": "Disbursed to the grantee (ledger)."})
    refunded = Amount(metadata={"description": "Refunded by the grantee, in USD (ledger)."})
    remaining = Amount(metadata={"description": "Commitment not yet disbursed (ledger)."})
    expenditure = Amount(metadata={"description": "Paid net of refunds (ledger)."})
    psc = Amount(metadata={"description": "Programme support costs charged (ledger)."})
    reports = fields.List(fields.Nested(ReportSummaryOut))
    signed_document_id = fields.Integer(allow_none=True)
    signed_at = fields.DateTime(allow_none=True)
    countersigned_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)


class GrantOut(GrantListOut):
    tranches = fields.List(fields.Nested(TrancheOut))
    budget_lines = fields.List(fields.Nested(GrantBudgetLineOut))
    disbursements = fields.List(fields.Nested(DisbursementOut), metadata={
        "description": "The 20 most recent, oldest first; all of them: GET /api/v1/disbursements?grant_id=."})
    disbursements_total = fields.Integer(metadata={"description": "How many disbursements the grant has."})


class CellOut(Schema):
    sex = choice(SEXES)
    age_band = choice(AGE_BANDS)
    count = fields.Integer()


class ResultsOut(Schema):
    sex_age = fields.List(fields.Nested(CellOut))
    form = fields.Dict(keys=fields.String(), values=fields.Integer())
    assistance = fields.Dict(keys=fields.String(), values=fields.Integer())
    country = fields.Dict(keys=fields.String(), values=fields.Integer())


class ExpenseOut(Schema):
    budget_line_id = fields.Integer()
    description = fields.String()
    budget = Amount(positive=False, currency="USD")
    expected = Amount(positive=False, currency="USD")
    spent = Amount(positive=False, currency="USD")
    explanation = fields.String(allow_none=True)


class ExpenseWarningOut(Schema):
    explanation = fields.List(fields.String())


class ReportWarningsOut(Schema):
    """The rules of submission the saved report breaks, in the shape of the submission's 422 ``fields``
    (empty when none): a breakdown that does not add up to the total by sex and age, and lines of
    ``expenditure_lines`` (by position) more than 10 % off without an explanation. Saving keeps such a
    draft; submitting refuses it."""

    results = fields.Dict(keys=fields.String(validate=validate.OneOf(["sex_age", "form", "assistance", "country"])),
                          values=fields.List(fields.String()))
    expenditure = fields.Dict(keys=fields.String(), values=fields.Nested(ExpenseWarningOut))


class ReportOut(ReportSummaryOut):
    grant_id = fields.Integer()
    activities = fields.String(allow_none=True)
    results_narrative = fields.String(allow_none=True)
    challenges = fields.String(allow_none=True)
    lessons = fields.String(allow_none=True)
    consultation = fields.String(allow_none=True)
    total_assisted = fields.Integer(allow_none=True)
    results = fields.Nested(ResultsOut, allow_none=True)
    expenditure_lines = fields.List(fields.Nested(ExpenseOut))
    currency = fields.String()
    expenditure = Amount(allow_none=True)
    received = Amount(allow_none=True)
    unspent = Amount(allow_none=True)
    audit_document_id = fields.Integer(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    warnings = fields.Nested(ReportWarningsOut)


class RefundOut(Schema):
    id = fields.Integer()
    grant_id = fields.Integer()
    amount, currency = amount_and_currency()
    usd = Amount(currency="USD")
    exchange_rate_id = fields.Integer(allow_none=True)
    received_on = fields.Date()
    bank_reference = fields.String()
    ledger_entry_id = fields.Integer()
    psc_usd = Amount(currency="USD")
