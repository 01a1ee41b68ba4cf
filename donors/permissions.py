"""Who may see and change donors, pledges and contributions.

Finance officers and admins record; fund managers and auditors read everything; a donor user reads only its own
donor (its detail, pledges, contributions and statements) and nothing else; it may issue its own statements.
"""

from __future__ import annotations

from donors.models import Contribution, Donor, IssuedStatement, Pledge
from fund.models import ADMIN, AUDITOR, DONOR, FINANCE_OFFICER, FUND_MANAGER, User
from fund.permissions import rule

#: Route-level roles.
WRITE = (FINANCE_OFFICER, ADMIN)
STAFF_READ = (FINANCE_OFFICER, ADMIN, FUND_MANAGER, AUDITOR)
READ = (*STAFF_READ, DONOR)
#: Who may issue a statement: the finance team, and a donor user for its own donor (an issued statement only
#: records ledger facts; voiding is for the finance team).
ISSUE = (FINANCE_OFFICER, ADMIN, DONOR)


def _reads(user: User, donor_id: int) -> bool:
    if user.has_any_role(FINANCE_OFFICER, FUND_MANAGER, ADMIN, AUDITOR):
        return True
    return user.has_any_role(DONOR) and user.donor_id is not None and user.donor_id == donor_id


def _writes(user: User, _obj) -> bool:
    return user.has_any_role(FINANCE_OFFICER, ADMIN)


rule(Donor, view=lambda u, o: _reads(u, o.id), edit=_writes)
rule(Pledge, view=lambda u, o: _reads(u, o.donor_id), edit=_writes)
rule(Contribution, view=lambda u, o: _reads(u, o.donor_id), edit=_writes)
rule(IssuedStatement, view=lambda u, o: _reads(u, o.donor_id), edit=_writes)
