"""Every write about grants: creation on approval, agreement, tranches, disbursements, reports, refunds, closure.

Operations take objects and validated data, check the domain rules, write, audit in the same transaction and
flush; they never commit. Anything that moves or reserves money takes the fund lock first
(:func:`fund.accounting.ledger.lock_fund`: ``SELECT ... FOR UPDATE`` on PostgreSQL, the ``BEGIN IMMEDIATE`` write
lock on SQLite) and re-reads the rows it decides on, so concurrent requests see each other's committed work and
money never leaves twice, early, or past the award.

One module a part: :mod:`.lifecycle` (the grant from creation to closure, its tranches, budget and refunds),
:mod:`.disbursements`, :mod:`.reports`, and :mod:`.shared` (amounts to the cent, locks, the grantee's mail).
This package names the operations the views, the API and the CLI call.
"""

from __future__ import annotations

from grants.awards.operations.disbursements import (
    approve_disbursement,
    cancel_disbursement,
    edit_disbursement,
    fail_disbursement,
    pay_disbursement,
    record_refused_approval,
    request_disbursement,
    tranche_of,
)
from grants.awards.operations.lifecycle import (
    close,
    countersign,
    create_grant,
    record_refund,
    resume,
    revise_budget,
    set_tranches,
    suspend,
    terminate,
    upload_signed_agreement,
)
from grants.awards.operations.reports import (
    accept_report,
    attach_audit_report,
    return_report,
    save_report,
    submit_report,
)
from grants.awards.operations.shared import (
    DEFAULT_SCHEDULE,
    FINAL_REPORT_DAYS,
    TRANCHE_AFTER_REPORT_DAYS,
    add_months,
    approved_budget,
    checked_upload,
    grant_members,
    mail_grantee,
    split_largest_remainder,
)

__all__ = [
    "DEFAULT_SCHEDULE",
    "FINAL_REPORT_DAYS",
    "TRANCHE_AFTER_REPORT_DAYS",
    "add_months",
    "approved_budget",
    "checked_upload",
    "grant_members",
    "mail_grantee",
    "split_largest_remainder",
    "create_grant",
    "upload_signed_agreement",
    "countersign",
    "suspend",
    "resume",
    "close",
    "terminate",
    "set_tranches",
    "revise_budget",
    "record_refund",
    "tranche_of",
    "request_disbursement",
    "edit_disbursement",
    "approve_disbursement",
    "record_refused_approval",
    "pay_disbursement",
    "cancel_disbursement",
    "fail_disbursement",
    "save_report",
    "attach_audit_report",
    "submit_report",
    "accept_report",
    "return_report",
]
