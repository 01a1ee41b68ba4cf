"""Routes of the bank-details history and the verification of changes of payee (grants.payee)."""

from grants.models import BankDetailsChange
from tests.grants import factories as f
from tests.matrix import Route, roles
from tests.matrix.grants import in_request, org

FO = roles("finance_officer")
HISTORY_READERS = roles("finance_officer", "auditor", "admin")


@in_request
def pending(users):
    """A change waiting at another organisation than the applicant's (whose payments other routes make)."""
    import uuid

    from fund import operations
    from fund.db import db

    other = operations.create_user(f"other-{uuid.uuid4().hex[:8]}@example.org", "applicant", "plum lantern orbit")
    organisation = f.organisation_of(other)
    change = BankDetailsChange(organisation_id=organisation.id, status="pending", bank_account_holder="Espoir",
                               bank_name="Banque", bank_account_number="SN08SN0100152000048500003035",
                               bank_swift="BDAKSNDA", requested_by_id=other.id, sanctions_matches=[])
    db.session.add(change)
    db.session.flush()
    return {"change_id": change.id}


ROUTES = {
    ("grants.bank_history", "GET"): Route(HISTORY_READERS, args=org),
    ("grants.pending_bank_changes", "GET"): Route(FO),
    ("grants.bank_change", "GET"): Route(FO, args=pending),
    ("grants.bank_change", "POST"): Route(FO, args=pending, body={}),
    ("grants_payee_api.bank_history", "GET"): Route(HISTORY_READERS, args=org),
}
