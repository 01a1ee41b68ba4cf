"""The core JSON API: who am I, the audit trail and its verification."""

from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint

from fund import audit
from fund.db import db
from fund.models import ADMIN, AUDITOR
from fund.permissions import ANY_ROLE, access
from fund.schemas import AuditEventOut, AuditQuery, AuditVerifyOut, UserOut, page_envelope, paged

blp = Blueprint("fund_api", __name__, url_prefix="/api/v1", description="Accounts and the audit trail")


@blp.route("/me")
@access(ANY_ROLE)
@blp.response(200, UserOut)
def me():
    return current_user


@blp.route("/audit/verify")
@access(AUDITOR, ADMIN)
@blp.response(200, AuditVerifyOut)
def audit_verify():
    """Check the whole audit trail: hash chain, HMAC codes, erasures and the signed checkpoints."""
    from fund.checkpoints import verify_all

    result = verify_all()
    body = {"ok": result.ok, "events": result.events}
    if not result.ok:
        body["first_bad_event"] = result.first_bad_event
        body["reason"] = result.reason
    return body


@blp.route("/audit/events")
@access(AUDITOR, ADMIN)
@blp.arguments(AuditQuery, location="query")
@blp.response(200, paged(AuditEventOut))
def audit_events(args):
    page = db.paginate(audit.filtered_events(args), page=args["page"], per_page=args["per_page"], error_out=False)
    return page_envelope(page)
