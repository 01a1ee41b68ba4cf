"""The fund's accounting: the double-entry ledger and what it says, in any currency.

``models`` (journal entries, postings, the chart of accounts), ``lock`` (the fund lock), ``ledger`` (every
posting: pledges, contributions, commitments, payments, refunds, reversals), ``balances`` (balances kept with
the postings), ``figures`` (what the fund, a donor, a pledge or a grant holds, read from those balances),
``attribution`` (which donors' money paid which grant), ``rates`` (currencies and UN operational rates of
exchange), ``ledger_text`` (entry descriptions in the reader's language), ``api``, ``views`` and ``cli``.

It imports only the platform (``fund``); grants and donors move money only through :mod:`~fund.accounting.ledger`.
"""

from flask import Flask
from flask_babel import lazy_gettext as _l


def init_app(app: Flask) -> None:
    """Register the finance pages, API, CLI, dashboard links and the position chart."""
    from fund.accounting.api import READ, blp
    from fund.accounting.cli import ledger_cli, rates_cli
    from fund.accounting.views import bp, position_chart
    from fund.extensions import api, csrf
    from fund.views import dashboard_link

    app.register_blueprint(bp)
    api.register_blueprint(blp)
    csrf.exempt(blp)
    app.cli.add_command(rates_cli)
    app.cli.add_command(ledger_cli)
    app.jinja_env.globals["position_chart"] = position_chart
    dashboard_link(app, READ, "finance.position", _l("Fund position"))
    dashboard_link(app, READ, "finance.rates", _l("Exchange rates"))
    dashboard_link(app, READ, "finance.ledger", _l("Ledger"))
    dashboard_link(app, READ, "finance.attribution", _l("Attribution of payments to donors"))
