"""Jinja filters and globals of the grants pages: taxonomy labels in the current language."""

from __future__ import annotations

from decimal import Decimal

from flask import Flask, current_app
from flask_babel import format_decimal
from flask_login import current_user

from fund.money import exponent
from grants.taxonomies import (
    APPLICATION_DOCUMENT_KINDS,
    ASSISTANCE_GROUPS,
    ASSISTANCE_TYPES,
    BUDGET_CATEGORIES,
    DOCUMENT_KINDS,
    FORMS_OF_EXPLOITATION,
    ORGANISATION_TYPES,
    WINDOWS,
    countries,
)
from grants.workflow import APPLICANT_STATUS, APPLICANT_STATUS_LABELS, CALL_WORKFLOW


def _lang() -> str:
    from grants.presenters import language

    return language()


def _label(table: dict):
    return lambda code: str(table.get(code, code)) if code else ""


def number_input(value, currency: str | None = None) -> str:
    """The value of a number input as the user's language writes it ("14 400,00" in French, "14,400.00" in
    English), so that it reads like the totals beside it; :func:`grants.views.number` reads it back. An amount
    shows its currency's decimal places; text (what was typed, shown again) is left as it is."""
    if value is None or isinstance(value, str):
        return value or ""
    value = Decimal(value) if currency else Decimal(value).normalize()
    places = exponent(currency) if currency else max(-value.as_tuple().exponent, 0)
    return format_decimal(value, format="#,##0" + ("." + "0" * places if places else ""))


def init_templating(app: Flask) -> None:
    env = app.jinja_env
    # |country (a country's name in the current language) is fund.templating's, shared by every package.
    env.filters["exploitation"] = _label(FORMS_OF_EXPLOITATION)
    env.filters["assistance"] = _label(ASSISTANCE_TYPES)
    env.filters["budget_category"] = _label(BUDGET_CATEGORIES)
    env.filters["document_kind"] = lambda code: str(DOCUMENT_KINDS.get(code, code)) if code != "acknowledgement" \
        else str(ACK_LABEL)
    env.filters["org_type"] = _label(ORGANISATION_TYPES)
    env.filters["quantity"] = lambda q: format_decimal(q, format="#,##0.##") if q is not None else ""
    env.filters["number_input"] = number_input
    env.globals["window_label"] = lambda code: str(WINDOWS[code][1]) if code in WINDOWS else code
    env.globals["call_status"] = CALL_WORKFLOW.label
    env.globals["call_transitions"] = lambda call: CALL_WORKFLOW.available(call, current_user)
    env.globals["plain_label"] = lambda status: str(APPLICANT_STATUS_LABELS[APPLICANT_STATUS[status]])
    env.globals["country_options"] = lambda only=None: [
        (code, name) for code, name in countries(_lang()) if not only or code in only]
    env.globals["exploitation_options"] = lambda: [(k, str(v)) for k, v in FORMS_OF_EXPLOITATION.items()]
    env.globals["assistance_options"] = lambda: [
        (str(label), [(k, str(v)) for k, v in items.items()]) for label, items in ASSISTANCE_GROUPS.values()]
    env.globals["budget_options"] = lambda: [(k, str(v)) for k, v in BUDGET_CATEGORIES.items()]
    env.globals["application_document_options"] = lambda: [
        (k, str(v)) for k, v in APPLICATION_DOCUMENT_KINDS.items()]
    env.globals["document_kind_options"] = lambda: [(k, str(v)) for k, v in DOCUMENT_KINDS.items()]
    env.globals["org_type_options"] = lambda: [(k, str(v)) for k, v in ORGANISATION_TYPES.items()]
    env.globals["window_options"] = lambda: [(k, str(v[1])) for k, v in WINDOWS.items()]
    env.globals["upload_limit_mb"] = lambda: f"{current_app.config.get('UPLOAD_MAX_BYTES', 10485760) / 1048576:g}"


from flask_babel import lazy_gettext as _l  # noqa: E402

ACK_LABEL = _l("Acknowledgement of submission")
