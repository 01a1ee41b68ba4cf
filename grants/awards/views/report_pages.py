"""The grantee's report form (narrative, results, expenditure, audit report), its submission and the fund's
acceptance or return.
"""

from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from fund.db import db
from fund.errors import FundError
from fund.models import APPLICANT, FUND_MANAGER
from fund.permissions import access, can_edit, ensure_edit, ensure_view
from fund.vocabulary import AGE_BAND_LABELS, AGE_BANDS, SEX_LABELS, SEXES
from grants.awards import models, operations, reads
from grants.awards.models import Grant, GrantEvent, GrantReport
from grants.awards.presenters import expense_rows, is_overdue
from grants.awards.reports import NARRATIVE_FIELDS, NARRATIVE_LABELS, cell_key, rule_problems, stored_lines
from grants.awards.schemas import MessageIn, OptionalMessageIn, ReportFields
from grants.awards.views.common import GRANT_READERS, bp, errors_of, refused
from grants.awards.workflow import REPORT_EDITABLE, REPORT_WORKFLOW
from grants.presenters import language
from grants.views import flatten_errors, number, perform

# Reports ------------------------------------------------------------------------------------------------------

COUNTRY_ROWS = 6


def _report_form_data() -> dict:
    """Read the report form into the shape of ReportFields; results and expenditure only when filled in."""
    form = request.form
    data: dict = {}
    for name in NARRATIVE_FIELDS:
        value = (form.get(name) or "").strip()
        data[name] = value or None

    def count(key: str):
        raw = re.sub(r"[\s\u00a0\u202f]", "", form.get(key) or "")
        return raw or "0"

    cells = [{"sex": s, "age_band": a, "count": count(f"sa-{s}-{a}")} for s in SEXES for a in AGE_BANDS]
    from grants.taxonomies import ASSISTANCE_TYPES, FORMS_OF_EXPLOITATION

    forms_ = {k: count(f"form-{k}") for k in [*FORMS_OF_EXPLOITATION, models.NOT_RECORDED]}
    assistance = {k: count(f"as-{k}") for k in [*ASSISTANCE_TYPES, models.NOT_RECORDED]}
    countries: dict = {}
    for i in range(COUNTRY_ROWS):
        code = (form.get(f"country-{i}-code") or "").strip()
        if code:
            countries[code] = count(f"country-{i}-count")
    values = [c["count"] for c in cells] + list(forms_.values()) + list(assistance.values()) + list(
        countries.values())
    if any(v not in ("0", "") for v in values):
        data["results"] = {"sex_age": [c for c in cells if c["count"] != "0"],
                           "form": {k: v for k, v in forms_.items() if v != "0"},
                           "assistance": {k: v for k, v in assistance.items() if v != "0"},
                           "country": {k: v for k, v in countries.items() if v != "0"}}
    lines = []
    for key in form:
        m = re.match(r"spent-(\d+)$", key)
        if m and form[key].strip():
            line_id = int(m.group(1))
            lines.append({"budget_line_id": line_id, "spent": number(form[key].strip()),
                          "explanation": (form.get(f"explain-{line_id}") or "").strip() or None})
    if lines:
        data["expenditure"] = lines
    return data


def _country_row(code: str) -> int | None:
    for i in range(COUNTRY_ROWS):
        if (request.form.get(f"country-{i}-code") or "").strip() == code:
            return i
    return None


def _report_errors(messages: dict, data: dict) -> dict:
    """Field messages keyed by the names of the inputs on the page: a count that is not a whole number beside
    its cell, named ("Female, 18–24: ..."); an expenditure line's messages beside its line."""
    errors: dict = {}
    lines = data.get("expenditure") or []
    cells = (data.get("results") or {}).get("sex_age") or []
    for key, msgs in flatten_errors(messages).items():
        m = re.match(r"expenditure-(\d+)-(\w+)", key)
        if m and int(m.group(1)) < len(lines):
            line_id = lines[int(m.group(1))]["budget_line_id"]
            errors[f"{'explain' if m.group(2) == 'explanation' else 'spent'}-{line_id}"] = msgs
            continue
        m = re.match(r"results-sex_age-(\d+)-count", key)
        if m and int(m.group(1)) < len(cells):
            cell = cells[int(m.group(1))]
            label = f"{SEX_LABELS[cell['sex']]}, {AGE_BAND_LABELS[cell['age_band']]}"
            errors[f"sa-{cell['sex']}-{cell['age_band']}"] = [f"{label}: {msg}" for msg in msgs]
            continue
        m = re.match(r"results-(form|assistance|country)-(\w+)-value", key)
        if m:
            name = {"form": "form-", "assistance": "as-"}.get(m.group(1))
            row = _country_row(m.group(2)) if name is None else None
            errors[f"{name}{m.group(2)}" if name else f"country-{row}-count"] = msgs
            continue
        errors[key] = msgs
    return errors


def _rule_keys(problems: dict, grant: Grant, report: GrantReport) -> dict:
    """The rules a report breaks (:func:`grants.awards.reports.rule_problems`) keyed by the page's inputs."""
    out: dict = {f"results-{b}": msgs for b, msgs in problems.get("results", {}).items()}
    lines = stored_lines(grant, report)
    for index, row in problems.get("expenditure", {}).items():
        if int(index) < len(lines):
            out[f"explain-{lines[int(index)]['budget_line_id']}"] = row["explanation"]
    return out


def _load_report_form(data: dict) -> tuple[dict, dict]:
    """Load the form; what does not load (a count that is not a number...) is left out, so the rest is saved
    anyway. Returns (what loads, the messages of what was left out, keyed by the page's inputs)."""
    token = {"csrf_token": request.form.get("csrf_token", "")}
    try:
        loaded = ReportFields().load({**data, **token})
        errors: dict = {}
    except ValidationError as exc:
        errors = _report_errors(exc.messages, data)
        rest = {k: v for k, v in data.items() if k not in exc.messages}
        loaded = ReportFields().load({**rest, **token})
    loaded.pop("csrf_token", None)
    return loaded, errors


def _report_page(report: GrantReport, errors: dict | None = None, status: int = 200, form=None):
    grant = db.session.get(Grant, report.grant_id)
    from grants.taxonomies import ASSISTANCE_GROUPS, FORMS_OF_EXPLOITATION

    editable = report.status in REPORT_EDITABLE and current_user.has_any_role(APPLICANT) and can_edit(
        current_user, report) and grant.status in ("active", "suspended")
    # A draft that breaks a rule of submission is kept; the page says beside each field what to change.
    warnings = _rule_keys(rule_problems(grant, report), grant, report) if editable else {}
    events = db.session.execute(select(GrantEvent).where(GrantEvent.entity == "report",
                                                         GrantEvent.entity_id == report.id)
                                .order_by(GrantEvent.id)).scalars().all()
    countries = sorted(report.breakdown(models.BY_COUNTRY).items())
    html = render_template(
        "grants/awards/report.html", grant=grant, report=report, errors=errors or {}, form=form, status=status,
        warnings={k: v for k, v in warnings.items() if k not in (errors or {})},
        editable=editable, lang=language(), sexes=SEXES, age_bands=AGE_BANDS, sex_labels=SEX_LABELS,
        age_labels=AGE_BAND_LABELS, cells=report.breakdown(models.SEX_AGE), cell_key=cell_key,
        forms=[*FORMS_OF_EXPLOITATION.items(), (models.NOT_RECORDED, _("Not recorded"))],
        form_counts=report.breakdown(models.BY_FORM),
        assistance_groups=ASSISTANCE_GROUPS, assistance_counts=report.breakdown(models.BY_ASSISTANCE),
        countries=countries, country_rows=max(COUNTRY_ROWS, len(countries)),
        narrative=[(n, NARRATIVE_LABELS[n]) for n in NARRATIVE_FIELDS], expenses=expense_rows(grant, report),
        transitions=REPORT_WORKFLOW.available(report, current_user), events=events, overdue=is_overdue(report),
    )
    return html, status


@bp.route("/reports/<int:report_id>")
@access(*GRANT_READERS)
def report(report_id: int):
    """A report: read by the fund and the organisation; the form for the organisation while due or returned."""
    report, _grant = reads.report_detail(report_id)  # the report and its grant as the page needs them
    return _report_page(ensure_view(report))


@bp.route("/reports/<int:report_id>", methods=["POST"])
@access(APPLICANT)
def save_report(report_id: int):
    """Save the report form as typed, always: breakdowns that disagree or a line more than 10 % off without a
    word are kept in the draft and shown as warnings beside their fields. With ``action=submit`` (the form's
    second button) what was typed is saved and then submitted, in the same request; the rules of submission
    refuse it there (422, the page shown again as typed, the messages beside the fields), and the draft is
    kept all the same."""
    rep = ensure_edit(db.session.get(GrantReport, report_id))
    grant = db.session.get(Grant, rep.grant_id)
    submitting = request.form.get("action") == "submit"
    data = _report_form_data()
    loaded, errors = _load_report_form(data)
    try:
        operations.save_report(grant, rep.kind, loaded, current_user)
    except FundError as exc:
        refused(exc)
        rep = db.session.get(GrantReport, report_id)
        errors = {**errors, **(_report_errors(exc.fields, data) if exc.fields else {})}
        errors.setdefault("_action", [exc.message])
        return _report_page(rep, errors, exc.status, request.form)
    errors.update(_attach_audit_file(rep))
    if errors:
        # What loads is kept (the narrative above all); what does not is shown again as typed, beside its message.
        db.session.commit()
        return _report_page(db.session.get(GrantReport, report_id), errors, 422, request.form)
    if submitting:
        try:
            operations.submit_report(rep, current_user)
        except FundError as exc:
            if exc.status == 403:
                raise
            # The submission refused before writing anything of its own: keep the draft just saved.
            db.session.commit()
            rep = db.session.get(GrantReport, report_id)
            return _report_page(rep, _submission_errors(exc, grant, rep), exc.status, request.form)
        flash(_("The report has been submitted to the fund."), "success")
        return redirect(url_for("grants_awards.report", report_id=rep.id))
    flash(_("The report has been saved."), "success")
    return redirect(url_for("grants_awards.report", report_id=rep.id))


def _attach_audit_file(report: GrantReport) -> dict:
    """The audit report chosen in the report form (optional), attached with the rest of the form, so that
    attaching it never drops what was typed. Returns the message for its field when the file is refused."""
    upload = request.files.get("audit_file")
    if upload is None or not upload.filename:
        return {}
    try:
        operations.attach_audit_report(report, operations.checked_upload(upload, "audit_file"), current_user)
    except FundError as exc:
        if exc.status == 403:
            raise
        return {"audit_file": exc.fields.get("audit_file") or [exc.message]}
    return {}


def _submission_errors(exc: FundError, grant: Grant, report: GrantReport) -> dict:
    """A refused submission: the rules broken beside their fields, and every reason in the summary."""
    fields = exc.fields or {}
    errors = _rule_keys(fields, grant, report)
    problems = fields.get("_schema") if isinstance(fields.get("_schema"), list) else None
    errors["_action"] = problems or [exc.message]
    return errors


@bp.route("/reports/<int:report_id>/audit-report", methods=["POST"])
@access(APPLICANT)
def upload_audit_report(report_id: int):
    rep = ensure_edit(db.session.get(GrantReport, report_id))
    try:
        operations.attach_audit_report(rep, operations.checked_upload(request.files.get("file")), current_user)
    except FundError as exc:
        return _report_page(db.session.get(GrantReport, report_id), errors_of(refused(exc, passes=(403, 413))),
                            exc.status)
    flash(_("The audit report has been attached."), "success")
    return redirect(url_for("grants_awards.report", report_id=rep.id))


def _report_refused(report_id: int, exc: FundError):
    """The report page again after a refused submission or decision (rolled back), the reasons beside their
    fields."""
    report = db.session.get(GrantReport, report_id)
    return _report_page(report, _submission_errors(exc, db.session.get(Grant, report.grant_id), report), exc.status)


@bp.route("/reports/<int:report_id>/submit", methods=["POST"])
@access(APPLICANT)
def submit_report(report_id: int):
    """Submit the report as stored (the report page submits what is typed through its form's second button)."""
    rep = ensure_edit(db.session.get(GrantReport, report_id))
    return perform(lambda: operations.submit_report(rep, current_user), _("The report has been submitted to the fund."),
                   url_for("grants_awards.report", report_id=rep.id),
                   lambda exc: _report_refused(report_id, refused(exc)))


@bp.route("/reports/<int:report_id>/<any(accept, return):trigger>", methods=["POST"])
@access(FUND_MANAGER)
def review_report(report_id: int, trigger: str):
    rep = ensure_edit(db.session.get(GrantReport, report_id))
    try:
        if trigger == "accept":
            data = OptionalMessageIn().load(request.form.to_dict())
            operations.accept_report(rep, current_user, data.get("message"))
        else:
            data = MessageIn().load(request.form.to_dict())
            operations.return_report(rep, current_user, data["message"])
    except ValidationError as exc:
        db.session.rollback()
        return _report_page(db.session.get(GrantReport, report_id),
                            {f"{trigger}-message": flatten_errors(exc.messages).get("message", [])}, 422)
    except FundError as exc:
        return _report_refused(report_id, refused(exc))
    flash(_("The report is now “%(status)s”.", status=REPORT_WORKFLOW.label(rep.status)), "success")
    return redirect(url_for("grants_awards.report", report_id=rep.id))
