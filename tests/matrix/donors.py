"""Routes of the donors package (portal and API).

Builders create a donor that users["donor"] is linked to, so that the donor user is really allowed to read it;
finance officers and admins write, fund managers and auditors read; other roles are refused at route level.
"""

import datetime as dt
from unittest import mock

from tests.donors import factories as f
from tests.matrix import PUBLIC, Route, roles

WRITE = roles("finance_officer", "admin")
READ = roles("finance_officer", "admin", "fund_manager", "auditor", "donor")
ISSUE = roles("finance_officer", "admin", "donor")


def own_donor(users):
    donor = f.donor()
    f.link(users["donor"], donor)
    return donor


def donor_args(users):
    return {"donor_id": own_donor(users).id}


def pledge_args(users):
    return {"pledge_id": f.pledge(own_donor(users), "500.00", "USD", status="announced").id}


def contribution_args(users):
    return {"contribution_id": f.contribution(own_donor(users), "250.00", "USD").id}


def issued_statement(users):
    """A statement of the donor of users["donor"], issued through the operation (the PDF stubbed: rendering is
    tested elsewhere)."""
    from donors import operations

    today = f.today()
    with mock.patch("donors.statements.render_statement_pdf", return_value=b"%PDF-1.7 matrix"):
        return operations.issue_statement(own_donor(users), {"date_from": today - dt.timedelta(days=30),
                                                             "date_to": today})


def statement_args(users):
    return {"number": issued_statement(users).number}


def verify_args(users):
    return {"code": issued_statement(users).verification_code}


ROUTES: dict = {
    ("donors.index", "GET"): Route(READ),
    ("donors.create_donor", "POST"): Route(WRITE, body={}),
    ("donors.detail", "GET"): Route(READ, args=donor_args),
    ("donors.new_pledge", "GET"): Route(WRITE, args=donor_args),
    ("donors.new_pledge", "POST"): Route(WRITE, args=donor_args, body={}),
    ("donors.confirm_pledge", "POST"): Route(WRITE, args=pledge_args, body={}),
    ("donors.cancel_pledge", "POST"): Route(WRITE, args=pledge_args, body={}),
    ("donors.write_off_pledge", "POST"): Route(WRITE, args=pledge_args, body={}),
    ("donors.new_contribution", "GET"): Route(WRITE),
    ("donors.new_contribution", "POST"): Route(WRITE, body={}),
    ("donors_api.create_donor", "POST"): Route(WRITE, body={}),
    ("donors_api.list_donors", "GET"): Route(READ),
    ("donors_api.get_donor", "GET"): Route(READ, args=donor_args),
    ("donors_api.create_pledge", "POST"): Route(WRITE, args=donor_args, body={}),
    ("donors_api.list_pledges", "GET"): Route(READ, args=donor_args),
    ("donors_api.get_pledge", "GET"): Route(READ, args=pledge_args),
    ("donors_api.confirm_pledge", "POST"): Route(WRITE, args=pledge_args, body={}),
    ("donors_api.cancel_pledge", "POST"): Route(WRITE, args=pledge_args, body={}),
    ("donors_api.write_off_pledge", "POST"): Route(WRITE, args=pledge_args, body={}),
    ("donors_api.create_contribution", "POST"): Route(WRITE, body={}),
    ("donors_api.list_contributions", "GET"): Route(READ),
    ("donors_api.get_contribution", "GET"): Route(READ, args=contribution_args),
    # Statements, use of funds and results; public verification
    ("donors.statement", "GET"): Route(READ, args=donor_args),
    ("donors.statements_page", "GET"): Route(READ, args=donor_args),
    ("donors.issue_statement", "POST"): Route(ISSUE, args=donor_args, body={}),
    ("donors.statements_index", "GET"): Route(READ),
    ("donors.issued_statement", "GET"): Route(READ, args=statement_args),
    ("donors.void_statement", "POST"): Route(WRITE, args=statement_args, body={}),
    ("verify.verify_form", "GET"): Route(PUBLIC),
    ("verify.verify", "GET"): Route(PUBLIC, args=verify_args),
    ("donors_api.get_statement", "GET"): Route(READ, args=donor_args),
    ("donors_api.issue_statement", "POST"): Route(ISSUE, args=donor_args, body={}),
    ("donors_api.list_statements", "GET"): Route(READ, args=donor_args),
    ("donors_api.get_issued_statement", "GET"): Route(READ, args=statement_args),
    ("donors_api.void_statement", "POST"): Route(WRITE, args=statement_args, body={}),
}
