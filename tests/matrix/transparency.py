"""Routes of the transparency package: the public pages and IATI files (anyone, signed in or not) and the staff
exports (finance exports to finance officers, fund managers, admins and auditors; selection and programme exports
to fund managers, admins and auditors)."""

from tests.grants import factories as gf
from tests.grants.awards import factories as af
from tests.matrix import PUBLIC, Route, roles

FINANCE = roles("finance_officer", "fund_manager", "admin", "auditor")
PROGRAMME = roles("fund_manager", "admin", "auditor")


def _grant(users):
    from flask import current_app

    with current_app.test_request_context():
        return {"number": af.make_grant(applicant=gf.user(users)).number}


ROUTES: dict = {
    ("transparency.index", "GET"): Route(PUBLIC),
    ("transparency.grants", "GET"): Route(PUBLIC),
    ("transparency.grant", "GET"): Route(PUBLIC, args=_grant),
    ("transparency.results", "GET"): Route(PUBLIC),
    ("transparency.contribute", "GET"): Route(PUBLIC),
    ("transparency.figures_pdf", "GET"): Route(PUBLIC),
    ("iati.activities", "GET"): Route(PUBLIC),
    ("iati.organisation", "GET"): Route(PUBLIC),
    ("exports.index", "GET"): Route(FINANCE),
    ("exports.finance", "GET"): Route(FINANCE, args=lambda users: {"name": "ledger", "fmt": "xlsx"}),
    ("exports.programme", "GET"): Route(PROGRAMME, args=lambda users: {"name": "applications", "fmt": "csv"}),
}
