"""JSON API of grants awarded: grants, the agreement, tranches, disbursements, reports, refunds and closure.

Every handler loads its objects, checks the object rule before the body is validated (an action on a grant, a
disbursement or a report is declared with :func:`fund.openapi.action`: another organisation's grant or report is a
404), calls one operation and returns. Money is a decimal string with its
currency beside it; lists are paginated.
"""

from __future__ import annotations

import functools

from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import select

from fund.accounting.figures import grants_figures
from fund.db import db
from fund.errors import FundError
from fund.listing import list_page
from fund.models import ADMIN, APPLICANT, AUDITOR, FINANCE_OFFICER, FUND_MANAGER
from fund.openapi import action
from fund.permissions import access, ensure_view
from fund.response_cache import cached
from fund.schemas import FileUploadIn, paged
from grants.awards import operations, reads
from grants.awards.models import Disbursement, Grant, GrantReport
from grants.awards.presenters import (
    disbursement_dict,
    grant_dict,
    grant_list_dict,
    refund_dict,
    report_dict,
)
from grants.awards.reports import rule_problems
from grants.awards.schemas import (
    BudgetIn,
    DisbursementEditIn,
    DisbursementIn,
    DisbursementOut,
    DisbursementQuery,
    GrantListOut,
    GrantOut,
    GrantQuery,
    MessageIn,
    OptionalMessageIn,
    PaymentIn,
    RefundIn,
    RefundOut,
    ReportFields,
    ReportIn,
    ReportOut,
    TranchesIn,
)
from grants.awards.workflow import conditions_met

blp = Blueprint("grants_awards_api", __name__, url_prefix="/api/v1",
                description="Grants: agreements, tranches, disbursements, reports, refunds and closure")

GRANT_READERS = (APPLICANT, FUND_MANAGER, FINANCE_OFFICER, ADMIN, AUDITOR)
STAFF_READERS = (FUND_MANAGER, FINANCE_OFFICER, ADMIN, AUDITOR)

#: An action on a grant, a disbursement or a report (:func:`fund.openapi.action`).
on_grant = functools.partial(action, blp, model=Grant, arg="grant_id")
on_disbursement = functools.partial(action, blp, model=Disbursement, arg="disbursement_id")
on_report = functools.partial(action, blp, model=GrantReport, arg="report_id")


def _grant(grant_id: int) -> Grant:
    return db.session.get(Grant, grant_id)  # permission checked by the action's object rule


def _grant_out(grant: Grant) -> dict:
    db.session.flush()
    db.session.expire(grant)
    return _grant_answer(reads.grant_detail(grant.id))


def _grant_answer(grant: Grant) -> dict:
    """The grant read by :func:`grants.awards.reads.grant_detail` (its tranches carry their totals), and its most
    recent disbursements with their total from one more statement."""
    return grant_dict(grant, tranches=reads.tranche_rows(grant, conditions_met(grant)),
                      disbursements=reads.recent_disbursements(grant.id, reads.RECENT))


# Grants -------------------------------------------------------------------------------------------------------

@blp.route("/grants")
@access(*GRANT_READERS)
@cached
@blp.arguments(GrantQuery, location="query")
@blp.response(200, paged(GrantListOut))
def list_grants(args):
    """Grants, newest first: an organisation's users see their own organisation's grants only."""
    query = select(Grant).options(*reads.GRANT_LIST)
    if not current_user.has_any_role(*STAFF_READERS):
        query = query.where(Grant.organisation_id == current_user.organisation_id)
    elif args.get("organisation_id"):
        query = query.where(Grant.organisation_id == args["organisation_id"])

    def present(grants):
        figures = grants_figures(g.id for g in grants)
        return [grant_list_dict(g, figures[g.id]) for g in grants]

    return list_page(query, args, filters={"status": Grant.status}, present=present)


@blp.route("/grants/<int:grant_id>")
@access(*GRANT_READERS)
@cached
@blp.response(200, GrantOut)
def get_grant(grant_id):
    """A grant with its tranches (approved and paid against each), budget, reports and its most recent
    disbursements (all of them: ``/disbursements?grant_id=``); paid, refunded and remaining (undisbursed
    commitment) come from the ledger."""
    return _grant_answer(ensure_view(reads.grant_detail(grant_id)))


@on_grant("/grants/<int:grant_id>/agreement", roles=(APPLICANT,), body=FileUploadIn, upload=True, response=GrantOut)
def upload_agreement(data, grant_id):
    """Upload the agreement signed by the organisation (multipart ``file``: PDF, JPEG or PNG scan, recognised
    from the content)."""
    grant = _grant(grant_id)
    operations.upload_signed_agreement(grant, operations.checked_upload(data["file"]), current_user)
    return _grant_out(grant)


@on_grant("/grants/<int:grant_id>/countersign", roles=(FUND_MANAGER,), response=GrantOut)
def countersign(grant_id):
    """Countersign: the grant becomes active (409 until the signed copy is uploaded); the commitment is posted
    if it was not."""
    return _grant_out(operations.countersign(_grant(grant_id), current_user))


@on_grant("/grants/<int:grant_id>/suspend", roles=(FUND_MANAGER,), body=MessageIn, response=GrantOut)
def suspend(data, grant_id):
    """Suspend an active grant (nothing can be approved or paid until it is resumed)."""
    return _grant_out(operations.suspend(_grant(grant_id), current_user, data["message"]))


@on_grant("/grants/<int:grant_id>/resume", roles=(FUND_MANAGER,), response=GrantOut)
def resume(grant_id):
    return _grant_out(operations.resume(_grant(grant_id), current_user))


@on_grant("/grants/<int:grant_id>/terminate", roles=(FUND_MANAGER,), body=MessageIn, response=GrantOut)
def terminate(data, grant_id):
    """Terminate: open disbursements are cancelled and the undisbursed commitment released."""
    return _grant_out(operations.terminate(_grant(grant_id), current_user, data["message"]))


@on_grant("/grants/<int:grant_id>/tranches", roles=(FUND_MANAGER,), body=TranchesIn, response=GrantOut,
          methods=("PUT",))
def set_tranches(data, grant_id):
    """Replace the tranche schedule (percentages adding up to 100, each with its condition) before any payment
    is requested; amounts are split by largest remainder and sum exactly to the award."""
    schedule = [(t["percent"], t["condition"]) for t in data["tranches"]]
    return _grant_out(operations.set_tranches(_grant(grant_id), schedule, current_user))


@on_grant("/grants/<int:grant_id>/budget", roles=(FUND_MANAGER,), body=BudgetIn, response=GrantOut, methods=("PUT",))
def revise_budget(data, grant_id):
    """Revise the approved budget by agreement (all lines: ``id`` for a line kept, none for a new one); it must
    add up to the award, and a line with reported expenditure cannot be removed."""
    return _grant_out(operations.revise_budget(_grant(grant_id), data["lines"], current_user))


@on_grant("/grants/<int:grant_id>/close", roles=(FUND_MANAGER,), response=GrantOut)
def close(grant_id):
    """Close: the final report is accepted and payments net of refunds equal its expenditure (409 otherwise);
    the undisbursed commitment is released."""
    return _grant_out(operations.close(_grant(grant_id), current_user))


@on_grant("/grants/<int:grant_id>/refunds", roles=(FINANCE_OFFICER,), body=RefundIn, idempotent=True,
          response=RefundOut, status=201)
def record_refund(data, grant_id):
    """Record unspent money refunded by the grantee, in any currency (converted at the UN rate of the month it
    was received)."""
    return refund_dict(operations.record_refund(_grant(grant_id), data, current_user))


# Disbursements ------------------------------------------------------------------------------------------------

@on_grant("/grants/<int:grant_id>/disbursements", roles=(FINANCE_OFFICER,), body=DisbursementIn, idempotent=True,
          response=DisbursementOut, status=201)
def request_disbursement(data, grant_id):
    """Request the payment of (part of) a tranche; another finance officer must approve it."""
    d = operations.request_disbursement(_grant(grant_id), data["tranche"], data["amount"], current_user,
                                        note=data.get("note"))
    return disbursement_dict(d)


@blp.route("/disbursements")
@access(*STAFF_READERS)
@blp.arguments(DisbursementQuery, location="query")
@blp.response(200, paged(DisbursementOut))
def list_disbursements(args):
    """Disbursements, oldest first (``status=requested`` is the approval queue; ``grant_id`` one grant's)."""
    return list_page(select(Disbursement), args,
                     filters={"status": Disbursement.status, "grant_id": Disbursement.grant_id},
                     present=lambda disbursements: map(disbursement_dict, disbursements))


def _disbursement(disbursement_id: int) -> Disbursement:
    return db.session.get(Disbursement, disbursement_id)  # permission checked by the action's object rule


@on_disbursement("/disbursements/<int:disbursement_id>", roles=(FINANCE_OFFICER,), body=DisbursementEditIn,
                 response=DisbursementOut, methods=("PATCH",))
def edit_disbursement(data, disbursement_id):
    """Change a requested or approved disbursement; any approval is void and a different finance officer must
    approve it again."""
    d = operations.edit_disbursement(_disbursement(disbursement_id), data["amount"], current_user,
                                     note=data.get("note"))
    return disbursement_dict(d)


@on_disbursement("/disbursements/<int:disbursement_id>/approve", roles=(FINANCE_OFFICER,), idempotent=True,
                 response=DisbursementOut)
def approve_disbursement(disbursement_id):
    """Approve another officer's request. 403 for your own request; 409 when the tranche's condition is not
    met, paid + approved would exceed the award or the tranche, cash is short or the grant is not active."""
    try:
        return disbursement_dict(operations.approve_disbursement(_disbursement(disbursement_id), current_user))
    except FundError as exc:  # the refusal is audited in a transaction of its own, after the rollback
        db.session.rollback()
        operations.record_refused_approval(disbursement_id, current_user, exc)
        db.session.commit()
        raise


@on_disbursement("/disbursements/<int:disbursement_id>/pay", roles=(FINANCE_OFFICER,), body=PaymentIn,
                 idempotent=True, response=DisbursementOut)
def pay_disbursement(data, disbursement_id):
    """Record an approved disbursement as paid (payment reference and value date); posts to the ledger
    (grants payable -> cash) and charges programme support costs."""
    d = operations.pay_disbursement(_disbursement(disbursement_id), data["payment_reference"], data["paid_on"],
                                    current_user)
    return disbursement_dict(d)


@on_disbursement("/disbursements/<int:disbursement_id>/cancel", roles=(FINANCE_OFFICER,), body=OptionalMessageIn,
                 body_required=False, response=DisbursementOut)
def cancel_disbursement(data, disbursement_id):
    d = operations.cancel_disbursement(_disbursement(disbursement_id), current_user, (data or {}).get("message"))
    return disbursement_dict(d)


@on_disbursement("/disbursements/<int:disbursement_id>/fail", roles=(FINANCE_OFFICER,), body=MessageIn,
                 response=DisbursementOut)
def fail_disbursement(data, disbursement_id):
    """Mark an approved or paid disbursement as failed (a paid one is reversed in the ledger)."""
    return disbursement_dict(operations.fail_disbursement(_disbursement(disbursement_id), current_user,
                                                          data["message"]))


# Reports ------------------------------------------------------------------------------------------------------

def _report(report_id: int) -> GrantReport:
    return db.session.get(GrantReport, report_id)  # permission checked by the action's object rule


def _report_out(report: GrantReport) -> dict:
    grant = db.session.get(Grant, report.grant_id)
    return {**report_dict(grant, report), "warnings": rule_problems(grant, report)}


@on_grant("/grants/<int:grant_id>/reports", roles=(APPLICANT,), body=ReportIn, response=ReportOut, status=201)
def save_report(data, grant_id):
    """Write the interim or final report (``kind``): narrative, results and financial report, in one go or in
    parts. A draft is saved as sent even when its breakdowns disagree or a line more than 10 % off is not
    explained yet: ``warnings`` names those points, which the submission refuses. Unknown categories or lines
    not of this grant are refused (422; nothing is saved)."""
    grant = _grant(grant_id)
    kind = data.pop("kind")
    return _report_out(operations.save_report(grant, kind, data, current_user))


@blp.route("/reports/<int:report_id>")
@access(*GRANT_READERS)
@blp.response(200, ReportOut)
def get_report(report_id):
    report, grant = reads.report_detail(report_id)
    ensure_view(report)
    return {**report_dict(grant, report), "warnings": rule_problems(grant, report)}


@on_report("/reports/<int:report_id>", roles=(APPLICANT,), body=ReportFields, response=ReportOut, methods=("PATCH",))
def update_report(data, report_id):
    """Change parts of the report; saved as sent, with ``warnings`` as for the first write."""
    report = _report(report_id)
    grant = db.session.get(Grant, report.grant_id)
    return _report_out(operations.save_report(grant, report.kind, data, current_user))


@on_report("/reports/<int:report_id>/audit-report", roles=(APPLICANT,), body=FileUploadIn, upload=True,
           response=ReportOut)
def upload_audit_report(data, report_id):
    """Attach an audit report (multipart ``file``), optional."""
    report = _report(report_id)
    operations.attach_audit_report(report, operations.checked_upload(data["file"]), current_user)
    return _report_out(report)


@on_report("/reports/<int:report_id>/submit", roles=(APPLICANT,), response=ReportOut)
def submit_report(report_id):
    """Submit the report as saved: 422 listing what is missing in ``_schema``, with the rules it breaks in
    ``results`` and ``expenditure`` (the fields of ``warnings``)."""
    return _report_out(operations.submit_report(_report(report_id), current_user))


@on_report("/reports/<int:report_id>/accept", roles=(FUND_MANAGER,), body=OptionalMessageIn, body_required=False,
           response=ReportOut)
def accept_report(data, report_id):
    """Accept: the interim report releases the tranches waiting for it; the final report opens closure."""
    return _report_out(operations.accept_report(_report(report_id), current_user, (data or {}).get("message")))


@on_report("/reports/<int:report_id>/return", roles=(FUND_MANAGER,), body=MessageIn, response=ReportOut)
def return_report(data, report_id):
    """Return the report to the organisation with comments."""
    return _report_out(operations.return_report(_report(report_id), current_user, data["message"]))
