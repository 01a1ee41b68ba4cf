"""Portal pages of applications: the applicant's overview, sections, documents, submission and withdrawal, and
the fund's list of applications and return for revision.

Registered on the ``grants`` blueprint (:data:`grants.views.bp`).
"""

from __future__ import annotations

import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import defaultload, joinedload

from fund.db import db
from fund.errors import FundError
from fund.models import ADMIN, APPLICANT, AUDITOR, FUND_MANAGER
from fund.permissions import access, can_edit, ensure_edit, ensure_view
from fund.uploads import check_upload
from fund.views import refusal_errors
from grants import operations
from grants.checklist import SECTIONS, budget_totals, checklist, documents_of_many, indirect_problem
from grants.downloads import document_response, translate_upload_errors
from grants.models import Application, ApplicationEvent, Call, Document
from grants.permissions import member_of
from grants.presenters import documents_of, language, status_for
from grants.schemas import SECTION_FIELDS, ApplicationFields, DocumentIn, ReturnIn
from grants.taxonomies import AGE_BANDS, INDIRECT, SEXES
from grants.views import STAFF_READERS, bp, flatten_errors, form_values, number, perform
from grants.workflow import APPLICATION_WORKFLOW, EDITABLE

APPLICATION_READERS = (APPLICANT, FUND_MANAGER, ADMIN, AUDITOR)
SECTION_ORDER = list(SECTIONS)


# Applications: the applicant's side ---------------------------------------------------------------------------

@bp.route("/calls/<int:call_id>/apply", methods=["POST"])
@access(APPLICANT)
def start_application(call_id: int):
    call = ensure_view(db.session.get(Call, call_id))
    if current_user.organisation_id is None:
        flash(_("Create your organisation profile before applying."), "error")
        return redirect(url_for("grants.new_organisation"))
    existing = operations.existing_application(current_user.organisation_id, call.id)
    if existing is not None:
        flash(_("Your organisation already has an application to this call; only one is allowed."), "error")
        return redirect(url_for("grants.application_overview", application_id=existing.id))
    application = operations.create_application(call, current_user)
    flash(_("Your application has been started. Fill in each section; you can save and come back later."),
          "success")
    return redirect(url_for("grants.application_section", application_id=application.id, section="project"))


def _overview(application: Application, errors: dict | None = None, status: int = 200):
    documents = documents_of_many([application])  # its documents and its organisation's PSEA policy, together
    docs = documents.of(application)
    items = checklist(application, docs, documents.psea(application.organisation_id))
    events = db.session.execute(
        select(ApplicationEvent).where(ApplicationEvent.application_id == application.id)
        .order_by(ApplicationEvent.id)).scalars().all()
    plain = member_of(current_user, application.organisation_id) and not current_user.is_staff
    html = render_template(
        "grants/application.html", a=application, docs=docs, items=items, events=events, lang=language(),
        sections=SECTIONS, editable=application.status in EDITABLE and can_edit(current_user, application),
        status=status_for(current_user, application), plain=plain, totals=budget_totals(application),
        transitions=APPLICATION_WORKFLOW.available(application, current_user), errors=errors or {},
        complete=all(i.done for i in items), sexes=SEXES, age_bands=AGE_BANDS,
        cells={(b.sex, b.age_band): b.count for b in application.beneficiaries},
        ack=next((d for d in reversed(docs) if d.kind == "acknowledgement"), None),
        workflow=APPLICATION_WORKFLOW,
    )
    return html, status


@bp.route("/applications/<int:application_id>")
@access(*APPLICATION_READERS)
def application_overview(application_id: int):
    # The application with its call and organisation (joined by default) and its beneficiary counts in one
    # statement; the call's criteria are not shown.
    application = ensure_view(db.session.execute(
        select(Application).where(Application.id == application_id)
        .options(defaultload(Application.call).lazyload(Call.criteria), joinedload(Application.beneficiaries))
    ).unique().scalar_one_or_none())
    return _overview(application)


def _section_data(section: str) -> tuple[dict, dict]:
    """Read one section's form into loadable data; returns (data, row map for budget error messages)."""
    names = SECTION_FIELDS[section]
    if section == "beneficiaries":
        cells, where = [], {}
        for sex in SEXES:
            for band in AGE_BANDS:
                raw = re.sub(r"[\s\u00a0\u202f]", "", request.form.get(f"b-{sex}-{band}") or "")
                where[len(cells)] = (sex, band)
                cells.append({"sex": sex, "age_band": band, "count": raw or "0"})
        return {"beneficiaries": cells}, where
    if section == "budget":
        lines, rows = [], {}
        indices = sorted({int(m.group(1)) for k in request.form if (m := re.match(r"line-(\d+)-", k))})
        for i in indices:
            if request.form.get(f"line-{i}-remove"):
                continue
            row = {f: (request.form.get(f"line-{i}-{f}") or "").strip()
                   for f in ("category", "description", "quantity", "unit_cost")}
            if not any(row.values()):
                continue
            row["quantity"] = number(row["quantity"]) or None
            row["unit_cost"] = number(row["unit_cost"]) or None
            rows[len(lines)] = i
            lines.append({k: v for k, v in row.items() if v not in ("", None)})
        return {"budget_lines": lines}, rows
    lists = {"countries", "forms_of_exploitation", "assistance_types"}
    data = form_values(names, lists)
    if data.get("duration_months"):
        data["duration_months"] = data["duration_months"].strip()
    return data, {}


def budget_rows(application: Application, form) -> list[dict]:
    """The rows of the budget form: what was posted (when re-shown with errors), else the saved lines, plus
    five empty rows."""
    rows = []
    if form:
        indices = sorted({int(m.group(1)) for k in form if (m := re.match(r"line-(\d+)-", k))})
        for i in indices:
            rows.append({"i": i, "saved": False, "total": None,
                         **{f: form.get(f"line-{i}-{f}", "") for f in ("category", "description", "quantity",
                                                                       "unit_cost")}})
    else:
        for i, line in enumerate(application.budget_lines):
            rows.append({"i": i, "saved": True, "total": line.total, "category": line.category,
                         "description": line.description, "quantity": line.quantity, "unit_cost": line.unit_cost})
    start = max((r["i"] for r in rows), default=-1) + 1
    rows.extend({"i": i, "saved": False, "total": None, "category": "", "description": "", "quantity": "",
                 "unit_cost": ""} for i in range(start, start + (0 if form else 5)))
    return rows


def _section_errors(errors: dict, rows: dict) -> dict:
    """Messages keyed by the names of the inputs on the page: budget_lines-<n>-field -> line-<row>-field;
    beneficiaries-<n>-count -> b-<sex>-<band>, the message naming its cell ("Female, 18–24: ...")."""
    remapped = {}
    for key, msgs in errors.items():
        m = re.match(r"budget_lines-(\d+)-(\w+)", key)
        if m:
            remapped[f"line-{rows[int(m.group(1))]}-{m.group(2)}"] = msgs
            continue
        m = re.match(r"beneficiaries-(\d+)-count", key)
        if m and int(m.group(1)) in rows:
            sex, band = rows[int(m.group(1))]
            remapped[f"b-{sex}-{band}"] = [f"{SEXES[sex]}, {AGE_BANDS[band]}: {msg}" for msg in msgs]
            continue
        remapped[key] = msgs
    return remapped


def _budget_warnings(application: Application) -> dict:
    """Indirect costs over 7 % of direct costs, beside each indirect line (shown as soon as the budget is saved,
    not only when the application is submitted)."""
    problem = indirect_problem(application)
    if not problem:
        return {}
    return {f"line-{i}-unit_cost": [problem] for i, line in enumerate(application.budget_lines)
            if line.category == INDIRECT}


@bp.route("/applications/<int:application_id>/sections/<section>", methods=["GET", "POST"])
@access(APPLICANT)
def application_section(application_id: int, section: str):
    """One section of the form; each saves on its own, so the form can be filled over several visits."""
    application = ensure_edit(db.session.get(Application, application_id))
    if section not in SECTIONS:
        abort(404)
    if application.status not in EDITABLE:
        flash(_("The application has been submitted and can no longer be changed."), "error")
        return redirect(url_for("grants.application_overview", application_id=application.id))
    errors: dict = {}
    form = None
    if request.method == "POST":
        if section == "documents":
            abort(405)
        data, rows = _section_data(section)
        try:
            loaded = ApplicationFields(only=SECTION_FIELDS[section]).load(data)
            operations.update_application(application, loaded, current_user)
        except ValidationError as exc:
            errors = flatten_errors(exc.messages)
            form = request.form
        except FundError as exc:
            if not exc.fields:
                raise
            errors = flatten_errors(exc.fields)
            form = request.form
        if errors and rows:
            errors = _section_errors(errors, rows)
        if not errors:
            flash(_("Saved."), "success")
            if request.form.get("after") == "next" and not (section == "budget" and indirect_problem(application)):
                following = SECTION_ORDER[SECTION_ORDER.index(section) + 1]
                return redirect(url_for("grants.application_section", application_id=application.id,
                                        section=following))
            return redirect(url_for("grants.application_section", application_id=application.id, section=section))
    docs = documents_of(application) if section == "documents" else []
    rows_ = budget_rows(application, form) if section == "budget" else []
    html = render_template(
        f"grants/sections/{section}.html", a=application, section=section, sections=SECTIONS, errors=errors,
        form=form, lang=language(), docs=docs, sexes=SEXES, age_bands=AGE_BANDS,
        cells={(b.sex, b.age_band): b.count for b in application.beneficiaries},
        totals=budget_totals(application), items=checklist(application), budget_rows=rows_,
        next_section=SECTION_ORDER[SECTION_ORDER.index(section) + 1] if section != SECTION_ORDER[-1] else None,
        warnings=_budget_warnings(application) if section == "budget" and not form else {},
    )
    return html, (422 if errors else 200)


@bp.route("/applications/<int:application_id>/documents", methods=["POST"])
@access(APPLICANT)
def upload_document(application_id: int):
    application = ensure_edit(db.session.get(Application, application_id))
    operations.ensure_editable(application)
    try:
        data = DocumentIn().load({k: v for k, v in request.form.items()})
        with translate_upload_errors():
            upload = check_upload(request.files.get("file"))
        doc = operations.add_document(application, upload, data["kind"], current_user,
                                      sent_name=request.files["file"].filename)
    except ValidationError as exc:
        errors = flatten_errors(exc.messages)
    except FundError as exc:
        errors = refusal_errors(exc, field="file", passes=(413,))
    else:
        flash(_("%(name)s has been uploaded.", name=doc.filename), "success")
        return redirect(url_for("grants.application_section", application_id=application.id, section="documents"))
    html = render_template("grants/sections/documents.html", a=application, section="documents", sections=SECTIONS,
                           errors=errors, form=request.form, lang=language(), docs=documents_of(application),
                           items=checklist(application), next_section=None)
    return html, 422


@bp.route("/documents/<int:document_id>/delete", methods=["POST"])
@access(APPLICANT)
def delete_document(document_id: int):
    doc = ensure_edit(db.session.get(Document, document_id))
    target = (url_for("grants.application_section", application_id=doc.application_id, section="documents")
              if doc.application_id else url_for("grants.organisation", organisation_id=doc.organisation_id))
    operations.delete_document(doc, current_user)
    flash(_("The document has been removed."), "success")
    return redirect(target)


@bp.route("/documents/<int:document_id>")
@access(*APPLICATION_READERS)
def download_document(document_id: int):
    doc = ensure_view(db.session.get(Document, document_id))
    return document_response(doc)


@bp.route("/applications/<int:application_id>/submit", methods=["POST"])
@access(APPLICANT)
def submit_application(application_id: int):
    """Submit the application: refused on its overview (422, or 409) with what is still missing."""
    application = ensure_edit(db.session.get(Application, application_id))

    def refused(exc: FundError):
        problems = refusal_errors(exc).get("_schema") or [exc.message]
        return _overview(db.session.get(Application, application_id), {"submit": problems},
                         409 if exc.status == 409 else 422)

    return perform(lambda: operations.submit_application(application, current_user),
                   lambda: _("Your application has been submitted. Reference: %(ref)s.", ref=application.reference),
                   url_for("grants.application_overview", application_id=application.id), refused)


@bp.route("/applications/<int:application_id>/withdraw", methods=["POST"])
@access(APPLICANT)
def withdraw_application(application_id: int):
    application = ensure_edit(db.session.get(Application, application_id))
    if request.form.get("confirm") != "yes":
        return _overview(application, {"withdraw": [_("Tick the box to confirm that you want to withdraw.")]}, 422)
    operations.withdraw_application(application, current_user, request.form.get("message") or None)
    flash(_("The application has been withdrawn."), "success")
    return redirect(url_for("grants.application_overview", application_id=application.id))


# Applications: the fund's side --------------------------------------------------------------------------------

@bp.route("/applications")
@access(*STAFF_READERS)
def applications():
    query = select(Application).order_by(Application.id.desc())
    call_id = request.args.get("call_id", type=int)
    status = request.args.get("status") or None
    if call_id:
        query = query.where(Application.call_id == call_id)
    if status in APPLICATION_WORKFLOW.states:
        query = query.where(Application.status == status)
    page = db.paginate(query, per_page=50, error_out=False)
    calls_ = db.session.execute(select(Call).order_by(Call.opens_at.desc())).scalars().all()
    return render_template("grants/applications.html", page=page, calls=calls_, lang=language(),
                           workflow=APPLICATION_WORKFLOW, call_id=call_id, status=status)


@bp.route("/applications/<int:application_id>/return", methods=["POST"])
@access(FUND_MANAGER)
def return_application(application_id: int):
    application = ensure_view(db.session.get(Application, application_id))
    try:
        data = ReturnIn().load(request.form.to_dict())
    except ValidationError as exc:
        return _overview(application, {"return": flatten_errors(exc.messages).get("message", [])}, 422)
    operations.return_application(application, data["message"], current_user)
    flash(_("The application has been returned to the organisation for revision."), "success")
    return redirect(url_for("grants.application_overview", application_id=application.id))
