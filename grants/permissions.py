"""Who may see and change organisations, calls, applications and documents.

An applicant sees and changes only what belongs to their own organisation; the fund's managers see every
organisation, application and document; finance officers see organisations (their full bank details through
an audited view); admins and auditors see everything (fund.permissions) and auditors change nothing.
Reviewers see the applications assigned to them, and their documents, once they have declared no conflict of
interest (grants.review.permissions.reviewer_may_read).
"""

from __future__ import annotations

from sqlalchemy import select

from fund.db import db
from fund.models import APPLICANT, FINANCE_OFFICER, FUND_MANAGER, User
from fund.permissions import rule
from grants.models import Application, Call, Document, Invitation, Organisation, OrganisationAdmin
from grants.workflow import EDITABLE


def member_of(user: User, organisation_id: int | None) -> bool:
    """The user is an applicant of this organisation."""
    return (
        organisation_id is not None
        and getattr(user, "organisation_id", None) == organisation_id
        and user.has_any_role(APPLICANT)
    )


def is_org_admin(user: User, organisation_id: int) -> bool:
    if not member_of(user, organisation_id):
        return False
    return db.session.execute(
        select(OrganisationAdmin.user_id).where(OrganisationAdmin.organisation_id == organisation_id,
                                                OrganisationAdmin.user_id == user.id)
    ).first() is not None


def reviewer_may_read(user: User, application_id: int | None) -> bool:
    from grants.review.permissions import reviewer_may_read as assigned_without_conflict

    return assigned_without_conflict(user, application_id)


def can_see_bank_details(user: User) -> bool:
    return user.has_any_role(FINANCE_OFFICER)


def _document_editable(user: User, doc: Document) -> bool:
    if not member_of(user, doc.organisation_id) or doc.kind == "acknowledgement":
        return False
    if doc.application_id is None:
        return is_org_admin(user, doc.organisation_id)
    application = db.session.get(Application, doc.application_id)
    return application is not None and application.status in EDITABLE


rule(
    Organisation,
    view=lambda u, o: member_of(u, o.id) or u.has_any_role(FUND_MANAGER, FINANCE_OFFICER),
    edit=lambda u, o: is_org_admin(u, o.id),
)
rule(
    Application,
    view=lambda u, a: member_of(u, a.organisation_id) or u.has_any_role(FUND_MANAGER) or reviewer_may_read(u, a.id),
    edit=lambda u, a: member_of(u, a.organisation_id),
)
rule(
    Document,
    view=lambda u, d: (member_of(u, d.organisation_id) or u.has_any_role(FUND_MANAGER)
                       or reviewer_may_read(u, d.application_id)),
    edit=_document_editable,
)
rule(
    Call,
    view=lambda u, c: c.status != "draft" or u.has_any_role(FUND_MANAGER),
    edit=lambda u, c: u.has_any_role(FUND_MANAGER),
)
rule(
    Invitation,
    view=lambda u, i: is_org_admin(u, i.organisation_id),
    edit=lambda u, i: is_org_admin(u, i.organisation_id),
)
