"""Grants awarded: agreements, tranches, four-eyes disbursements, grantee reports, refunds and closure.

``models`` (the tables), ``workflow`` (the grant, disbursement and report state machines), ``operations``
(every write, including :func:`operations.create_grant`, which the Board's approval calls), ``api`` and
``views`` (the JSON API and the portal pages), ``directory`` (what donor outputs read through
:mod:`fund.results`) and ``reminders`` (the report reminder job).
"""


def init_app(app) -> None:
    """Register the models (the API, portal pages, CLI and results directory join as they are built)."""
    from grants.awards import models  # noqa: F401
