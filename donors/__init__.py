"""Donors: donors, pledges, contributions, exchange rates use, statements and the donor portal."""

from flask import Flask
from flask_babel import lazy_gettext as _l


def donor_names(ids: list[int]) -> dict[int, str]:
    """Donors' names by id, for the fund's staff views (one query)."""
    from sqlalchemy import select

    from donors.models import Donor
    from fund.db import db

    return dict(db.session.execute(select(Donor.id, Donor.name).where(Donor.id.in_(ids))).all())


def init_app(app: Flask) -> None:
    from donors import models, operations, permissions  # noqa: F401  (models, reversal hooks, permission rules)
    from donors.api import blp as api_blp
    from donors.cli import statements_cli
    from donors.demo import load_demo
    from donors.views import bp, verify_bp
    from fund.accounting import attribution
    from fund.demo import DEMO_LOADERS
    from fund.extensions import api, csrf
    from fund.models import ADMIN, AUDITOR, DONOR, FINANCE_OFFICER, FUND_MANAGER
    from fund.views import dashboard_link

    app.register_blueprint(bp)
    app.register_blueprint(verify_bp)
    api.register_blueprint(api_blp)
    csrf.exempt(api_blp)
    app.cli.add_command(statements_cli)

    dashboard_link(app, {FINANCE_OFFICER, FUND_MANAGER, ADMIN, AUDITOR}, "donors.index", _l("Donors and pledges"))
    dashboard_link(app, {FINANCE_OFFICER, ADMIN}, "donors.new_contribution", _l("Record a contribution"))
    dashboard_link(app, {DONOR}, "donors.index", _l("Our pledges and contributions"))
    dashboard_link(app, {FINANCE_OFFICER, FUND_MANAGER, ADMIN, AUDITOR}, "donors.statements_index",
                   _l("Donor statements"))
    # A donor's one link to its statements: the page with figures (issued statements are linked from it).
    dashboard_link(app, {DONOR}, "donors.statements_index", _l("Statement and use of funds"))
    attribution.register_donor_names(donor_names)
    if load_demo not in DEMO_LOADERS:
        DEMO_LOADERS.append(load_demo)
