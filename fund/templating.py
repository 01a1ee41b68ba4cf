"""Jinja set-up: filters for money, dates, percentages and country names, the language switch, navigation.

Every figure on a screen or in a PDF goes through these filters so it reads the same way in both languages:
dates and times to the minute (never seconds) with the time zone, percentages with the locale's decimal sign
and spacing ("12.5%" in English, "12,5 %" in French), countries by name in the current language.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal

from babel.numbers import format_percent
from flask import Flask, request
from flask_babel import format_date, format_decimal, format_time, get_locale, gettext
from markupsafe import Markup, escape

from babel import Locale
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
    return Markup("".join(out))  # nosec B704: every name and value above went through escape()


def _locale() -> Locale:
    return Locale.parse(str(get_locale() or "en"))


def datetime_text(value, fmt: str = "medium") -> str:
    """A date and time to the minute with its time zone, in the user's time zone and language:
    "Mar 5, 2026, 9:07 AM UTC", "5 mars 2026, 09:07 TU". ``fmt`` is the width of the date part
    (short, medium, long, full); the time never shows seconds."""
    if not value:
        return ""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)  # stored times are UTC
    if not isinstance(value, dt.datetime):
        return format_date(value, fmt)
    pattern = _locale().datetime_formats.get("medium", "{1} {0}")
    pattern = str(getattr(pattern, "pattern", pattern)).replace("'", "")
    time = f"{format_time(value, 'short')} {format_time(value, 'z')}"
    return pattern.replace("{1}", format_date(value, fmt)).replace("{0}", time)


def percent(value, places: int = 1) -> str:
    """A percentage given in percent (Decimal("12.5") is 12.5 %), at most ``places`` decimals, in the locale:
    "12.5%" in English, "12,5 %" in French; trailing zeros dropped ("40 %")."""
    if value is None or value == "":
        return ""
    ratio = (Decimal(value) / 100).quantize(Decimal(1).scaleb(-(places + 2))).normalize()
    return format_percent(ratio, locale=_locale(), decimal_quantization=False)


def country_name(code: str | None, locale: str | None = None) -> str:
    """The name of an ISO 3166-1 alpha-2 country in the current language (or ``locale``): "NO" is "Norway",
    "Norvège" in French. An unknown code is shown as it is; None or "" as nothing."""
    if not code:
        return ""
    code = str(code).upper()
    if len(code) != 2 or not code.isalpha() or code == "ZZ":  # ZZ is babel's "Unknown Region"
        return code
    return (Locale.parse(locale) if locale else _locale()).territories.get(code, code)


def nl2br(text) -> Markup:
    """Text with its line breaks kept (an address), escaped first: each newline becomes <br>."""
    if text is None:
        return Markup("")
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return Markup("<br>\n").join(escape(line) for line in lines)


def colon(label) -> str:
    """A label followed by its colon the way the language writes it: "Review:" in English, "Évaluation :" in
    French (a no-break space before the colon). Use it for labels joined to a value in a template,
    ``{{ _("Review")|colon }} {{ value }}``, instead of a colon typed after the translated text."""
    return gettext("%(label)s:", label=label)


_CODE_WORD = re.compile(r"(?<![\w@./-])([a-z]+(?:[_.][a-z0-9]+)+)(?![\w@/-])")


def code_words(text) -> Markup:
    """Recorded text (an audit summary, written in English when it happened and kept as written) with the service's
    own identifiers in it (``pending_signature``, ``grant_award``) marked as code, escaped first."""
    if text is None:
        return Markup("")
    parts = _CODE_WORD.split(str(text))
    return Markup("").join(escape(p) if i % 2 == 0 else Markup("<code>%s</code>") % p for i, p in enumerate(parts))


def init_templating(app: Flask) -> None:
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["html_attrs"] = html_attrs
    app.jinja_env.filters["datetime"] = datetime_text
    app.jinja_env.filters["percent"] = percent
    app.jinja_env.filters["country"] = country_name
    app.jinja_env.filters["nl2br"] = nl2br
    app.jinja_env.filters["colon"] = colon
    app.jinja_env.filters["code_words"] = code_words
    app.jinja_env.filters["date"] = lambda v, fmt="medium": format_date(v, fmt) if v else ""
    app.jinja_env.add_extension("jinja2.ext.i18n") if "jinja2.ext.i18n" not in app.jinja_env.extensions else None

    @app.context_processor
    def inject():
        return {
            "current_lang": str(get_locale() or "en"),
            "languages": [("en", "English"), ("fr", "Français")],
            "request_path": request.full_path.rstrip("?") if request else "/",
        }
