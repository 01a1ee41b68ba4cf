"""The staff dashboards' charts: the fund position over time ends where the ledger's position is today; the cash
forecast and a call's pipeline are drawn beside their tables."""

from __future__ import annotations

from fund import charts
from fund.accounting import figures


def test_position_over_time_ends_at_todays_position(app, fund_world):
    with app.test_request_context():
        history = figures.position_history(6)
        position = figures.fund_position()
    assert len(history) == 6
    _month, cash, committed, available = history[-1]
    assert (cash, committed, available) == (position.cash, position.committed, position.available)
    assert all(c == 0 and k == 0 for _m, c, k, _a in history[:-1])  # every movement of the fund is this month


def test_dashboards_draw_their_charts(login_as, make_user, fund_world):
    client = login_as(make_user("finance_officer"))
    position = client.get("/finance/").get_data(as_text=True)
    assert 'id="chart-position"' in position and "<polyline" in position
    assert "148,700.00 USD" in position  # the cash today, in the chart's table
    from flask import url_for

    with client.application.test_request_context():
        url = url_for("grants_awards.forecast")
    forecast = client.get(url).get_data(as_text=True)
    assert 'id="chart-forecast"' in forecast and "Payments due by month" in forecast


def test_bars_are_drawn_in_proportion_to_their_figures():
    import re
    from decimal import Decimal

    chart = charts.Chart(id="t", title="Grants by region", description="", categories=["Africa", "Asia", "Europe"],
                         series=[charts.Series("Granted", [Decimal("10000.00"), Decimal("30000.00"), "<5"])])
    widths = [float(w) for w in re.findall(r'<rect x="[^"]+" y="[^"]+" width="([^"]+)"', str(chart.svg()))]
    assert len(widths) == 2  # a figure not published draws no bar
    assert abs(widths[1] - 3 * widths[0]) < 0.2
