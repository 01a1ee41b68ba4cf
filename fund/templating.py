"""Jinja set-up: filters for money and dates, the language switch, navigation."""

from __future__ import annotations

from decimal import Decimal

from flask import Flask, request
from flask_babel import format_date, format_datetime, format_decimal, get_locale

from fund.money import exponent


def money(amount, currency: str = "USD") -> str:
    if amount is None:
        return ""
    places = exponent(currency)
    fmt = "#,##0" + ("." + "0" * places if places else "")
    return f"{format_decimal(Decimal(amount), format=fmt)} {currency}"


def init_templating(app: Flask) -> None:
    app.jinja_env.filters["money"] = money
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
