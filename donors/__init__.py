"""Donors: donors, pledges, contributions, exchange rates, statements and the donor portal."""

from flask import Flask


def init_app(app: Flask) -> None:
    from donors.api import blp as api_blp
    from donors.views import bp
    from fund.extensions import api, csrf

    app.register_blueprint(bp)
    api.register_blueprint(api_blp)
    csrf.exempt(api_blp)
