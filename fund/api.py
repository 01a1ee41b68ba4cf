"""The core JSON API: who am I, the people of the fund (to find a reviewer's or an officer's id), account
management (administrators), the audit trail and its verification."""

from __future__ import annotations

from flask import abort
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import func, select

from fund import audit, operations
from fund.account_schemas import AccountOut, InviteUserIn, SetRoleIn
from fund.db import db
from fund.listing import list_page
from fund.models import ADMIN, AUDITOR, FINANCE_OFFICER, FUND_MANAGER, REVIEWER, STAFF_ROLES, Role, User
from fund.openapi import action
from fund.permissions import ANY_ROLE, access
from fund.schemas import (
    AuditEventOut,
    AuditQuery,
    AuditVerifyOut,
    UserOut,
    UserQuery,
    paged,
)

STAFF = (FUND_MANAGER, FINANCE_OFFICER, ADMIN, AUDITOR)
PEOPLE_OF_THE_FUND = sorted(STAFF_ROLES | {REVIEWER})

blp = Blueprint("fund_api", __name__, url_prefix="/api/v1", description="Accounts and the audit trail")


@blp.route("/me")
@access(ANY_ROLE)
@blp.response(200, UserOut)
def me():
    return current_user


def _staff_query():
    """Active users of the fund's own roles (staff and reviewers); never applicants' or donors' accounts."""
    return (select(User).join(User.roles).where(Role.name.in_(PEOPLE_OF_THE_FUND), User.active.is_(True))
            .distinct())


@blp.route("/users")
@access(*STAFF)
@blp.arguments(UserQuery, location="query")
@blp.response(200, paged(UserOut))
def list_users(args):
    """The fund's staff and reviewers (``role`` and ``q``, a part of the name or e-mail, filter): how a fund
    manager finds the ids of reviewers to assign, or a finance officer a colleague's."""
    query = _staff_query()
    if args.get("role"):
        query = query.where(Role.name == args["role"])
    if args.get("q"):
        needle = args["q"].lower()
        query = query.where(func.lower(User.email).contains(needle, autoescape=True)
                            | func.lower(func.coalesce(User.name, "")).contains(needle, autoescape=True))
    return list_page(query, args)


@blp.route("/users/<int:user_id>")
@access(*STAFF)
@blp.response(200, UserOut)
def get_user(user_id: int):
    """One of the fund's staff or reviewers."""
    user = db.session.execute(_staff_query().where(User.id == user_id)).scalar_one_or_none()
    if user is None:
        abort(404)
    return user


# Account management: one operation each (fund.operations), as in the portal and the command line -------------

def _account(user_id: int) -> User:
    return db.get_or_404(User, user_id)


@action(blp, "/users", roles=(ADMIN,), response=AccountOut, body=InviteUserIn, status=201)
def invite_user(data):
    """Invite someone with a role: their account is created, and an e-mail with a single-use link (valid 7 days)
    lets them choose their password. 422 for an address already in use, a role that needs a donor without one."""
    user, _link = operations.invite_user(data.pop("email"), data.pop("role"), actor=current_user, **data)
    return user


@blp.route("/users/<int:user_id>/account")
@access(ADMIN, AUDITOR)
@blp.response(200, AccountOut)
def get_account(user_id: int):
    """Any account (staff, reviewer, applicant, donor): status, second factor, last sign-in."""
    return _account(user_id)


@action(blp, "/users/<int:user_id>/role", roles=(ADMIN,), response=AccountOut, body=SetRoleIn)
def set_role(data, user_id: int):
    """Give the account one role; its sessions end. 409 for your own account, the last active administrator,
    or a member of an applicant organisation; 422 for the donor role without a donor."""
    return operations.set_role(_account(user_id), data["role"], donor_id=data["donor_id"], actor=current_user)


#: Account operations that take no body: (path, endpoint, operation of fund.operations, the operation's document).
ACCOUNT_ACTIONS = (
    ("deactivate", "deactivate", "deactivate_user",
     """The account can no longer sign in nor use its API tokens. 409 for your own account, an inactive one, or
    the last active administrator."""),
    ("reactivate", "reactivate", "reactivate_user", """409 for an active or an anonymised account."""),
    ("reset-two-factor", "reset_two_factor", "reset_two_factor",
     """Forget the account's second factor; its sessions end and it sets up a new one at the next sign-in. 409
    when it has none."""),
)


def _account_action(path: str, endpoint: str, operation: str, doc: str) -> None:
    def view(user_id: int):
        return getattr(operations, operation)(_account(user_id), actor=current_user)

    view.__name__ = view.__qualname__ = endpoint
    view.__doc__ = doc
    action(blp, f"/users/<int:user_id>/{path}", roles=(ADMIN,), response=AccountOut)(view)


for _action in ACCOUNT_ACTIONS:
    _account_action(*_action)


@action(blp, "/users/<int:user_id>/resend-invitation", roles=(ADMIN,), response=AccountOut)
def resend_invitation(user_id: int):
    """A new link for an invited account (earlier ones stop working). 409 when no invitation is pending."""
    user = _account(user_id)
    operations.resend_invitation(user, actor=current_user)
    return user


@blp.route("/audit/verify")
@access(AUDITOR, ADMIN)
@blp.response(200, AuditVerifyOut)
def audit_verify():
    """Check the whole audit trail: hash chain, HMAC codes, erasures and the signed checkpoints."""
    from fund.checkpoints import verify_all

    result = verify_all()
    body = {"ok": result.ok, "events": result.events, "checkpoints": result.checkpoints, "erased": result.erased}
    if not result.ok:
        body["first_bad_event"] = result.first_bad_event
        body["reason"] = result.reason
    return body


@blp.route("/audit/events")
@access(AUDITOR, ADMIN)
@blp.arguments(AuditQuery, location="query")
@blp.response(200, paged(AuditEventOut))
def audit_events(args):
    """The audit trail, newest first, filtered by entity, actor, action and date (``from``, ``to``)."""
    return list_page(audit.filtered_events(args), args)
