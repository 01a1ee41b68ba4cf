"""The core JSON API: who am I, the people of the fund (to find a reviewer's or an officer's id), the audit
trail and its verification."""

from __future__ import annotations

from flask import abort
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import func, select

from fund import audit
from fund.db import db
from fund.listing import list_page
from fund.models import ADMIN, AUDITOR, FINANCE_OFFICER, FUND_MANAGER, REVIEWER, STAFF_ROLES, Role, User
from fund.permissions import ANY_ROLE, access
from fund.schemas import (
    AuditEventOut,
    AuditQuery,
    AuditVerifyOut,
    UserOut,
    UserQuery,
    page_envelope,
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
            .order_by(User.id).distinct())


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
    return page_envelope(db.paginate(query, page=args["page"], per_page=args["per_page"], error_out=False))


@blp.route("/users/<int:user_id>")
@access(*STAFF)
@blp.response(200, UserOut)
def get_user(user_id: int):
    """One of the fund's staff or reviewers."""
    user = db.session.execute(_staff_query().where(User.id == user_id)).scalar_one_or_none()
    if user is None:
        abort(404)
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
