"""Shared marshmallow pieces: pagination and sorting of lists (with fund.listing), money, the error shape, audit
and account schemas."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, NamedTuple

from flask_babel import gettext as _
from flask_smorest.fields import Upload
from marshmallow import EXCLUDE, INCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from fund.audit import AuditEvent
from fund.models import ROLES, User
from fund.money import MoneyError, check_places, quantum, to_decimal


class InSchema(Schema):
    """Input schemas refuse unknown fields, so a typo is an error rather than silently ignored."""

    class Meta:
        unknown = RAISE


class QuerySchema(Schema):
    """Query strings may carry extra parameters (cache busters, ...); they are ignored."""

    class Meta:
        unknown = EXCLUDE


class PageQuery(QuerySchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class SortKey(NamedTuple):
    name: str
    descending: bool
    target: Any  #: what the endpoint sorts by: a column (database lists) or a key function (lists in memory)


class Sort(fields.List):
    """The ``sort`` parameter of a list: field names, a leading ``-`` for descending, in order of precedence,
    comma-separated or repeated (``sort=-created_at,id`` or ``sort=-created_at&sort=id``). ``sortable`` maps each
    name the endpoint allows to its column (or key function); the document lists them as an enum. An unknown
    name is a 422 naming ``sort`` and the name. The ``default`` keys follow the requested ones (a unique key last),
    so every order is total and pages never overlap. Loads as a list of :class:`SortKey`."""

    def __init__(self, sortable: dict[str, Any], *, default: str, max_keys: int = 3, **kwargs):
        self.sortable = dict(sortable)
        self.max_keys = max_keys
        choices = [v for name in self.sortable for v in (name, f"-{name}")]
        self.default_keys = self._parse(default.split(","))
        kwargs.setdefault("metadata", {})
        kwargs["metadata"].setdefault("description", (
            f"Sort by {', '.join(self.sortable)} (a leading - for descending; several comma-separated or "
            f"repeated, in order of precedence). Default: {default}."))
        super().__init__(fields.String(validate=validate.OneOf(choices)),
                         load_default=lambda: list(self.default_keys), **kwargs)

    def _parse(self, values) -> list[SortKey]:
        keys: list[SortKey] = []
        for value in values:
            for part in str(value).split(","):
                part = part.strip()
                if not part:
                    continue
                name, descending = (part[1:], True) if part[0] == "-" else (part.lstrip("+"), False)
                if name not in self.sortable:
                    raise ValidationError(_("Unknown sort field: %(name)s. Sort by %(allowed)s (a leading - for "
                                             "descending).", name=name, allowed=", ".join(self.sortable)))
                if all(k.name != name for k in keys):
                    keys.append(SortKey(name, descending, self.sortable[name]))
        return keys

    def _deserialize(self, value, attr, data, **kwargs):
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
            raise self.make_error("invalid")
        keys = self._parse(values)
        if len(keys) > self.max_keys:
            raise ValidationError(_("Sort by at most %(limit)s fields.", limit=self.max_keys))
        return keys + [k for k in self.default_keys if all(k.name != mine.name for mine in keys)]


class PageMeta(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    pages = fields.Integer()


def page_envelope(pagination) -> dict:
    """``{"items", "meta"}`` of a Flask-SQLAlchemy page (fund.listing.list_page builds every API list with it)."""
    return {
        "items": list(pagination.items),
        "meta": {"page": pagination.page, "per_page": pagination.per_page, "total": pagination.total,
                 "pages": pagination.pages},
    }


def paged(item_schema: type[Schema], name: str | None = None) -> type[Schema]:
    """A schema for ``{"items": [...], "meta": {...}}`` pages of ``item_schema``."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item_schema)), "meta": fields.Nested(PageMeta)},
        name=name or f"{item_schema.__name__.removesuffix('Schema')}Page",
    )


#: The largest id the API and the portal accept: PostgreSQL's ``integer``. A larger one can name nothing.
MAX_ID = 2**31 - 1

#: Whole digits of the largest amount the service accepts (below 10^15 in any currency: a 28-digit Decimal
#: context holds it with four decimals to spare, so quantizing never raises).
MAX_WHOLE_DIGITS = 15
MAX_PLACES = 4


def decimal_pattern(whole_digits: int = MAX_WHOLE_DIGITS, places: int = MAX_PLACES) -> str:
    return rf"^-?[0-9]{{1,{whole_digits}}}(\.[0-9]{{1,{places}}})?$"


AMOUNT_PATTERN = decimal_pattern()


class Id(fields.Integer):
    """The id of a record in a body or a query string: a whole number from 1 to :data:`MAX_ID`. A larger one is
    a 422 naming the field, never a database error."""

    def __init__(self, **kwargs):
        kwargs.setdefault("strict", False)
        kwargs.setdefault("validate", validate.Range(min=1, max=MAX_ID))
        super().__init__(**kwargs)


class DecimalString(fields.Field):
    """An exact decimal in JSON: a string such as ``"1250.00"`` matching :data:`AMOUNT_PATTERN` (at most 15
    whole digits and 4 decimals). A JSON integer in range is accepted; floats, ``NaN``, ``Infinity``, exponents
    (``1E+30``) and longer numbers are refused with a field error before any arithmetic. ``-0`` is 0."""

    default_error_messages = {
        "invalid": "Not a valid amount: give a decimal string such as \"1250.00\".",
        "range": "Too large: at most {whole_digits} digits before the decimal point and {places} after.",
        "negative": "Must be greater than zero.",
    }

    def __init__(self, *, positive: bool = True, whole_digits: int = MAX_WHOLE_DIGITS, places: int = MAX_PLACES,
                 **kwargs):
        self.positive = positive
        self.whole_digits, self.places = whole_digits, places
        self.pattern = decimal_pattern(whole_digits, places)
        self._re = re.compile(self.pattern)
        metadata = {"type": "string", "pattern": self.pattern, "example": "1250.00", **kwargs.pop("metadata", {})}
        if positive and "description" not in metadata:
            metadata["description"] = "Greater than zero."
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return str(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.make_error("invalid")
        text = str(value).strip()
        if not self._re.match(text):
            digits = text.lstrip("+-").split(".")
            if all(part.isdigit() for part in digits) and 1 <= len(digits) <= 2:
                raise self.make_error("range", whole_digits=self.whole_digits, places=self.places)
            raise self.make_error("invalid")
        try:
            amount = to_decimal(text)
        except MoneyError as exc:
            raise self.make_error("invalid") from exc
        if amount.is_zero():
            amount = abs(amount)
        if self.positive and amount <= 0:
            raise self.make_error("negative")
        return amount


class Amount(DecimalString):
    """Money: a :class:`DecimalString` always written with its currency's exponent (``"0.00"``, JPY ``"0"``),
    the currency read from the sibling field ``currency_field`` of the same object, or fixed by ``currency``
    (USD figures of the ledger). Decimals on input are checked against the currency by
    :func:`check_amount_places`."""

    def __init__(self, *, currency: str | None = None, currency_field: str = "currency", **kwargs):
        self.currency = currency
        self.currency_field = currency_field
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        amount = value if isinstance(value, Decimal) else to_decimal(value)
        currency = self.currency or _get(obj, self.currency_field)
        if currency:
            amount = amount.quantize(quantum(currency))
        return str(amount)


def _get(obj, name: str):
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def check_amount_places(data: dict, amount_field: str = "amount", currency_field: str = "currency") -> None:
    """Raise a field error when the amount has more decimals than its currency allows."""
    amount, currency = data.get(amount_field), data.get(currency_field)
    if isinstance(amount, Decimal) and currency:
        try:
            data[amount_field] = check_places(amount, currency)
        except MoneyError as exc:
            raise ValidationError({amount_field: [str(exc)]}) from exc


class DateRange(Schema):
    """The one date-range filter of lists, statements and exports: ``from`` and ``to``, both ends included.
    Mix it into a query or body schema (``class EntryQuery(PageQuery, DateRange)``); :class:`RequiredDateRange`
    when both ends must be given."""

    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")


class RequiredDateRange(Schema):
    date_from = fields.Date(required=True, data_key="from")
    date_to = fields.Date(required=True, data_key="to")


class FileUploadIn(InSchema):
    """A ``multipart/form-data`` upload through the API: the ``file`` part (see fund.openapi.multipart_arguments)."""

    file = Upload(required=True, metadata={"description": "PDF, DOCX, XLSX, JPEG or PNG, recognised from the "
                                                          "content; larger than the limit is a 413."})


class ErrorDetail(Schema):
    class Meta:
        unknown = INCLUDE

    code = fields.String(required=True, metadata={"description": "A stable code: validation_error, not_found, "
                                                                 "conflict, forbidden, ..."})
    message = fields.String(required=True, metadata={"description": "A sentence in the caller's language."})
    field_messages = fields.Dict(
        data_key="fields", required=True, keys=fields.String(), values=fields.Raw(),
        metadata={"description": "Messages per field name (a list of strings, or nested by field for lists "
                                 "and objects); empty when the refusal is not about one field."})
    request_id = fields.String(metadata={"description": "The request's id (also in the X-Request-ID header and "
                                                        "the service's logs): quote it when reporting a problem."})


class ErrorSchema(Schema):
    """The one error body of the API: ``{"error": {"code", "message", "fields"}}``."""

    class Meta:
        unknown = INCLUDE

    error = fields.Nested(ErrorDetail, required=True)


class UserQuery(PageQuery):
    role = fields.String(validate=validate.OneOf(["reviewer", "fund_manager", "finance_officer", "auditor", "admin"]))
    q = fields.String(validate=validate.Length(min=1, max=100))
    sort = Sort({"id": User.id, "email": User.email, "name": User.name}, default="id")


class UserOut(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String(allow_none=True)
    role = fields.String(validate=validate.OneOf(ROLES))
    language = fields.String()
    organisation_id = fields.Integer(allow_none=True)
    donor_id = fields.Integer(allow_none=True)


class AuditEventOut(Schema):
    id = fields.Integer()
    occurred_at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    actor = fields.String()
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.String(allow_none=True)
    summary = fields.String()
    changes = fields.Raw(allow_none=True)
    request_id = fields.String(allow_none=True)
    ip_address = fields.String(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()


class AuditQuery(PageQuery, DateRange):
    entity_type = fields.String(validate=validate.Length(max=100))
    entity_id = fields.String(validate=validate.Length(max=100))
    actor = fields.String(validate=validate.Length(max=255))
    action = fields.String(validate=validate.Length(max=100))
    sort = Sort({"id": AuditEvent.id, "occurred_at": AuditEvent.occurred_at}, default="-id")


class AuditVerifyOut(Schema):
    ok = fields.Boolean()
    events = fields.Integer()
    checkpoints = fields.Integer(metadata={"description": "Signed checkpoints the chain was checked against."})
    erased = fields.Integer(metadata={"description": "Events whose personal data was erased."})
    first_bad_event = fields.Integer()
    reason = fields.String()


class NewPasswordForm(InSchema):
    """A portal form that sets a new password typed twice: ``password_confirm`` must repeat ``password``. Each form
    declares both fields (in the order its page shows them, which its messages follow) and ``mismatch``, its words
    when the two differ (a lazy text)."""

    mismatch: Any

    csrf_token = fields.String()

    @validates_schema
    def same_password(self, data, **kwargs):
        if data.get("password") != data.get("password_confirm"):
            raise ValidationError({"password_confirm": [str(self.mismatch)]})
