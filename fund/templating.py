"""Jinja set-up: filters for money and dates, the language switch, navigation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from flask import Flask, request
from flask_babel import format_date, format_datetime, format_decimal, get_locale
from markupsafe import Markup, escape

from fund.money import exponent


def money(amount, currency: str = "USD") -> str:
    if amount is None:
        return ""
    places = exponent(currency)
    fmt = "#,##0" + ("." + "0" * places if places else "")
    return f"{format_decimal(Decimal(amount), format=fmt)} {currency}"


_ATTR = re.compile(r'\s*([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|\'([^\']*)\'|([^\s"\'=<>`]+)))?')


def html_attrs(attrs) -> Markup:
    """Extra HTML attributes for a form macro, each value escaped once: `` name="value"`` pairs, led by a space.

    ``attrs`` is a mapping (None or False leaves an attribute out, True writes it bare) or, for templates
    written before, a string of ``name="value"`` pairs, which is parsed rather than printed (printing it
    escaped its quotes: ``autocomplete=&quot;off&quot;``).
    """
    if not attrs:
        return Markup("")
    if isinstance(attrs, Mapping):
        items = list(attrs.items())
    else:
        items = []
        for m in _ATTR.finditer(str(attrs)):
            value = next((v for v in m.group(2, 3, 4) if v is not None), True)
            items.append((m.group(1), value))
    out = []
    for key, value in items:
        if value is None or value is False:
            continue
        out.append(f" {escape(key)}" if value is True else f' {escape(key)}="{escape(value)}"')
    return Markup("".join(out))


def init_templating(app: Flask) -> None:
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["html_attrs"] = html_attrs
    from fund import charts

    app.jinja_env.globals.update(position_chart=charts.position_chart, pipeline_chart=charts.pipeline_chart,
                                 forecast_chart=charts.forecast_chart)
    app.jinja_env.filters["datetime"] = lambda v, fmt="medium": format_datetime(v, fmt) if v else ""
    app.jinja_env.filters["date"] = lambda v, fmt="medium": format_date(v, fmt) if v else ""
    app.jinja_env.add_extension("jinja2.ext.i18n") if "jinja2.ext.i18n" not in app.jinja_env.extensions else None

    @app.context_processor
    def inject():
        return {
            "current_lang": str(get_locale() or "en"),
            "languages": [("en", "English"), ("fr", "Français")],
            "request_path": request.full_path.rstrip("?") if request else "/",
        }
