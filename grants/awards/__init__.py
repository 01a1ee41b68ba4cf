"""Grants awarded: agreements, tranches, four-eyes disbursements, grantee reports, refunds and closure.

``models`` (the tables), ``workflow`` (the grant, disbursement and report state machines), ``operations``
(every write, including :func:`operations.create_grant`, which the Board's approval calls), ``api`` and
``views`` (the JSON API and the portal pages), ``reports`` (the rules of grantee reports), ``presenters``
(plain data for pages, API and PDF), ``agreement`` (the agreement PDF), ``forecast`` (the cash forecast),
``directory`` (what donor outputs read through :mod:`fund.grant_directory`), ``reminders`` and ``cli`` (the report
reminder job), ``permissions`` and ``demo``.
"""


def init_app(app) -> None:
    """Register the models, permission rules, pages, API, CLI, results directory, what a change of bank details does
    to approved payments, and dashboard links."""
    from flask_babel import lazy_gettext as _l

    from fund import grant_directory
    from fund.demo import DEMO_LOADERS
    from fund.extensions import api, csrf
    from fund.models import ADMIN, APPLICANT, AUDITOR, FINANCE_OFFICER, FUND_MANAGER
    from fund.views import dashboard_link
    from grants.awards import models, operations, permissions  # noqa: F401  (models, rules, ledger hooks)
    from grants.awards.api import blp as api_blp
    from grants.awards.cli import reminders_cli
    from grants.awards.demo import load_demo
    from grants.awards.directory import AwardsDirectory
    from grants.awards.operations.disbursements import void_approvals
    from grants.awards.templating import init_templating
    from grants.awards.views import bp
    from grants.payee import on_bank_details_change

    app.register_blueprint(bp)
    api.register_blueprint(api_blp)
    csrf.exempt(api_blp)
    app.cli.add_command(reminders_cli)
    init_templating(app)
    grant_directory.register(AwardsDirectory())
    on_bank_details_change(void_approvals)
    if load_demo not in DEMO_LOADERS:
        DEMO_LOADERS.append(load_demo)
    dashboard_link(app, {APPLICANT}, "grants_awards.grantee_home", _l("Your grants: payments and reports"))
    dashboard_link(app, {FUND_MANAGER, FINANCE_OFFICER, ADMIN, AUDITOR}, "grants_awards.grants", _l("Grants"))
    dashboard_link(app, {FINANCE_OFFICER}, "grants_awards.approval_queue", _l("Disbursements to approve"))
    dashboard_link(app, {FINANCE_OFFICER}, "grants_awards.payments", _l("Payments to record"))
    dashboard_link(app, {FINANCE_OFFICER, FUND_MANAGER, ADMIN, AUDITOR}, "grants_awards.forecast",
                   _l("Cash forecast"))
