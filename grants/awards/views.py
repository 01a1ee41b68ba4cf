"""Portal pages of grants awarded: the grantee dashboard, a grant (agreement, tranches, payments, reports,
refunds, history), the report form, and the finance screens (approval queue, payments to record, cash
forecast).

Plain HTML forms that work without JavaScript, parsed with marshmallow; a refused action re-shows the page
with the reason (409 for the state of things, 422 beside the fields for what was typed).
"""

from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from fund.accounting.figures import grant_figures, grants_figures
from fund.accounting.rates import currency_choices
from fund.db import db
from fund.errors import FundError
from fund.models import ADMIN, APPLICANT, AUDITOR, FINANCE_OFFICER, FUND_MANAGER, User
from fund.permissions import access, can_edit, ensure_edit, ensure_view
from fund.templating import money
from fund.uploads import check_upload
from fund.vocabulary import AGE_BANDS, SEXES
from grants.awards import operations, reads
from grants.awards.forecast import cash_forecast
from grants.awards.models import (
    BY_ASSISTANCE,
    BY_COUNTRY,
    BY_FORM,
    NOT_RECORDED,
    SEX_AGE,
    Disbursement,
    Grant,
    GrantEvent,
    GrantRefund,
    GrantReport,
)
from grants.awards.presenters import expense_rows, is_due_soon, is_overdue, tranche_rows
from grants.awards.reports import (
    AGE_LABELS,
    NARRATIVE_FIELDS,
    NARRATIVE_LABELS,
    SEX_LABELS,
    cell_key,
    rule_problems,
    stored_lines,
)
from grants.awards.schemas import (
    DisbursementEditIn,
    DisbursementIn,
    MessageIn,
    OptionalMessageIn,
    PaymentIn,
    RefundIn,
    ReportFields,
)
from grants.awards.workflow import (
    DISBURSEMENT_WORKFLOW,
    GRANT_WORKFLOW,
    REPORT_EDITABLE,
    REPORT_WORKFLOW,
    approval_blockers,
    list_blockers,
    payment_blockers,
)
from grants.downloads import translate_upload_errors
from grants.presenters import language
from grants.views import flatten_errors, number

bp = Blueprint("grants_awards", __name__, url_prefix="/grants/awards")

GRANT_READERS = (APPLICANT, FUND_MANAGER, FINANCE_OFFICER, ADMIN, AUDITOR)
STAFF_READERS = (FUND_MANAGER, FINANCE_OFFICER, ADMIN, AUDITOR)
FINANCE_READERS = (FINANCE_OFFICER, FUND_MANAGER, ADMIN, AUDITOR)


def _errors_of(exc: FundError) -> dict:
    if exc.fields:
        return flatten_errors(exc.fields)
    return {"_action": [exc.message]}


# The grantee's dashboard ------------------------------------------------------------------------------------

@bp.route("/")
@access(APPLICANT)
def grantee_home():
    """The organisation's grants: tranches with their status and dates, reports due and overdue, messages."""
    mine: list[Grant] = []
    if current_user.organisation_id:
        mine = db.session.execute(
            select(Grant).where(Grant.organisation_id == current_user.organisation_id).order_by(Grant.id.desc())
        ).scalars().all()
    figures = grants_figures(g.id for g in mine)
    reports = [(g, r) for g in mine for r in g.reports if r.status in REPORT_EDITABLE
               and g.status in ("active", "suspended")]
    messages = []
    if mine:
        messages = db.session.execute(
            select(GrantEvent).where(GrantEvent.grant_id.in_([g.id for g in mine]),
                                     GrantEvent.message.is_not(None),
                                     GrantEvent.entity.in_(("grant", "report")))
            .order_by(GrantEvent.id.desc()).limit(20)
        ).scalars().all()
    by_id = {g.id: g for g in mine}
    return render_template("grants/awards/grantee_home.html", grants=mine, figures=figures,
                           tranches={g.id: tranche_rows(g) for g in mine}, reports=reports,
                           overdue=is_overdue, due_soon=is_due_soon, messages=messages, by_id=by_id,
                           lang=language())


# The fund's list of grants ------------------------------------------------------------------------------------

@bp.route("/all")
@access(*STAFF_READERS)
def grants():
    status = request.args.get("status") or None
    query = select(Grant).order_by(Grant.id.desc())
    if status in GRANT_WORKFLOW.states:
        query = query.where(Grant.status == status)
    page = db.paginate(query, per_page=50, error_out=False)
    figures = grants_figures(g.id for g in page.items)
    return render_template("grants/awards/grants.html", page=page, figures=figures, status=status,
                           workflow=GRANT_WORKFLOW, lang=language())


# A grant ------------------------------------------------------------------------------------------------------

def _grant_page(grant: Grant, errors: dict | None = None, status: int = 200, form=None, open_form: str | None = None,
                *, fresh: bool = True):
    """The grant's page; ``fresh=False`` when ``grant`` was just read for it (no write in the request since)."""
    if fresh:
        db.session.expire(grant)
        grant = db.session.get(Grant, grant.id)
    events = db.session.execute(select(GrantEvent).where(GrantEvent.grant_id == grant.id)
                                .order_by(GrantEvent.id)).scalars().all()
    refunds = db.session.execute(select(GrantRefund).where(GrantRefund.grant_id == grant.id)
                                 .order_by(GrantRefund.id)).scalars().all()
    actors = {u.id: u for u in db.session.execute(select(User).options(joinedload(User.roles)).where(User.id.in_(
        {e.actor_id for e in events} | {d.requested_by_id for d in grant.disbursements}
        | {d.approved_by_id for d in grant.disbursements}))).unique().scalars()}
    html = render_template(
        "grants/awards/grant.html", grant=grant, figures=grant_figures(grant.id), tranches=tranche_rows(grant),
        events=events, refunds=refunds, actors=actors, errors=errors or {}, form=form or {}, open_form=open_form,
        transitions=GRANT_WORKFLOW.available(grant, current_user), can_edit=can_edit(current_user, grant),
        disbursement_actions=lambda d: DISBURSEMENT_WORKFLOW.available(d, current_user),
        approval_blockers=lambda d: approval_blockers(d, current_user),
        payment_blockers=lambda d: payment_blockers(d, current_user),
        overdue=is_overdue, lang=language(), currencies=currency_choices() if current_user.has_any_role(
            FINANCE_OFFICER) else [],
    )
    return html, status


@bp.route("/<int:grant_id>")
@access(*GRANT_READERS)
def grant_detail(grant_id: int):
    # Read once, with its budget lines and reports joined (reports without their results and expenses).
    grant = db.session.execute(select(Grant).where(Grant.id == grant_id).options(*reads.GRANT_PAGE)
                               ).unique().scalar_one_or_none()
    return _grant_page(ensure_view(grant), fresh=False)


@bp.route("/<int:grant_id>/agreement.pdf")
@access(*GRANT_READERS)
def agreement_pdf(grant_id: int):
    """The grant agreement as PDF, in English or French (``?lang=fr``; the reader's language by default)."""
    from grants.awards.agreement import render_agreement

    grant = ensure_view(db.session.get(Grant, grant_id))
    lang = request.args.get("lang") or language()
    if lang not in ("en", "fr"):
        abort(404)
    with force_locale(lang):
        pdf = render_agreement(grant, lang)
    name = f"{grant.number.replace('/', '-')}-agreement-{lang}.pdf"
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store"})


@bp.route("/<int:grant_id>/agreement", methods=["POST"])
@access(APPLICANT)
def upload_agreement(grant_id: int):
    grant = ensure_edit(db.session.get(Grant, grant_id))
    try:
        with translate_upload_errors():
            upload = check_upload(request.files.get("file"))
        operations.upload_signed_agreement(grant, upload, current_user)
    except FundError as exc:
        if exc.status in (403, 413):
            raise
        db.session.rollback()
        return _grant_page(grant, _errors_of(exc), exc.status)
    flash(_("The signed agreement has been uploaded. The fund will countersign it."), "success")
    return redirect(url_for("grants_awards.grant_detail", grant_id=grant.id))


@bp.route("/<int:grant_id>/<any(countersign, suspend, resume, terminate, close):trigger>", methods=["POST"])
@access(FUND_MANAGER)
def grant_transition(grant_id: int, trigger: str):
    grant = ensure_edit(db.session.get(Grant, grant_id))
    try:
        if trigger in ("suspend", "terminate"):
            data = MessageIn().load(request.form.to_dict())
            getattr(operations, trigger)(grant, current_user, data["message"])
        else:
            getattr(operations, trigger)(grant, current_user)
    except ValidationError as exc:
        db.session.rollback()
        return _grant_page(grant, {f"{trigger}-message": flatten_errors(exc.messages).get("message", [])}, 422,
                           open_form=trigger)
    except FundError as exc:
        if exc.status == 403:
            raise
        db.session.rollback()
        return _grant_page(grant, _errors_of(exc), exc.status)
    flash(_("The grant is now “%(status)s”.", status=GRANT_WORKFLOW.label(grant.status)), "success")
    return redirect(url_for("grants_awards.grant_detail", grant_id=grant.id))


def _money_form(*names) -> dict:
    data = {k: v.strip() for k, v in request.form.items() if v.strip() != ""}
    for name in names:
        if name in data:
            data[name] = number(data[name])
    return data


@bp.route("/<int:grant_id>/disbursements", methods=["POST"])
@access(FINANCE_OFFICER)
def request_disbursement(grant_id: int):
    grant = ensure_edit(db.session.get(Grant, grant_id))
    try:
        data = DisbursementIn().load(_money_form("amount"))
        operations.request_disbursement(grant, data["tranche"], data["amount"], current_user, note=data.get("note"))
    except ValidationError as exc:
        db.session.rollback()
        return _grant_page(grant, {f"request-{k}": v for k, v in flatten_errors(exc.messages).items()}, 422,
                           form=request.form, open_form="request")
    except FundError as exc:
        if exc.status == 403:
            raise
        db.session.rollback()
        return _grant_page(grant, _errors_of(exc), exc.status, form=request.form, open_form="request")
    flash(_("The payment has been requested. Another finance officer must approve it."), "success")
    return redirect(url_for("grants_awards.grant_detail", grant_id=grant.id))


@bp.route("/<int:grant_id>/refunds", methods=["POST"])
@access(FINANCE_OFFICER)
def record_refund(grant_id: int):
    grant = ensure_edit(db.session.get(Grant, grant_id))
    try:
        data = RefundIn().load(_money_form("amount"))
        refund = operations.record_refund(grant, data, current_user)
    except ValidationError as exc:
        db.session.rollback()
        return _grant_page(grant, {f"refund-{k}": v for k, v in flatten_errors(exc.messages).items()}, 422,
                           form=request.form, open_form="refund")
    except FundError as exc:
        if exc.status == 403:
            raise
        db.session.rollback()
        errors = {f"refund-{k}": v for k, v in flatten_errors(exc.fields).items()} if exc.fields else \
            {"_action": [exc.message]}
        return _grant_page(grant, errors, exc.status, form=request.form, open_form="refund")
    flash(_("The refund of %(amount)s has been recorded.", amount=money(refund.amount, refund.currency)), "success")
    return redirect(url_for("grants_awards.grant_detail", grant_id=grant.id))


# Disbursements ------------------------------------------------------------------------------------------------

def _back(d: Disbursement) -> str:
    target = request.form.get("next") or ""
    if target.startswith("/grants/awards/") and "//" not in target:
        return target
    return url_for("grants_awards.grant_detail", grant_id=d.grant_id)


def _keep_refused_approval(disbursement_id: int, exc: FundError) -> None:
    """The approval rolled back; its refusal is audited in a transaction of its own."""
    db.session.rollback()
    operations.record_refused_approval(disbursement_id, current_user, exc)
    db.session.commit()


def _refused(d: Disbursement, exc: FundError):
    """A refused action on a disbursement: the grant page with the reason, in the status of the refusal."""
    db.session.rollback()
    grant = db.session.get(Grant, d.grant_id)
    return _grant_page(grant, _errors_of(exc), exc.status)


@bp.route("/disbursements/<int:disbursement_id>/<any(approve, cancel):action>", methods=["POST"])
@access(FINANCE_OFFICER)
def disbursement_action(disbursement_id: int, action: str):
    d = ensure_edit(db.session.get(Disbursement, disbursement_id))
    try:
        if action == "approve":
            operations.approve_disbursement(d, current_user)
        else:
            data = OptionalMessageIn().load({k: v for k, v in request.form.items() if k != "next"})
            operations.cancel_disbursement(d, current_user, data.get("message"))
    except ValidationError as exc:
        return _refused(d, FundError(_("The data sent is not valid."), fields=exc.messages))
    except FundError as exc:
        if action == "approve":
            _keep_refused_approval(disbursement_id, exc)
        return _refused(d, exc)
    flash(_("Disbursement %(id)d is now “%(status)s”.", id=d.id, status=DISBURSEMENT_WORKFLOW.label(d.status)),
          "success")
    return redirect(_back(d))


@bp.route("/disbursements/<int:disbursement_id>/edit", methods=["POST"])
@access(FINANCE_OFFICER)
def edit_disbursement(disbursement_id: int):
    d = ensure_edit(db.session.get(Disbursement, disbursement_id))
    try:
        data = DisbursementEditIn().load({k: v for k, v in _money_form("amount").items() if k != "next"})
        operations.edit_disbursement(d, data["amount"], current_user, note=data.get("note"))
    except ValidationError as exc:
        return _refused(d, FundError(_("The data sent is not valid."),
                                     fields={f"edit-{d.id}-{k}": v for k, v in exc.messages.items()}))
    except FundError as exc:
        return _refused(d, exc)
    flash(_("Disbursement %(id)d has been changed: another finance officer must approve it.", id=d.id), "success")
    return redirect(_back(d))


@bp.route("/disbursements/<int:disbursement_id>/pay", methods=["POST"])
@access(FINANCE_OFFICER)
def pay_disbursement(disbursement_id: int):
    d = ensure_edit(db.session.get(Disbursement, disbursement_id))
    try:
        data = PaymentIn().load({k: v for k, v in _money_form().items() if k != "next"})
        operations.pay_disbursement(d, data["payment_reference"], data["paid_on"], current_user)
    except ValidationError as exc:
        return _refused(d, FundError(_("The data sent is not valid."),
                                     fields={f"pay-{d.id}-{k}": v for k, v in exc.messages.items()}))
    except FundError as exc:
        return _refused(d, exc)
    flash(_("The payment of %(amount)s has been recorded.", amount=money(d.amount, d.currency)), "success")
    return redirect(_back(d))


# Finance screens ----------------------------------------------------------------------------------------------

@bp.route("/finance/approvals")
@access(FINANCE_OFFICER)
def approval_queue():
    """Requests waiting for approval, made (or last changed) by other finance officers."""
    rows = db.session.execute(
        select(Disbursement).options(selectinload(Disbursement.grant))
        .where(Disbursement.status == "requested", Disbursement.requested_by_id != current_user.id,
               (Disbursement.edited_by_id.is_(None)) | (Disbursement.edited_by_id != current_user.id))
        .order_by(Disbursement.requested_at, Disbursement.id)
    ).scalars().all()
    mine = db.session.execute(
        select(Disbursement).options(selectinload(Disbursement.grant))
        .where(Disbursement.status == "requested",
               (Disbursement.requested_by_id == current_user.id) | (Disbursement.edited_by_id == current_user.id))
        .order_by(Disbursement.id)
    ).scalars().all()
    blockers = list_blockers(rows)
    return render_template("grants/awards/approvals.html", rows=rows, mine=mine, blockers=blockers,
                           lang=language())


@bp.route("/finance/payments")
@access(FINANCE_OFFICER)
def payments():
    """Approved disbursements whose payment is to be recorded."""
    rows = db.session.execute(
        select(Disbursement).options(selectinload(Disbursement.grant))
        .where(Disbursement.status == "approved").order_by(Disbursement.approved_at, Disbursement.id)
    ).scalars().all()
    blockers = list_blockers(rows, "pay")
    return render_template("grants/awards/payments.html", rows=rows, blockers=blockers, today=dt.date.today(),
                           lang=language())


@bp.route("/finance/forecast")
@access(*FINANCE_READERS)
def forecast():
    """Cash forecast by month: tranches still to pay against cash and confirmed pledges not yet received."""
    months = request.args.get("months", type=int) or 12
    return render_template("grants/awards/forecast.html", forecast=cash_forecast(min(max(months, 1), 36)),
                           lang=language())


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

    forms_ = {k: count(f"form-{k}") for k in [*FORMS_OF_EXPLOITATION, NOT_RECORDED]}
    assistance = {k: count(f"as-{k}") for k in [*ASSISTANCE_TYPES, NOT_RECORDED]}
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
            label = f"{SEX_LABELS[cell['sex']]}, {AGE_LABELS[cell['age_band']]}"
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
    countries = sorted(report.breakdown(BY_COUNTRY).items())
    html = render_template(
        "grants/awards/report.html", grant=grant, report=report, errors=errors or {}, form=form, status=status,
        warnings={k: v for k, v in warnings.items() if k not in (errors or {})},
        editable=editable, lang=language(), sexes=SEXES, age_bands=AGE_BANDS, sex_labels=SEX_LABELS,
        age_labels=AGE_LABELS, cells=report.breakdown(SEX_AGE), cell_key=cell_key,
        forms=[*FORMS_OF_EXPLOITATION.items(), (NOT_RECORDED, _("Not recorded"))],
        form_counts=report.breakdown(BY_FORM),
        assistance_groups=ASSISTANCE_GROUPS, assistance_counts=report.breakdown(BY_ASSISTANCE),
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
        if exc.status == 403:
            raise
        db.session.rollback()
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
        with translate_upload_errors("audit_file"):
            checked = check_upload(upload, field="audit_file")
        operations.attach_audit_report(report, checked, current_user)
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
        with translate_upload_errors():
            upload = check_upload(request.files.get("file"))
        operations.attach_audit_report(rep, upload, current_user)
    except FundError as exc:
        if exc.status in (403, 413):
            raise
        db.session.rollback()
        return _report_page(db.session.get(GrantReport, report_id), _errors_of(exc), exc.status)
    flash(_("The audit report has been attached."), "success")
    return redirect(url_for("grants_awards.report", report_id=rep.id))


def _report_refused(report_id: int, exc: FundError):
    db.session.rollback()
    report = db.session.get(GrantReport, report_id)
    return _report_page(report, _submission_errors(exc, db.session.get(Grant, report.grant_id), report), exc.status)


@bp.route("/reports/<int:report_id>/submit", methods=["POST"])
@access(APPLICANT)
def submit_report(report_id: int):
    """Submit the report as stored (the report page submits what is typed through its form's second button)."""
    rep = ensure_edit(db.session.get(GrantReport, report_id))
    try:
        operations.submit_report(rep, current_user)
    except FundError as exc:
        if exc.status == 403:
            raise
        return _report_refused(report_id, exc)
    flash(_("The report has been submitted to the fund."), "success")
    return redirect(url_for("grants_awards.report", report_id=rep.id))


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
        if exc.status == 403:
            raise
        return _report_refused(report_id, exc)
    flash(_("The report is now “%(status)s”.", status=REPORT_WORKFLOW.label(rep.status)), "success")
    return redirect(url_for("grants_awards.report", report_id=rep.id))
