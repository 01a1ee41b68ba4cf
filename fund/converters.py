"""URL converters of the application.

``<int:...>`` in every route, portal and API, is :class:`IdConverter`: a whole number from 0 to
:data:`fund.schemas.MAX_ID`, bounded by its regular expression. A larger number does not match the route, so it
is a 404 like any unknown id (not a 405 because another method's route matched, nor a database error:
PostgreSQL's ``integer`` ends at 2^31 - 1, SQLite's at 2^63 - 1). The OpenAPI document shows the bound as the
path parameter's ``maximum``.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

from fund.schemas import MAX_ID


def up_to(limit: int) -> str:
    """A regular expression matching the decimal numbers from 0 to ``limit`` (leading zeros allowed)."""
    digits = str(limit)
    parts = [rf"0*\d{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        low = 1 if i == 0 and len(digits) > 1 else 0
        if int(digit) > low:
            rest = len(digits) - i - 1
            parts.append(f"0*{digits[:i]}[{low}-{int(digit) - 1}]" + (rf"\d{{{rest}}}" if rest else ""))
    parts.append(f"0*{digits}")
    return "(?:" + "|".join(parts) + ")"


class IdConverter(IntegerConverter):
    regex = up_to(MAX_ID)

    def __init__(self, map, *args, **kwargs) -> None:
        upper = kwargs.get("max")
        kwargs["max"] = MAX_ID if upper is None else min(upper, MAX_ID)
        super().__init__(map, *args, **kwargs)
        self.regex = up_to(self.max)


def init_converters(app: Flask) -> None:
    """Install the converters; call before any route is registered."""
    app.url_map.converters["int"] = IdConverter
