"""The interim and final reports: written in parts, the audit report attached, submitted, accepted or
returned.
"""

from __future__ import annotations

from fund import audit
from fund.accounting.figures import grant_figures
from fund.db import db, utcnow
from fund.errors import Conflict, FundError
from fund.i18n import translate as _
from fund.models import User
from grants.awards.models import SEX_AGE, Grant, GrantReport, ReportExpense, ReportResult
from grants.awards.operations.shared import ZERO, attach_document, lock_row, mail_grantee, relock
from grants.awards.reports import check_categories, check_lines, rule_problems
from grants.awards.workflow import REPORT_EDITABLE, REPORT_WORKFLOW

# Reports ------------------------------------------------------------------------------------------------------

def save_report(grant: Grant, kind: str, data: dict, actor: User) -> GrantReport:
    """Save any part of the interim or final report while it is due or returned: narrative fields, results
    (four breakdowns) and the financial report (expenditure per budget line). A draft is kept as typed, even
    when its breakdowns disagree or a line more than 10 % off is not explained yet: those rules are checked on
    submission (:func:`grants.awards.reports.rule_problems` lists them, for warnings). Only what cannot be
    stored at all (unknown categories, lines not of this grant) is refused, before anything is written."""
    report = grant.report(kind)
    if report is None:
        raise FundError(_("This grant has no %(kind)s report.", kind=kind), fields={"kind": [_("Unknown report.")]})
    lock_row(report)
    if grant.status not in ("active", "suspended"):
        raise Conflict(_("Reports are written while the grant is active."), code="grant_not_active")
    if report.status not in REPORT_EDITABLE:
        raise Conflict(_("This report has been submitted and can no longer be changed."), code="not_editable")
    data = dict(data)
    results = data.pop("results", None)
    lines = data.pop("expenditure", None)
    total = spent = None
    if results is not None:
        check_categories(results)
        total = sum(results.get(SEX_AGE, {}).values())
    if lines is not None:
        check_lines(grant, lines)
        spent = sum((row["spent"] for row in lines), ZERO)
    changes = audit.populate(report, data)
    if results is not None:
        old = {f"{r.breakdown}:{r.key}": r.count for r in report.results}
        new = {f"{b}:{k}": n for b, cells in results.items() for k, n in cells.items() if n}
        if old != new:
            report.results.clear()
            db.session.flush()
            for breakdown, cells in results.items():
                for key, count in sorted(cells.items()):
                    if count:
                        report.results.append(ReportResult(breakdown=breakdown, key=key, count=count))
            changes["results"] = [old, new]
        if report.total_assisted != total:
            changes["total_assisted"] = [report.total_assisted, total]
            report.total_assisted = total
    if lines is not None:
        old = {str(e.budget_line_id): [str(e.spent), e.explanation] for e in report.expenses}
        new = {str(r["budget_line_id"]): [str(r["spent"]), (r.get("explanation") or "").strip() or None]
               for r in lines}
        if old != new:
            report.expenses.clear()
            db.session.flush()
            for r in lines:
                report.expenses.append(ReportExpense(budget_line_id=r["budget_line_id"], spent=r["spent"],
                                                     explanation=(r.get("explanation") or "").strip() or None))
            changes["expenditure"] = [old, new]
        if report.expenditure != spent:
            changes["expenditure_total"] = [str(report.expenditure) if report.expenditure is not None else None,
                                            str(spent)]
            report.expenditure = spent
    if changes:
        report.updated_at = utcnow()
        db.session.flush()
        audit.record("grant_report.update", report, actor=actor,
                     summary=f"{kind.capitalize()} report of grant {grant.number} saved ({', '.join(sorted(changes))})",
                     changes=changes)
    return report


def attach_audit_report(report: GrantReport, upload, actor: User):
    lock_row(report)
    if report.status not in REPORT_EDITABLE:
        raise Conflict(_("This report has been submitted and can no longer be changed."), code="not_editable")
    grant = db.session.get(Grant, report.grant_id)
    return attach_document(
        grant, report, "audit_document_id", upload, "audit_report", actor, action="grant_report.audit_report",
        summary=lambda doc: f"Audit report attached to the {report.kind} report of grant {grant.number}")


def submit_report(report: GrantReport, actor: User) -> GrantReport:
    """Submit a complete report whose breakdowns agree and whose lines more than 10 % off are explained; the
    money received to date and the unspent balance are kept with it. A refused submission raises FundError
    (422) before writing anything of its own, with the rules broken in ``fields`` (as in
    :func:`grants.awards.reports.rule_problems`) beside the list in ``_schema``: the report form calls
    :func:`save_report` then this in one request, and keeps the draft it saved when the submission is refused."""
    grant = db.session.get(Grant, report.grant_id)
    lock_row(report)
    try:
        REPORT_WORKFLOW.fire(report, "submit", actor)
    except FundError as exc:
        if exc.code == "guard_failed":
            exc.fields = {**rule_problems(grant, report), **exc.fields}
        raise
    figures = grant_figures(report.grant_id)
    report.received = figures.paid
    report.unspent = figures.paid - (report.expenditure or ZERO)
    report.submitted_at, report.submitted_by_id = utcnow(), actor.id
    db.session.flush()
    audit.record("grant_report.figures", report, actor=actor,
                 summary=f"{report.kind.capitalize()} report {report.id} submitted: received USD {report.received}, "
                         f"spent USD {report.expenditure}, unspent USD {report.unspent}",
                 changes={"received": [None, str(report.received)], "unspent": [None, str(report.unspent)]})
    return report


def accept_report(report: GrantReport, actor: User, message: str | None = None) -> GrantReport:
    """Accepting the interim report releases the tranches that wait for it; accepting the final report opens
    closure."""
    return _review(report, actor, "accept", message, "report_accepted",
                   lambda grant: _("Report accepted: grant %(number)s", number=grant.number))


def return_report(report: GrantReport, actor: User, message: str) -> GrantReport:
    """Returning the report sends it back to the organisation with the fund's comments."""
    return _review(report, actor, "return", message, "report_returned",
                   lambda grant: _("Report returned: grant %(number)s", number=grant.number))


def _review(report: GrantReport, actor: User, trigger: str, message: str | None, template: str, subject):
    """The fund's decision on a submitted report (``trigger``), recorded and mailed to the grantee."""
    relock(report)
    REPORT_WORKFLOW.fire(report, trigger, actor, message=message)
    report.reviewed_at, report.reviewed_by_id = utcnow(), actor.id
    db.session.flush()
    grant = db.session.get(Grant, report.grant_id)
    mail_grantee(grant, template, lambda: subject(grant), report=report, message=message)
    return report
