"""Grants: calls for proposals, organisations, applications, screening, review, decisions, grants."""

from flask import Flask
from flask_babel import lazy_gettext as _l


def init_app(app: Flask) -> None:
    from fund.demo import DEMO_LOADERS
    from fund.extensions import api, csrf
    from fund.models import ADMIN, APPLICANT, AUDITOR, FINANCE_OFFICER, FUND_MANAGER
    from fund.views import dashboard_link

    # The models, the permission rules, and the pages that register on the blueprint:
    from grants import application_pages, models, organisation_pages, permissions  # noqa: F401
    from grants.api import blp as api_blp
    from grants.awards import init_app as init_awards
    from grants.demo import load_demo
    from grants.templating import init_templating
    from grants.views import bp

    app.register_blueprint(bp)
    init_templating(app)
    api.register_blueprint(api_blp)
    csrf.exempt(api_blp)
    from grants.payee_api import blp as payee_api_blp

    api.register_blueprint(payee_api_blp)
    csrf.exempt(payee_api_blp)

    dashboard_link(app, {APPLICANT}, "grants.applicant_home", _l("Your organisation and applications"))
    dashboard_link(app, {APPLICANT}, "grants.calls", _l("Calls for proposals"))
    dashboard_link(app, {FUND_MANAGER, ADMIN, AUDITOR}, "grants.manage_calls", _l("Calls for proposals"))
    dashboard_link(app, {FUND_MANAGER, ADMIN, AUDITOR}, "grants.applications", _l("Applications"))
    dashboard_link(app, {FUND_MANAGER, FINANCE_OFFICER, ADMIN, AUDITOR}, "grants.organisations",
                   _l("Applicant organisations"))
    dashboard_link(app, {FINANCE_OFFICER}, "grants.pending_bank_changes", _l("Bank details to verify"))
    if load_demo not in DEMO_LOADERS:
        DEMO_LOADERS.append(load_demo)

    from grants.review import init_app as init_review

    init_review(app)  # after the calls' demo data, which the selection's demo data uses
    init_awards(app)

    from grants.search import init_app as init_search

    init_search(app)

    from grants.privacy import init_app as init_privacy
    from grants.retention import init_app as init_retention

    init_retention(app)
    init_privacy(app)
