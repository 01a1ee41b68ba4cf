"""The state machines of grants, disbursements and grantee reports, each declared in one place.

They reuse :class:`grants.workflow.Workflow`: a table of transitions (trigger, sources, target, roles, guards).
Guards that find the *state* of the fund or the grant in the way (a limit reached, a condition not met, the
grant suspended) raise :class:`fund.errors.Conflict` (409) with a clear message; guards about what the user
sent return their problems (422). The four-eyes rule raises 403. Operations take the fund lock and re-read
the rows before firing a guarded transition, so the guards see committed state only.

Every step is kept in :class:`grants.awards.models.GrantEvent` and the audit trail.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import func, select

from fund.accounting.figures import fund_position, grant_figures, grants_figures, psc_rate
from fund.db import db
from fund.errors import Conflict, FundError
from fund.i18n import translate as _
from fund.models import ADMIN, APPLICANT, FINANCE_OFFICER, FUND_MANAGER, User
from fund.money import round_money
from grants.awards.models import (
    FINAL,
    FINAL_ACCEPTED,
    INTERIM,
    INTERIM_ACCEPTED,
    SIGNATURE,
    Disbursement,
    Grant,
    GrantEvent,
    GrantReport,
)
from grants.awards.reports import missing, rule_messages, rule_problems
from grants.payee import not_the_payee_verifier, organisations_with_pending_change, payee_verified, payments_held
from grants.workflow import Transition, Workflow

_FM = frozenset({FUND_MANAGER})
_FO = frozenset({FINANCE_OFFICER})
_APP = frozenset({APPLICANT})
ZERO = Decimal("0.00")


def _history(entity: str):
    def write(obj, transition: Transition, old: str, actor: User, data: dict) -> None:
        grant_id = obj.id if entity == "grant" else obj.grant_id
        db.session.add(GrantEvent(grant_id=grant_id, entity=entity, entity_id=obj.id, trigger=transition.trigger,
                                  from_status=old, to_status=transition.target, actor_id=getattr(actor, "id", None),
                                  message=(data.get("message") or None)))
        db.session.flush()

    return write


# Shared facts, always read from the database (never from a cached relationship) ------------------------------

def report_status(grant_id: int, kind: str) -> str | None:
    return db.session.execute(
        select(GrantReport.status).where(GrantReport.grant_id == grant_id, GrantReport.kind == kind)
    ).scalar_one_or_none()


def grant_status(grant_id: int) -> str:
    return db.session.execute(select(Grant.status).where(Grant.id == grant_id)).scalar_one()


def committed_amounts(grant_id: int, *, tranche_id: int | None = None, exclude: int | None = None,
                      statuses: tuple[str, ...] = ("approved", "paid")) -> Decimal:
    """The sum of a grant's (or a tranche's) disbursements in ``statuses``, leaving out ``exclude``."""
    query = select(func.coalesce(func.sum(Disbursement.amount), 0)).where(
        Disbursement.grant_id == grant_id, Disbursement.status.in_(statuses))
    if tranche_id is not None:
        query = query.where(Disbursement.tranche_id == tranche_id)
    if exclude is not None:
        query = query.where(Disbursement.id != exclude)
    return Decimal(db.session.execute(query).scalar_one()).quantize(Decimal("0.01"))


def approved_unpaid_fundwide(exclude: int | None = None) -> Decimal:
    query = select(func.coalesce(func.sum(Disbursement.amount), 0)).where(Disbursement.status == "approved")
    if exclude is not None:
        query = query.where(Disbursement.id != exclude)
    return Decimal(db.session.execute(query).scalar_one()).quantize(Decimal("0.01"))


CONDITION_LABELS = {
    SIGNATURE: _l("On signature of the agreement"),
    INTERIM_ACCEPTED: _l("After the interim report is accepted"),
    FINAL_ACCEPTED: _l("After the final report is accepted"),
}


def condition_met(grant_id: int, condition: str) -> bool:
    if condition == SIGNATURE:
        return grant_status(grant_id) in ("active", "suspended", "closed")
    kind = INTERIM if condition == INTERIM_ACCEPTED else FINAL
    return report_status(grant_id, kind) == "accepted"


# Grants -------------------------------------------------------------------------------------------------------

GRANT_STATES = {
    "pending_signature": _l("Pending signature"),
    "active": _l("Active"),
    "suspended": _l("Suspended"),
    "closed": _l("Closed"),
    "terminated": _l("Terminated"),
}


def _signed_copy_uploaded(grant: Grant, actor, data) -> list[str]:
    if grant.signed_document_id is None:
        raise Conflict(_("The organisation has not uploaded the signed agreement yet."), code="not_signed")
    return []


def _closable(grant: Grant, actor, data) -> list[str]:
    """The final report is accepted, no payment is pending, and payments net of refunds equal the expenditure
    of the accepted final report."""
    if report_status(grant.id, FINAL) != "accepted":
        raise Conflict(_("The final report must be accepted before the grant is closed."), code="final_report")
    pending = db.session.execute(
        select(func.count()).select_from(Disbursement)
        .where(Disbursement.grant_id == grant.id, Disbursement.status.in_(("requested", "approved")))
    ).scalar_one()
    if pending:
        raise Conflict(ngettext("%(num)d disbursement request is still open: pay or cancel it first.",
                                "%(num)d disbursement requests are still open: pay or cancel them first.", pending),
                       code="open_disbursements")
    final = db.session.execute(
        select(GrantReport).where(GrantReport.grant_id == grant.id, GrantReport.kind == FINAL)
    ).scalar_one()
    figures = grant_figures(grant.id)
    spent = final.expenditure or ZERO
    net = figures.paid - figures.refunded
    if net != spent:
        if net > spent:
            message = _("Payments net of refunds (USD %(net)s) exceed the expenditure in the final report "
                        "(USD %(spent)s): record the refund of the unspent USD %(diff)s first.",
                        net=net, spent=spent, diff=net - spent)
        else:
            message = _("The final report declares USD %(spent)s of expenditure but payments net of refunds are "
                        "USD %(net)s: the figures do not reconcile.", net=net, spent=spent)
        raise Conflict(message, code="not_reconciled")
    return []


GRANT_WORKFLOW = Workflow("grant", GRANT_STATES, [
    Transition("countersign", frozenset({"pending_signature"}), "active", _FM, _l("Countersign the agreement"),
               guards=[_signed_copy_uploaded]),
    Transition("suspend", frozenset({"active"}), "suspended", _FM, _l("Suspend the grant"), needs_message=True),
    Transition("resume", frozenset({"suspended"}), "active", _FM, _l("Resume the grant")),
    Transition("close", frozenset({"active"}), "closed", _FM, _l("Close the grant"), guards=[_closable]),
    Transition("terminate", frozenset({"pending_signature", "active", "suspended"}), "terminated", _FM,
               _l("Terminate the grant"), needs_message=True),
], history=_history("grant"))


# Disbursements ------------------------------------------------------------------------------------------------

DISBURSEMENT_STATES = {
    "scheduled": _l("Scheduled"),
    "requested": _l("Requested"),
    "approved": _l("Approved"),
    "paid": _l("Paid"),
    "cancelled": _l("Cancelled"),
    "failed": _l("Failed"),
}
#: Disbursements that still count as possible money out.
OPEN_DISBURSEMENTS = ("requested", "approved")


def _four_eyes(d: Disbursement, actor: User, data) -> list[str]:
    if actor.id in {d.requested_by_id, d.edited_by_id}:
        raise FundError(_("You requested or changed this disbursement: a different finance officer must "
                          "approve it."), status=403, code="four_eyes")
    return []


def _grant_not_active(status: str) -> str:
    return _("The grant is %(status)s: no disbursement can be approved or paid.",
             status=str(GRANT_STATES.get(status, status)).lower())


def _condition_unmet(tranche) -> str:
    reason = {
        SIGNATURE: _("the agreement has not been countersigned"),
        INTERIM_ACCEPTED: _("the interim report has not been accepted"),
        FINAL_ACCEPTED: _("the final report has not been accepted"),
    }[tranche.condition]
    return _("Tranche %(n)d cannot be released yet: %(reason)s.", n=tranche.number, reason=reason)


def _grant_active(d: Disbursement, actor, data) -> list[str]:
    status = grant_status(d.grant_id)
    if status != "active":
        raise Conflict(_grant_not_active(status), code="grant_not_active")
    return []


def _condition(d: Disbursement, actor, data) -> list[str]:
    if not condition_met(d.grant_id, d.tranche.condition):
        raise Conflict(_condition_unmet(d.tranche), code="tranche_condition")
    return []


def _award_exceeded(d: Disbursement, award: Decimal, others: Decimal, in_tranche: Decimal,
                    approved_unpaid: Decimal, remaining: Decimal) -> Conflict | None:
    """The rule of :func:`_within_award`, on figures read by the guard (under the fund lock) or by
    :func:`list_blockers` (for a whole list at once): ``others`` are the grant's other paid and approved
    disbursements, ``in_tranche`` those of the tranche, ``approved_unpaid`` the grant's other approved ones."""
    tranche = d.tranche
    if others + d.amount > award:
        return Conflict(_("USD %(amount)s would take paid and approved disbursements to USD %(total)s, more than "
                          "the award of USD %(award)s (USD %(left)s left).", amount=d.amount,
                          total=others + d.amount, award=award, left=max(award - others, ZERO)),
                        code="award_exceeded")
    if in_tranche + d.amount > tranche.amount:
        return Conflict(_("USD %(amount)s would take tranche %(n)d to USD %(total)s, more than its USD "
                          "%(tranche)s (USD %(left)s left).", amount=d.amount, n=tranche.number,
                          total=in_tranche + d.amount, tranche=tranche.amount,
                          left=max(tranche.amount - in_tranche, ZERO)), code="tranche_exceeded")
    if approved_unpaid + d.amount > remaining:
        return Conflict(_("The grant's undisbursed commitment in the ledger (USD %(remaining)s) cannot cover "
                          "USD %(amount)s besides USD %(approved)s already approved.", remaining=remaining,
                          amount=d.amount, approved=approved_unpaid), code="commitment_exceeded")
    return None


def _within_award(d: Disbursement, actor, data) -> list[str]:
    """Paid + approved (with this one) never exceed the award, nor the tranche, nor the undisbursed commitment."""
    grant = db.session.get(Grant, d.grant_id)
    refusal = _award_exceeded(
        d, grant.amount, committed_amounts(d.grant_id, exclude=d.id),
        committed_amounts(d.grant_id, tranche_id=d.tranche.id, exclude=d.id),
        committed_amounts(d.grant_id, exclude=d.id, statuses=("approved",)), grant_figures(d.grant_id).remaining)
    if refusal is not None:
        raise refusal
    return []


def _cash_short(d: Disbursement, approved_others: Decimal, cash: Decimal) -> Conflict | None:
    """The rule of :func:`_cash_for_approval` on figures read by the guard or by :func:`list_blockers`."""
    waiting = approved_others + d.amount
    need = waiting + round_money(psc_rate() * waiting, "USD")
    if need > cash:
        return Conflict(_("Cash of USD %(cash)s cannot cover the approved disbursements with this one "
                          "(USD %(need)s with programme support costs).", cash=cash, need=need),
                        code="cash_insufficient")
    return None


def _cash_for_approval(d: Disbursement, actor, data) -> list[str]:
    """Cash covers every approved, unpaid disbursement of the fund, this one, and their PSC."""
    refusal = _cash_short(d, approved_unpaid_fundwide(exclude=d.id), fund_position().cash)
    if refusal is not None:
        raise refusal
    return []


def _payment_data(d: Disbursement, actor, data) -> list[str]:
    found = []
    if not (data.get("payment_reference") or "").strip():
        found.append(_("Give the payment reference."))
    if data.get("paid_on") is None:
        found.append(_("Give the value date of the payment."))
    return found


def approval_blockers(d: Disbursement, actor: User) -> list[str]:
    """Why ``actor`` cannot approve ``d`` now, each reason in a sentence (empty when nothing is in the way).

    For screens, so that no "Approve" button is offered that would fail without saying why; read without the
    fund lock, so :func:`grants.awards.operations.approve_disbursement` checks the same guards again under it.
    The rules allow no override: an unmet tranche condition is met by accepting the report, not by a click."""
    return _blockers(d, "approve", actor, {})


def list_blockers(ds: list[Disbursement], trigger: str = "approve") -> dict[int, list[str]]:
    """For the finance queues (approvals, payments to record), in a fixed number of statements whatever their
    length (``trigger``: "approve" or "pay"): the grant that is not active, a change of bank details waiting
    for verification, the tranche condition not met, the award, the tranche or the commitment exceeded and, for
    an approval, cash short; read from the loaded grants (their reports come with them), the kept balances and
    two queries, with the rules of the guards. The four-eyes rules are for the page to apply (the approval queue
    lists others' requests only); the operation checks everything again under the fund lock."""
    if not ds:
        return {}
    grant_ids = sorted({d.grant_id for d in ds})
    held = organisations_with_pending_change(d.grant.organisation_id for d in ds)
    committed = db.session.execute(
        select(Disbursement.id, Disbursement.grant_id, Disbursement.tranche_id, Disbursement.amount,
               Disbursement.status)
        .where((Disbursement.grant_id.in_(grant_ids) & Disbursement.status.in_(("approved", "paid")))
               | (Disbursement.status == "approved"))
    ).all()
    figures = grants_figures(grant_ids)
    cash = fund_position().cash if trigger == "approve" else None

    def total(rows) -> Decimal:
        return sum((r.amount for r in rows), ZERO).quantize(Decimal("0.01"))

    found: dict[int, list[str]] = {}
    for d in ds:
        reasons = []
        if d.grant.status != "active":
            reasons.append(_grant_not_active(d.grant.status))
        if d.grant.organisation_id in held:
            reasons.append(payments_held())
        if not conditions_met(d.grant)[d.tranche.condition]:
            reasons.append(_condition_unmet(d.tranche))
        others = [r for r in committed if r.grant_id == d.grant_id and r.id != d.id]
        refusals = [_award_exceeded(d, d.grant.amount, total(others),
                                    total(r for r in others if r.tranche_id == d.tranche_id),
                                    total(r for r in others if r.status == "approved"),
                                    figures[d.grant_id].remaining)]
        if cash is not None:
            refusals.append(_cash_short(d, total(r for r in committed if r.status == "approved" and r.id != d.id),
                                        cash))
        reasons.extend(r.message for r in refusals if r is not None)
        found[d.id] = reasons
    return found


def payment_blockers(d: Disbursement, actor: User) -> list[str]:
    """Why the payment of an approved disbursement cannot be recorded now (the grant suspended since, a change of
    bank details waiting...), for the same reason as :func:`approval_blockers`; what the form asks for (reference,
    value date) is not checked here."""
    return _blockers(d, "pay", actor, {"payment_reference": "-", "paid_on": dt.date.min})


def _blockers(d: Disbursement, trigger: str, actor: User, data: dict) -> list[str]:
    t = DISBURSEMENT_WORKFLOW[trigger]
    if d.status not in t.sources:
        return [_("This is not possible while the status is “%(status)s”.",
                  status=DISBURSEMENT_WORKFLOW.label(d.status))]
    found: list[str] = []
    for guard in t.guards:
        try:
            found.extend(guard(d, actor, data) or [])
        except FundError as exc:
            found.append(exc.message)
    return found


DISBURSEMENT_WORKFLOW = Workflow("disbursement", DISBURSEMENT_STATES, [
    Transition("request", frozenset({"scheduled"}), "requested", _FO, _l("Request the payment")),
    Transition("edit", frozenset({"requested", "approved"}), "requested", _FO, _l("Change the request")),
    Transition("approve", frozenset({"requested"}), "approved", _FO, _l("Approve the payment"),
               guards=[_four_eyes, not_the_payee_verifier, _grant_active, payee_verified, _condition, _within_award,
                       _cash_for_approval]),
    Transition("pay", frozenset({"approved"}), "paid", _FO, _l("Record the payment"),
               guards=[_payment_data, _grant_active, payee_verified, _condition, _within_award]),
    # The organisation changed its bank account (grants.payee): the approval is void until the change is verified.
    Transition("payee_changed", frozenset({"approved"}), "requested", _APP, _l("Bank details changed")),
    Transition("cancel", frozenset({"scheduled", "requested", "approved"}), "cancelled", _FO | _FM,
               _l("Cancel")),
    Transition("fail", frozenset({"approved", "paid"}), "failed", _FO, _l("Mark as failed"), needs_message=True),
    # A disbursement entry reversed from the ledger browser (finance officers and admins reverse entries).
    Transition("reverse", frozenset({"paid"}), "failed", _FO | frozenset({ADMIN}), _l("Reversed in the ledger")),
], history=_history("disbursement"))


# Grantee reports ----------------------------------------------------------------------------------------------

REPORT_KIND_LABELS = {"interim": _l("Interim report"), "final": _l("Final report")}
REPORT_STATES = {
    "due": _l("Due"),
    "submitted": _l("Submitted"),
    "returned": _l("Returned for revision"),
    "accepted": _l("Accepted"),
}
REPORT_EDITABLE = frozenset({"due", "returned"})


def _report_grant_running(report: GrantReport, actor, data) -> list[str]:
    status = grant_status(report.grant_id)
    if status not in ("active", "suspended"):
        raise Conflict(_("Reports are submitted while the grant is active."), code="grant_not_active")
    return []


def _report_complete(report: GrantReport, actor, data) -> list[str]:

    found = missing(report)
    return [_("The report is not complete.")] + found if found else []


def _report_agrees(report: GrantReport, actor, data) -> list[str]:
    """Breakdowns that add up to the same total, and every line more than 10 % off explained (a draft may be
    saved without; it is submitted with)."""

    return rule_messages(rule_problems(db.session.get(Grant, report.grant_id), report))


def _interim_first(report: GrantReport, actor, data) -> list[str]:
    if report.kind == FINAL and report_status(report.grant_id, INTERIM) not in (None, "accepted"):
        raise Conflict(_("The interim report must be accepted before the final report."), code="interim_first")
    return []


REPORT_WORKFLOW = Workflow("grant_report", REPORT_STATES, [
    Transition("submit", REPORT_EDITABLE, "submitted", _APP, _l("Submit the report"),
               guards=[_report_grant_running, _report_complete, _report_agrees]),
    Transition("accept", frozenset({"submitted"}), "accepted", _FM, _l("Accept the report"),
               guards=[_interim_first]),
    Transition("return", frozenset({"submitted"}), "returned", _FM, _l("Return with comments"),
               needs_message=True),
], history=_history("report"))


def conditions_met(grant: Grant) -> dict[str, bool]:
    """For display, from the loaded grant (guards read the database under the fund lock instead)."""
    interim, final = grant.report(INTERIM), grant.report(FINAL)
    return {SIGNATURE: grant.status in ("active", "suspended", "closed"),
            INTERIM_ACCEPTED: interim is not None and interim.status == "accepted",
            FINAL_ACCEPTED: final is not None and final.status == "accepted"}


def tranche_status(amount: Decimal, paid: Decimal, approved: Decimal, requested: Decimal, grant_status: str,
                   condition_met: bool) -> str:
    """Where a tranche stands, from what its disbursements add up to (the grant page, its API and the lists read
    it the same way): paid, partly paid, approved, requested; otherwise cancelled with its closed grant, scheduled
    once its condition is met, else waiting."""
    if paid >= amount:
        return "paid"
    if paid > 0:
        return "partly_paid"
    if approved > 0:
        return "approved"
    if requested > 0:
        return "requested"
    if grant_status in ("closed", "terminated"):
        return "cancelled"
    return "scheduled" if condition_met else "waiting"

