"""Charts drawn on the server as SVG: no JavaScript, printable, readable by screen readers.

A :class:`Chart` holds its figures (categories along one axis, one or more named series); :meth:`Chart.svg`
draws it as bars (grouped when there are several series) or lines. The SVG has ``role="img"`` with a ``<title>``
and a ``<desc>`` naming what it shows; the same figures are given as a table by the ``chart`` macro of
``templates/fund/_chart.html``, which every page and PDF showing a chart uses, so a reader who cannot see the
drawing reads the table.

Values are numbers (``int`` or ``Decimal``, never float arithmetic on money: coordinates are the only floats) or
text for a figure that is not published ("<5", "x"), which is drawn as no bar and labelled with the text. Colours
come from a palette that stays distinguishable in grey print, and each series is named in a legend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from flask import Flask
from markupsafe import Markup, escape

from fund.templating import money

#: Colour-blind safe, distinct in grey print (Okabe-Ito, dark to light).
PALETTE = ("#0b5394", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
WIDTH = 640
ROW = 26  # height of one horizontal bar group
PLOT_HEIGHT = 220


@dataclass
class Series:
    label: str
    values: list  # int | Decimal | str (a figure not published)


@dataclass
class Chart:
    """``kind`` "bar" (horizontal bars, one row per category) or "line" (categories along the x axis)."""

    id: str
    title: str
    description: str
    categories: list[str]
    series: list[Series]
    kind: str = "bar"
    unit: str = ""
    #: Formats a value for labels and the table (default: str of the value, thousands separated).
    format: object = None
    extra: dict = field(default_factory=dict)

    def text(self, value) -> str:
        if isinstance(value, str):
            return value
        if self.format is not None:
            return self.format(value)
        return f"{value:,}"

    @property
    def empty(self) -> bool:
        return not self.categories or not any(_number(v) for s in self.series for v in s.values)

    def svg(self) -> Markup:
        # Safe markup: every text is escaped where it is interpolated (_open, _legend, _bars, _line); the rest
        # is numbers and the palette's constants.
        return Markup(_line(self) if self.kind == "line" else _bars(self))  # nosec B704

    def as_data(self) -> dict:
        """Plain data for a PDF (fund.pdf accepts nothing else): title, drawing and the table of figures."""
        return {"id": self.id, "title": str(self.title), "svg": str(self.svg()), "unit": self.unit,
                "category_label": str(self.extra.get("category_label", "")),
                "series": [str(s.label) for s in self.series],
                "rows": [[str(c), *[self.text(s.values[i]) for s in self.series]]
                         for i, c in enumerate(self.categories)]}


def _number(value) -> Decimal | None:
    if isinstance(value, str) or value is None:
        return None
    return Decimal(value)


def _share(part: Decimal, span: Decimal) -> float:
    """Where ``part`` falls along an axis of length ``span``, as a fraction for drawing. Only pixel geometry is a
    float; every figure written on a chart is formatted from its Decimal by ``Chart.text``."""
    return float(part / span)  # ok-float: a drawing coordinate, never money


def _scale(values: list[Decimal]) -> tuple[Decimal, Decimal]:
    low = min([Decimal(0), *values])
    high = max([Decimal(0), *values])
    if high == low:
        high = low + 1
    return low, high


def _open(chart: Chart, width: int, height: int) -> list[str]:
    cid = escape(chart.id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{cid}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" font-family="sans-serif" font-size="12">',
        f'<title id="{cid}-title">{escape(chart.title)}</title>',
        f'<desc id="{cid}-desc">{escape(chart.description)}</desc>',
    ]


def _legend(chart: Chart, y: int) -> list[str]:
    if len(chart.series) < 2:
        return []
    out, x = [], 10
    for i, s in enumerate(chart.series):
        colour = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 16}" y="{y + 10}">{escape(s.label)}</text>')
        x += 24 + 7 * len(s.label)
    return out


def _bars(chart: Chart) -> str:
    n = len(chart.series)
    label_width = 200
    plot = WIDTH - label_width - 90
    numbers = [v for s in chart.series for v in (_number(x) for x in s.values) if v is not None]
    low, high = _scale(numbers)
    span = high - low
    legend_height = 22 if n > 1 else 0
    group = max(ROW, 16 * n + 8)
    height = legend_height + group * len(chart.categories) + 10
    out = _open(chart, WIDTH, height)
    out += _legend(chart, 4)
    zero_x = label_width + _share(0 - low, span) * plot
    for row, category in enumerate(chart.categories):
        top = legend_height + row * group
        out.append(f'<text x="{label_width - 6}" y="{top + group / 2 + 4:.1f}" text-anchor="end">'
                   f'{escape(_short(category))}</text>')
        for i, s in enumerate(chart.series):
            value = s.values[row] if row < len(s.values) else None
            y = top + 4 + i * 16
            number = _number(value)
            colour = PALETTE[i % len(PALETTE)]
            if number is not None and number != 0:
                x1 = label_width + _share(min(number, 0) - low, span) * plot
                w = abs(_share(number, span)) * plot
                out.append(f'<rect x="{x1:.1f}" y="{y}" width="{max(w, 1):.1f}" height="14" fill="{colour}"/>')
                end = x1 + w
            else:
                end = zero_x
            text = chart.text(value) if value is not None else ""
            out.append(f'<text x="{end + 4:.1f}" y="{y + 11}">{escape(text)}</text>')
    out.append(f'<line x1="{zero_x:.1f}" y1="{legend_height}" x2="{zero_x:.1f}" y2="{height - 10}" '
               f'stroke="#555"/>')
    out.append("</svg>")
    return "".join(out)


def _line(chart: Chart) -> str:
    left, right, top, bottom = 90, 20, 30 if len(chart.series) > 1 else 10, 40
    height = top + PLOT_HEIGHT + bottom
    plot = WIDTH - left - right
    numbers = [v for s in chart.series for v in (_number(x) for x in s.values) if v is not None]
    low, high = _scale(numbers)
    span = high - low
    out = _open(chart, WIDTH, height)
    out += _legend(chart, 4)
    count = len(chart.categories)

    def x_of(i: int) -> float:
        return left + (plot * i / (count - 1) if count > 1 else plot / 2)

    def y_of(v: Decimal) -> float:
        return top + PLOT_HEIGHT - _share(v - low, span) * PLOT_HEIGHT

    for k in range(5):  # gridlines with their values
        v = low + span * k / 4
        y = y_of(v)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                   f'{escape(chart.text(v.quantize(Decimal(1))))}</text>')
    if low < 0:
        out.append(f'<line x1="{left}" y1="{y_of(Decimal(0)):.1f}" x2="{WIDTH - right}" '
                   f'y2="{y_of(Decimal(0)):.1f}" stroke="#555"/>')
    step = max(1, count // 8)
    for i, category in enumerate(chart.categories):
        if i % step == 0 or i == count - 1:
            out.append(f'<text x="{x_of(i):.1f}" y="{top + PLOT_HEIGHT + 18}" text-anchor="middle">'
                       f'{escape(_short(category, 12))}</text>')
    dashes = ("", ' stroke-dasharray="6 3"', ' stroke-dasharray="2 3"')
    for i, s in enumerate(chart.series):
        colour = PALETTE[i % len(PALETTE)]
        points = [(x_of(j), y_of(n)) for j, v in enumerate(s.values) if (n := _number(v)) is not None]
        if not points:
            continue
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"'
                   f'{dashes[i % len(dashes)]}/>')
        for x, y in points:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
    out.append("</svg>")
    return "".join(out)


def _short(text: str, limit: int = 30) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# The staff dashboards' charts ----------------------------------------------------------------------------------


def usd(value) -> str:
    return money(value, "USD")


def pipeline_chart(states: dict, by_status: dict) -> Chart:
    """Applications of a call by status (``states``: code -> label, in workflow order)."""
    from flask_babel import gettext as _

    codes = [c for c in states if by_status.get(c)]
    return Chart(
        "chart-pipeline", _("Applications by status"),
        _("Number of applications of this call in each status of the selection."),
        [str(states[c]) for c in codes], [Series(_("Applications"), [by_status[c] for c in codes])],
        extra={"category_label": _("Status")})


def forecast_chart(forecast) -> Chart:
    """Payments due by month (tranches with their programme support costs) and the cash left after each month."""
    from flask_babel import format_date
    from flask_babel import gettext as _

    months = forecast.months
    return Chart(
        "chart-forecast", _("Payments due by month"),
        _("Tranches expected each month with their programme support costs, and the cash left after them, in US "
          "dollars."),
        [format_date(m.month, "MMM y") if m.month else _("Later") for m in months],
        [Series(_("To pay"), [m.amount + m.psc for m in months]),
         Series(_("Cash after"), [m.cash_after for m in months])],
        unit="USD", format=usd, extra={"category_label": _("Month")})


def init_app(app: Flask) -> None:
    """Offer the staff dashboards' charts to every template."""
    app.jinja_env.globals.update(pipeline_chart=pipeline_chart, forecast_chart=forecast_chart)
