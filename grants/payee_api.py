"""JSON API of the bank-details history (grants.payee): read-only, for finance officers, auditors and admins.

Account numbers are masked, as on the history page; the full account in force is read through
``GET /organisations/<id>?bank_details=full`` (finance officers, audited).
"""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from fund.db import db
from fund.models import ADMIN, AUDITOR, FINANCE_OFFICER
from fund.permissions import access, ensure_view
from grants import payee
from grants.models import Organisation

blp = Blueprint("grants_payee_api", __name__, url_prefix="/api/v1", description="Bank-details history")


class BankDetailsVersionOut(Schema):
    id = fields.Integer()
    status = fields.String(validate=validate.OneOf([payee.APPLIED, payee.PENDING, payee.VERIFIED, payee.REJECTED,
                                                    payee.SUPERSEDED]))
    bank_account_holder = fields.String(allow_none=True)
    bank_name = fields.String(allow_none=True)
    bank_account_number = fields.String(allow_none=True, metadata={"description": "masked"})
    bank_swift = fields.String(allow_none=True, metadata={"description": "masked"})
    requested_by_id = fields.Integer(allow_none=True)
    requested_at = fields.DateTime()
    decided_by_id = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    callback_note = fields.String(allow_none=True)
    decision_note = fields.String(allow_none=True)
    sanctions_matches = fields.Integer(metadata={"description": "possible matches of the holder on the sanctions "
                                                                "list when it was screened"})


class BankHistoryOut(Schema):
    items = fields.List(fields.Nested(BankDetailsVersionOut))


@blp.route("/organisations/<int:organisation_id>/bank-details/history")
@access(FINANCE_OFFICER, AUDITOR, ADMIN)
@blp.response(200, BankHistoryOut)
def bank_history(organisation_id: int):
    """Every version of the organisation's bank account, latest first, with who requested and who decided."""
    org = ensure_view(db.session.get(Organisation, organisation_id))
    items = []
    for change in payee.history(org.id):
        items.append({
            "id": change.id, "status": change.status, "bank_account_holder": change.bank_account_holder,
            "bank_name": change.bank_name, "bank_account_number": payee.mask(change.bank_account_number),
            "bank_swift": payee.mask(change.bank_swift, 3), "requested_by_id": change.requested_by_id,
            "requested_at": change.requested_at, "decided_by_id": change.decided_by_id,
            "decided_at": change.decided_at, "callback_note": change.callback_note,
            "decision_note": change.decision_note, "sanctions_matches": len(change.sanctions_matches or []),
        })
    return {"items": items}
