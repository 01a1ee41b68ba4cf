"""marshmallow schemas of the grants package: input (forms and API) and output (API)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates, validates_schema

from fund.money import MoneyError, check_places
from fund.schemas import (
    Amount,
    DecimalString,
    FileUploadIn,
    Id,
    InSchema,
    NewPasswordForm,
    PageQuery,
    QuerySchema,
    Sort,
)
from grants.models import Application, Call
from grants.taxonomies import (
    ACKNOWLEDGEMENT,
    AGE_BANDS,
    APPLICATION_DOCUMENT_KINDS,
    ASSISTANCE_TYPES,
    BUDGET_CATEGORIES,
    DOCUMENT_KINDS,
    FORMS_OF_EXPLOITATION,
    ORGANISATION_TYPES,
    SEXES,
    WINDOWS,
    country_codes,
)
from grants.workflow import APPLICANT_STATUS_LABELS, APPLICATION_STATES, CALL_STATES

#: An application's status as the API shows it: the workflow state to the fund, the plain status to applicants.
APPLICATION_STATUSES = list(dict.fromkeys([*APPLICATION_STATES, *APPLICANT_STATUS_LABELS]))
SWIFT_RE = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")
ACCOUNT_RE = re.compile(r"^[A-Z0-9]{4,34}$")


def _text(max_len: int, **kw) -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=max_len), **kw)


def _codes(choices, **kw) -> fields.List:
    return fields.List(fields.String(validate=validate.OneOf(list(choices))), **kw)


def in_both_languages(field: Callable[[], fields.Field]) -> tuple[fields.Field, fields.Field]:
    """The English and the French field (``…_en``, ``…_fr``) of a text the fund publishes in both languages,
    declared once, so that both take the same rule."""
    return field(), field()


class CountryCode(fields.String):
    default_error_messages = {"country": "Not an ISO 3166-1 alpha-2 country code."}

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        value = value.strip().upper()
        if value not in country_codes():
            raise self.make_error("country")
        return value


# Organisations ------------------------------------------------------------------------------------------------

class OrganisationIn(InSchema):
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    acronym = _text(30)
    registration_number = _text(100)
    registration_date = fields.Date(allow_none=True)
    country = CountryCode(required=True)
    address = _text(2000)
    website = fields.Url(allow_none=True, schemes={"http", "https"}, validate=validate.Length(max=255))
    year_established = fields.Integer(allow_none=True, strict=False,
                                      validate=validate.Range(min=1800, max=dt.date.today().year))
    org_type = fields.String(required=True, validate=validate.OneOf(list(ORGANISATION_TYPES)))
    contact_name = _text(200)
    contact_email = fields.Email(allow_none=True, validate=validate.Length(max=255))
    contact_phone = _text(50)
    years_direct_assistance = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=200))
    bank_account_holder = _text(200)
    bank_name = _text(200)
    bank_account_number = fields.String(allow_none=True)
    bank_swift = fields.String(allow_none=True)

    @validates("registration_date")
    def _past(self, value, **kwargs):
        if value and value > dt.date.today():
            raise ValidationError(str(_l("The date cannot be in the future.")))

    @validates("bank_account_number")
    def _account(self, value, **kwargs):
        if value is None:
            return
        compact = re.sub(r"[\s-]", "", value).upper()
        if not ACCOUNT_RE.match(compact):
            raise ValidationError(str(_l("Give the IBAN or account number: 4 to 34 letters and digits.")))
        if re.match(r"^[A-Z]{2}\d{2}", compact) and len(compact) >= 15 and not iban_ok(compact):
            raise ValidationError(str(_l("This IBAN is not valid (check digits).")))

    @validates("bank_swift")
    def _swift(self, value, **kwargs):
        if value is not None and not SWIFT_RE.match(value.strip().upper()):
            raise ValidationError(str(_l("A SWIFT / BIC code has 8 or 11 letters and digits.")))

    @post_load
    def _normalise(self, data, **kwargs):
        if data.get("bank_account_number"):
            data["bank_account_number"] = re.sub(r"[\s-]", "", data["bank_account_number"]).upper()
        if data.get("bank_swift"):
            data["bank_swift"] = data["bank_swift"].strip().upper()
        if data.get("contact_email"):
            data["contact_email"] = data["contact_email"].strip().lower()
        return data


class OrganisationChanges(OrganisationIn):
    """The fields of a profile to change (load it with ``partial=True``)."""


def iban_ok(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


class BankDetailsOut(Schema):
    bank_account_holder = fields.String(allow_none=True)
    bank_name = fields.String(allow_none=True)
    bank_account_number = fields.String(allow_none=True)
    bank_swift = fields.String(allow_none=True)
    masked = fields.Boolean()


class OrganisationOut(Schema):
    id = fields.Integer()
    name = fields.String()
    acronym = fields.String(allow_none=True)
    registration_number = fields.String(allow_none=True)
    registration_date = fields.Date(allow_none=True)
    country = fields.String()
    address = fields.String(allow_none=True)
    website = fields.String(allow_none=True)
    year_established = fields.Integer(allow_none=True)
    org_type = fields.String(validate=validate.OneOf(list(ORGANISATION_TYPES)))
    contact_name = fields.String(allow_none=True)
    contact_email = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)
    years_direct_assistance = fields.Integer(allow_none=True)
    bank = fields.Nested(BankDetailsOut)
    psea_policy_document_id = fields.Integer(allow_none=True)
    complete = fields.Boolean()
    missing = fields.List(fields.String())
    created_at = fields.DateTime()


class OrganisationQuery(QuerySchema):
    bank_details = fields.String(validate=validate.OneOf(["masked", "full"]), load_default="masked")


class InvitationIn(InSchema):
    email = fields.Email(required=True, validate=validate.Length(max=255))
    csrf_token = fields.String()


class AcceptInvitationIn(NewPasswordForm):
    mismatch = _l("The passwords do not match.")

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    password = fields.String(required=True, validate=validate.Length(min=10, max=200))
    password_confirm = fields.String(required=True)


# Calls ------------------------------------------------------------------------------------------------------

class CriterionIn(InSchema):
    name_en, name_fr = in_both_languages(lambda: fields.String(required=True, validate=validate.Length(min=1, max=255)))
    weight = fields.Integer(required=True, validate=validate.Range(min=1, max=100))


class CallIn(InSchema):
    title_en, title_fr = in_both_languages(
        lambda: fields.String(required=True, validate=validate.Length(min=3, max=255)))
    description_en, description_fr = in_both_languages(
        lambda: fields.String(load_default="", validate=validate.Length(max=20000)))
    window = fields.String(required=True, validate=validate.OneOf(list(WINDOWS)))
    opens_at = fields.AwareDateTime(required=True, default_timezone=dt.UTC)
    closes_at = fields.AwareDateTime(required=True, default_timezone=dt.UTC)
    currency = fields.String(load_default="USD", validate=validate.Equal("USD"))
    envelope = Amount(required=True)
    min_grant = Amount(required=True)
    max_grant = Amount(required=True)
    max_duration_months = fields.Integer(required=True, validate=validate.Range(min=1, max=60))
    eligible_countries = fields.List(CountryCode(), load_default=list)
    priority_forms = _codes(FORMS_OF_EXPLOITATION, load_default=list)
    required_documents = _codes(DOCUMENT_KINDS, load_default=list)
    criteria = fields.List(fields.Nested(CriterionIn), required=True, validate=validate.Length(min=1, max=20))

    @validates_schema
    def _consistent(self, data, **kwargs):
        errors: dict[str, list[str]] = {}
        for name in ("envelope", "min_grant", "max_grant"):
            if isinstance(data.get(name), Decimal):
                try:
                    data[name] = check_places(data[name], "USD")
                except MoneyError as exc:
                    errors.setdefault(name, []).append(str(exc))
        if data.get("opens_at") and data.get("closes_at") and data["closes_at"] <= data["opens_at"]:
            errors.setdefault("closes_at", []).append(str(_l("The call must close after it opens.")))
        lo, hi, env = data.get("min_grant"), data.get("max_grant"), data.get("envelope")
        if lo is not None and hi is not None and hi < lo:
            errors.setdefault("max_grant", []).append(str(_l("The maximum grant must not be below the minimum.")))
        if hi is not None and env is not None and hi > env:
            errors.setdefault("max_grant", []).append(str(_l("The maximum grant must not exceed the envelope.")))
        criteria = data.get("criteria") or []
        if criteria and sum(c["weight"] for c in criteria) != 100:
            errors.setdefault("criteria", []).append(
                str(_l("The weights of the assessment criteria must add up to 100.")))
        if errors:
            raise ValidationError(errors)

    @post_load
    def _utc(self, data, **kwargs):
        for key in ("opens_at", "closes_at"):
            if data.get(key):
                data[key] = data[key].astimezone(dt.UTC)
        return data


class CriterionOut(Schema):
    id = fields.Integer()
    name_en, name_fr = in_both_languages(fields.String)
    weight = fields.Integer()


class CallOut(Schema):
    id = fields.Integer()
    title_en, title_fr = in_both_languages(fields.String)
    description_en, description_fr = in_both_languages(fields.String)
    window = fields.String(validate=validate.OneOf(list(WINDOWS)))
    window_code = fields.String()
    opens_at = fields.DateTime()
    closes_at = fields.DateTime()
    currency = fields.String()
    envelope = Amount()
    min_grant = Amount()
    max_grant = Amount()
    max_duration_months = fields.Integer()
    eligible_countries = fields.List(fields.String())
    priority_forms = fields.List(fields.String(validate=validate.OneOf(list(FORMS_OF_EXPLOITATION))))
    required_documents = fields.List(fields.String(validate=validate.OneOf(list(DOCUMENT_KINDS))))
    status = fields.String(validate=validate.OneOf(list(CALL_STATES)))
    criteria = fields.List(fields.Nested(CriterionOut))


class CallQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(list(CALL_STATES)))
    sort = Sort({"opens_at": Call.opens_at, "closes_at": Call.closes_at, "status": Call.status, "id": Call.id},
                default="-opens_at,-id")


# Applications -------------------------------------------------------------------------------------------------

class Quantity(DecimalString):
    default_error_messages = {"invalid": "Not a valid quantity: give a number such as \"12\" or \"2.5\".",
                              "negative": "Must be greater than zero.", "places": "At most 2 decimal places."}

    def _deserialize(self, value, attr, data, **kwargs):
        amount = super()._deserialize(value, attr, data, **kwargs)
        if amount != amount.quantize(Decimal("0.01")):
            raise self.make_error("places")
        if amount >= Decimal("10000000000"):
            raise self.make_error("invalid")
        return amount.quantize(Decimal("0.01"))


class BudgetLineIn(InSchema):
    category = fields.String(required=True, validate=validate.OneOf(list(BUDGET_CATEGORIES)))
    description = fields.String(required=True, validate=validate.Length(min=1, max=255))
    quantity = Quantity(required=True)
    unit_cost = Quantity(required=True, positive=False)

    @validates("unit_cost")
    def _not_negative(self, value, **kwargs):
        if value < 0:
            raise ValidationError(str(_l("Must not be negative.")))


class BeneficiaryIn(InSchema):
    sex = fields.String(required=True, validate=validate.OneOf(list(SEXES)))
    age_band = fields.String(required=True, validate=validate.OneOf(list(AGE_BANDS)))
    count = fields.Integer(required=True, strict=False, validate=validate.Range(min=0, max=1000000))


class ApplicationFields(InSchema):
    """Every field an applicant fills in. Each section of the portal form loads a subset (``only=...``)."""

    project_title = _text(255)
    summary = _text(5000)
    objectives = _text(5000)
    countries = fields.List(CountryCode(), validate=validate.Length(max=60))
    locations = _text(2000)
    start_date = fields.Date(allow_none=True)
    duration_months = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=60))
    forms_of_exploitation = _codes(FORMS_OF_EXPLOITATION)
    assistance_types = _codes(ASSISTANCE_TYPES)
    beneficiaries = fields.List(fields.Nested(BeneficiaryIn), validate=validate.Length(max=100))
    identification_referral = _text(5000)
    partners = _text(5000)
    risks_safeguarding = _text(5000)
    monitoring_plan = _text(5000)
    budget_lines = fields.List(fields.Nested(BudgetLineIn), validate=validate.Length(max=100))

    @validates("beneficiaries")
    def _cells_once(self, value, **kwargs):
        cells = [(b.get("sex"), b.get("age_band")) for b in value]
        if len(cells) != len(set(cells)):
            raise ValidationError(str(_l("Each sex and age band may be given once.")))


#: The fields of each portal section.
SECTION_FIELDS = {
    "project": ("project_title", "summary", "objectives"),
    "location": ("countries", "locations", "start_date", "duration_months"),
    "focus": ("forms_of_exploitation", "assistance_types"),
    "beneficiaries": ("beneficiaries",),
    "approach": ("identification_referral", "partners", "risks_safeguarding", "monitoring_plan"),
    "budget": ("budget_lines",),
}


class ApplicationCreateIn(ApplicationFields):
    call_id = Id(required=True)


class DocumentIn(InSchema):
    kind = fields.String(required=True, validate=validate.OneOf(list(APPLICATION_DOCUMENT_KINDS)))
    csrf_token = fields.String()


class DocumentUploadIn(FileUploadIn):
    kind = fields.String(required=True, validate=validate.OneOf(list(APPLICATION_DOCUMENT_KINDS)))


class ReturnIn(InSchema):
    message = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    csrf_token = fields.String()


class ApplicationQuery(PageQuery):
    call_id = Id()
    status = fields.String(validate=validate.OneOf(list(APPLICATION_STATES) + list(APPLICANT_STATUS_LABELS)))
    sort = Sort({"id": Application.id, "created_at": Application.created_at,
                 "submitted_at": Application.submitted_at, "updated_at": Application.updated_at,
                 "reference": Application.reference, "status": Application.status}, default="-id")


class BudgetLineOut(Schema):
    id = fields.Integer()
    category = fields.String()
    description = fields.String()
    quantity = DecimalString(positive=False)
    unit_cost = Amount()
    total = Amount()
    currency = fields.String()


class BeneficiaryOut(Schema):
    sex = fields.String(validate=validate.OneOf(list(SEXES)))
    age_band = fields.String(validate=validate.OneOf(list(AGE_BANDS)))
    count = fields.Integer()


class DocumentOut(Schema):
    id = fields.Integer()
    kind = fields.String(validate=validate.OneOf([*DOCUMENT_KINDS, ACKNOWLEDGEMENT]))
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    uploaded_at = fields.DateTime()
    url = fields.String()


class ApplicationSummaryOut(Schema):
    """An application as a list shows it: what tells one application from another, its status and amount.
    ``GET /applications/{application_id}`` has the rest (texts, beneficiaries, budget, documents, checklist)."""

    id = fields.Integer()
    call_id = fields.Integer()
    organisation_id = fields.Integer()
    reference = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf(APPLICATION_STATUSES),
                           metadata={"description": "For applicants, the plain status (draft, returned, received, "
                                                    "under_assessment, decision, withdrawn); for the fund, the "
                                                    "workflow state."})
    status_label = fields.String()
    submitted_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    project_title = fields.String(allow_none=True)
    countries = fields.List(fields.String())
    start_date = fields.Date(allow_none=True)
    duration_months = fields.Integer(allow_none=True)
    forms_of_exploitation = fields.List(fields.String(validate=validate.OneOf(list(FORMS_OF_EXPLOITATION))))
    assistance_types = fields.List(fields.String(validate=validate.OneOf(list(ASSISTANCE_TYPES))))
    requested_amount = Amount()
    currency = fields.String()


class ApplicationOut(ApplicationSummaryOut):
    """An application in full, with its checklist: ``complete`` and what is ``missing`` before it can be sent."""

    summary = fields.String(allow_none=True)
    objectives = fields.String(allow_none=True)
    locations = fields.String(allow_none=True)
    beneficiaries = fields.List(fields.Nested(BeneficiaryOut))
    identification_referral = fields.String(allow_none=True)
    partners = fields.String(allow_none=True)
    risks_safeguarding = fields.String(allow_none=True)
    monitoring_plan = fields.String(allow_none=True)
    budget_lines = fields.List(fields.Nested(BudgetLineOut))
    direct_costs = Amount()
    indirect_costs = Amount()
    documents = fields.List(fields.Nested(DocumentOut))
    complete = fields.Boolean()
    missing = fields.List(fields.String())
