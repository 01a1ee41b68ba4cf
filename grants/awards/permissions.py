"""Who may see and act on grants, disbursements and reports.

The organisation's applicants see their own grants, payments and reports, and write their reports; the fund's
managers and finance officers see every grant; admins and auditors see everything (fund.permissions) and
auditors change nothing. What each role may *do* is then decided by the workflows' transition roles.
"""

from __future__ import annotations

from fund.db import db
from fund.models import FINANCE_OFFICER, FUND_MANAGER, User
from fund.permissions import rule
from grants.awards.models import Disbursement, Grant, GrantReport
from grants.permissions import member_of


def _staff(user: User) -> bool:
    return user.has_any_role(FUND_MANAGER, FINANCE_OFFICER)


def _organisation_of(grant_id: int) -> int | None:
    grant = db.session.get(Grant, grant_id)
    return grant.organisation_id if grant is not None else None


rule(
    Grant,
    view=lambda u, g: member_of(u, g.organisation_id) or _staff(u),
    edit=lambda u, g: member_of(u, g.organisation_id) or _staff(u),
)
rule(
    Disbursement,
    view=lambda u, d: _staff(u) or member_of(u, _organisation_of(d.grant_id)),
    edit=lambda u, d: _staff(u),
)
rule(
    GrantReport,
    view=lambda u, r: _staff(u) or member_of(u, _organisation_of(r.grant_id)),
    edit=lambda u, r: member_of(u, _organisation_of(r.grant_id)) or u.has_any_role(FUND_MANAGER),
)
