"""The staff dashboards' charts: the fund position over time ends where the ledger's position is today; the cash
forecast and a call's pipeline are drawn beside their tables."""

from __future__ import annotations

from fund import charts, ledger


def test_position_over_time_ends_at_todays_position(app, fund_world):
    with app.test_request_context():
        history = charts.position_history(6)
        position = ledger.fund_position()
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
