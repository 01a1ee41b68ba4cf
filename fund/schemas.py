"""Shared marshmallow pieces: pagination, money, the error shape, audit and account schemas."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from fund.money import MoneyError, check_places, to_decimal


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


class PageMeta(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    pages = fields.Integer()


def page_envelope(pagination) -> dict:
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


class Amount(fields.Field):
    """A money amount in JSON: a decimal string ("1250.00"); a JSON number is accepted only if it is an
    integer or was written exactly (floats are never used internally). Decimals are checked against the
    currency named by ``currency_field`` in the same schema, by :func:`check_amount_places`."""

    default_error_messages = {"invalid": "Not a valid amount: give a decimal string such as \"1250.00\".",
                              "negative": "Must be greater than zero."}

    def __init__(self, *, positive: bool = True, **kwargs):
        self.positive = positive
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return str(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float) or isinstance(value, bool):
            raise self.make_error("invalid")
        try:
            amount = to_decimal(value)
        except MoneyError as exc:
            raise self.make_error("invalid") from exc
        if self.positive and amount <= 0:
            raise self.make_error("negative")
        return amount


def check_amount_places(data: dict, amount_field: str = "amount", currency_field: str = "currency") -> None:
    """Raise a field error when the amount has more decimals than its currency allows."""
    amount, currency = data.get(amount_field), data.get(currency_field)
    if isinstance(amount, Decimal) and currency:
        try:
            data[amount_field] = check_places(amount, currency)
        except MoneyError as exc:
            raise ValidationError({amount_field: [str(exc)]}) from exc


class ErrorSchema(Schema):
    error = fields.Dict()


class UserOut(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String(allow_none=True)
    role = fields.String()
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


class AuditQuery(PageQuery):
    entity_type = fields.String(validate=validate.Length(max=100))
    entity_id = fields.String(validate=validate.Length(max=100))
    actor = fields.String(validate=validate.Length(max=255))
    action = fields.String(validate=validate.Length(max=100))
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")


class AuditVerifyOut(Schema):
    ok = fields.Boolean()
    events = fields.Integer()
    first_bad_event = fields.Integer()
    reason = fields.String()
