"""Routes of the donors package (portal and API).

Builders create a donor that users["donor"] is linked to, so that the donor user is really allowed to read it;
finance officers and admins write, fund managers and auditors read; other roles are refused at route level.
"""

from tests.donors import factories as f
from tests.matrix import Route, roles

WRITE = roles("finance_officer", "admin")
READ = roles("finance_officer", "admin", "fund_manager", "auditor", "donor")


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
}
