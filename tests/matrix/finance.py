"""Routes of the fund's finances (fund/accounting/views.py and fund/accounting/api.py): finance officers and admins
write; fund managers and auditors read."""

from fund.accounting import ledger
from tests.donors import factories as f
from tests.matrix import Route, roles

WRITE = roles("finance_officer", "admin")
READ = roles("finance_officer", "admin", "fund_manager", "auditor")


def entry_args(users):
    f.currencies()
    return {"entry_id": ledger.post_contribution_received(donor_id=1, amount=f.Decimal("10.00"), currency="USD",
                                                          value_date=f.today()).id}


ROUTES: dict = {
    ("finance.position", "GET"): Route(READ),
    ("finance.rates", "GET"): Route(READ),
    ("finance.set_rate", "POST"): Route(WRITE, body={}),
    ("finance.ledger", "GET"): Route(READ),
    ("finance.attribution", "GET"): Route(READ),
    ("finance.entry", "GET"): Route(READ, args=entry_args),
    ("finance.reverse", "POST"): Route(WRITE, args=entry_args, body={}),
    ("finance_api.fund_position", "GET"): Route(READ),
    ("finance_api.set_rate", "POST"): Route(WRITE, body={}),
    ("finance_api.list_rates", "GET"): Route(READ),
    ("finance_api.list_entries", "GET"): Route(READ),
    ("finance_api.attribution_matrix", "GET"): Route(READ),
    ("finance_api.reverse_entry", "POST"): Route(WRITE, args=entry_args, body={}),
}
