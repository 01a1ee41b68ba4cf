"""Portal pages of the grants package: public calls, the applicant portal, calls and applications for the fund.

Plain HTML forms that work without JavaScript, parsed with marshmallow; each page re-shows its form with the
messages beside the fields (status 422) when something is wrong. Permission is checked once per view.
"""

from __future__ import annotations

import re
from datetime import datetime

from babel.numbers import NumberFormatError, parse_decimal
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import to_user_timezone, to_utc
from flask_login import current_user
from flask_security import login_user
from marshmallow import ValidationError, fields, validate
from sqlalchemy import func, select
from sqlalchemy.orm import defaultload, joinedload

from fund.db import db, utcnow
from fund.errors import FundError
from fund.models import ADMIN, APPLICANT, AUDITOR, FINANCE_OFFICER, FUND_MANAGER, User
from fund.permissions import access, can_edit, ensure_edit, ensure_view, public
from fund.schemas import InSchema
from fund.uploads import check_upload
from grants import operations, payee
from grants.checklist import (
    SECTIONS,
    budget_totals,
    checklist,
    documents_of_many,
    indirect_problem,
    organisation_missing,
    psea_policy,
)
from grants.downloads import document_response, translate_upload_errors
from grants.models import (
    Application,
    ApplicationEvent,
    BankDetailsChange,
    Call,
    Document,
    Invitation,
    Organisation,
    OrganisationAdmin,
)
from grants.permissions import can_see_bank_details, is_org_admin, member_of
from grants.presenters import documents_of, language, status_for
from grants.schemas import (
    SECTION_FIELDS,
    AcceptInvitationIn,
    ApplicationFields,
    CallIn,
    DocumentIn,
    InvitationIn,
    OrganisationIn,
    ReturnIn,
)
from grants.taxonomies import AGE_BANDS, INDIRECT, SEXES
from grants.workflow import APPLICATION_WORKFLOW, CALL_WORKFLOW, EDITABLE

bp = Blueprint("grants", __name__, url_prefix="/grants")

STAFF_READERS = (FUND_MANAGER, ADMIN, AUDITOR)
APPLICATION_READERS = (APPLICANT, FUND_MANAGER, ADMIN, AUDITOR)
ORGANISATION_READERS = (APPLICANT, FUND_MANAGER, FINANCE_OFFICER, ADMIN, AUDITOR)
SECTION_ORDER = list(SECTIONS)


# Form helpers -------------------------------------------------------------------------------------------------

_MESSAGES = {
    "Missing data for required field.": lambda: _("This field is required."),
    "Field may not be null.": lambda: _("This field is required."),
    "Not a valid integer.": lambda: _("Enter a whole number."),
    "Not a valid date.": lambda: _("Enter a date (YYYY-MM-DD)."),
    "Not a valid datetime.": lambda: _("Enter a date and time."),
    "Not a valid email address.": lambda: _("Enter a valid e-mail address."),
    "Not a valid URL.": lambda: _("Enter a web address starting with https://."),
    "Not a valid ISO 3166-1 alpha-2 country code.": lambda: _("Choose a country from the list."),
    "Must be greater than zero.": lambda: _("Must be greater than zero."),
    "At most 2 decimal places.": lambda: _("At most 2 decimal places."),
}


def translate(message: str) -> str:
    if message in _MESSAGES:
        return _MESSAGES[message]()
    if message.startswith("Must be one of"):
        return _("Choose one of the options.")
    if message.startswith("Not a valid"):
        return _("This value is not valid.")
    m = re.match(r"Longer than maximum length (\d+)\.", message)
    if m:
        return _("Too long: at most %(n)s characters.", n=m.group(1))
    m = re.match(r"Shorter than minimum length (\d+)\.", message)
    if m:
        return _("Too short: at least %(n)s characters.", n=m.group(1))
    if message.startswith("Must be greater than or equal to") or message.startswith("Must be less than"):
        return _("This number is out of range.")
    return message


def flatten_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as ``{"field": [...], "lines-0-quantity": [...]}`` for the templates."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, list):
        if messages and all(isinstance(m, str) for m in messages):
            out[prefix or "_schema"] = [translate(m) for m in messages]
        else:
            for i, m in enumerate(messages):
                out.update(flatten_errors(m, f"{prefix}-{i}" if prefix else str(i)))
    elif isinstance(messages, dict):
        for key, value in messages.items():
            out.update(flatten_errors(value, f"{prefix}-{key}" if prefix else str(key)))
    else:
        out[prefix or "_schema"] = [translate(str(messages))]
    return out


def form_values(names, lists=()) -> dict:
    data = {}
    for name in names:
        if name in lists:
            data[name] = [v.strip() for v in request.form.getlist(name) if v.strip()]
        else:
            value = request.form.get(name, "").strip()
            data[name] = value if value != "" else None
    return data


def number(text: str | None) -> str | None:
    """Read a number as people write it, into a plain decimal string (Decimal, never float): "14 400,00" in
    French and "14,400.00" in English are both "14400.00". Babel reads it in the user's language first, then in
    the other language of the portal ("14400,50" typed on the English pages is 14400.50; "1,500" is 1500 in
    English and 1.5 in French); with both separators ("14.400,00"), the last one is the decimal point. What
    reads as no number is returned as typed, for the schema to refuse beside the field."""
    if text is None:
        return None
    text = re.sub(r"[\s\u00a0\u202f']", "", text)
    if not re.fullmatch(r"[-+]?[\d.,]*\d[\d.,]*", text):
        return text
    lang = language()
    for locale in (lang, "fr" if lang == "en" else "en"):
        try:
            return str(parse_decimal(text, locale=locale, strict=True))
        except NumberFormatError:
            continue
    if "," in text and "." in text:
        point = max(text.rfind(","), text.rfind("."))
        return text[:point].replace(",", "").replace(".", "") + "." + text[point + 1:]
    return text


def _drop_none(data: dict, required: tuple = ()) -> dict:
    return {k: v for k, v in data.items() if v is not None or k not in required}


# Public pages -------------------------------------------------------------------------------------------------

@bp.route("/calls")
@public
def calls():
    """The calls for proposals open now (no sign-in needed)."""
    now = utcnow()
    rows = db.session.execute(
        select(Call).where(Call.status == "open", Call.closes_at > now).order_by(Call.closes_at)
    ).scalars().all()
    return render_template("grants/calls.html", calls=rows, lang=language(), now=now)


@bp.route("/calls/<int:call_id>")
@public
def call_detail(call_id: int):
    call = db.session.get(Call, call_id)
    if call is None or (call.status == "draft" and not (current_user.is_authenticated
                                                        and current_user.has_any_role(FUND_MANAGER, ADMIN, AUDITOR))):
        abort(404)
    existing = None
    if current_user.is_authenticated and current_user.has_any_role(APPLICANT) and current_user.organisation_id:
        existing = operations.existing_application(current_user.organisation_id, call.id)
    return render_template("grants/call.html", call=call, lang=language(), now=utcnow(), existing=existing)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token: str):
    """Join an organisation: the invited person creates their account here, or links their applicant account."""
    inv = operations.load_invitation(token)
    errors: dict = {}
    signed_in = current_user.is_authenticated
    if request.method == "POST":
        try:
            if signed_in:
                user = operations.accept_invitation(token, user=current_user)
            else:
                data = AcceptInvitationIn().load(request.form.to_dict())
                user = operations.accept_invitation(token, name=data["name"], password=data["password"],
                                                    language=language())
                login_user(user, authn_via=["invitation"])
        except ValidationError as exc:
            errors = flatten_errors(exc.messages)
        except FundError as exc:
            if exc.fields:
                errors = {k: v if isinstance(v, list) else [str(v)] for k, v in exc.fields.items()}
            else:
                raise
        else:
            flash(_("Welcome: you are now a member of %(org)s.", org=inv.organisation.name), "success")
            return redirect(url_for("grants.applicant_home"))
    account_exists = db.session.execute(select(User.id).where(User.email == inv.email)).first() is not None
    html = render_template("grants/invitation.html", inv=inv, token=token, errors=errors, signed_in=signed_in,
                           account_exists=account_exists, form=request.form)
    return html, (422 if errors else 200)


# The applicant's home -----------------------------------------------------------------------------------------

@bp.route("/portal")
@access(APPLICANT)
def applicant_home():
    """The applicant dashboard: organisation profile and its completeness, applications, the fund's requests."""
    org = db.session.get(Organisation, current_user.organisation_id) if current_user.organisation_id else None
    applications, requests_, missing, members = [], [], [], []
    if org is not None:
        applications = db.session.execute(
            select(Application).where(Application.organisation_id == org.id).order_by(Application.id.desc())
        ).scalars().all()
        requests_ = operations.open_requests(org.id)
        missing = organisation_missing(org)
    open_calls = db.session.execute(
        select(Call).where(Call.status == "open", Call.closes_at > utcnow()).order_by(Call.closes_at)
    ).scalars().all()
    applied = {a.call_id for a in applications}
    return render_template("grants/portal.html", org=org, applications=applications, requests=requests_,
                           missing=missing, open_calls=open_calls, applied=applied, lang=language(),
                           status_for=status_for, members=members)


# Organisations ------------------------------------------------------------------------------------------------

ORG_FIELDS = tuple(OrganisationIn().fields)


@bp.route("/organisation/new", methods=["GET", "POST"])
@access(APPLICANT)
def new_organisation():
    if current_user.organisation_id:
        return redirect(url_for("grants.organisation", organisation_id=current_user.organisation_id))
    errors: dict = {}
    if request.method == "POST":
        try:
            data = OrganisationIn().load(_drop_none(form_values(ORG_FIELDS), ("name", "country", "org_type")))
            org = operations.create_organisation(current_user, data)
        except ValidationError as exc:
            errors = flatten_errors(exc.messages)
        else:
            flash(_("Your organisation's profile has been created."), "success")
            return redirect(url_for("grants.organisation", organisation_id=org.id))
    html = render_template("grants/organisation_form.html", org=None, form=request.form, errors=errors,
                           lang=language())
    return html, (422 if errors else 200)


@bp.route("/organisations")
@access(FUND_MANAGER, FINANCE_OFFICER, ADMIN, AUDITOR)
def organisations():
    page = db.paginate(select(Organisation).order_by(Organisation.name), per_page=50, error_out=False)
    return render_template("grants/organisations.html", page=page, lang=language())


def _organisation_page(org: Organisation, errors: dict | None = None, status: int = 200, bank: dict | None = None):
    # The people and which of them administer the organisation, in one statement (their roles are not shown).
    members = db.session.execute(
        select(User.id, User.name, User.email, OrganisationAdmin.user_id.is_not(None).label("admin"))
        .outerjoin(OrganisationAdmin, (OrganisationAdmin.user_id == User.id)
                   & (OrganisationAdmin.organisation_id == org.id))
        .where(User.organisation_id == org.id).order_by(User.email)).all()
    admins = {m.id for m in members if m.admin}
    psea = psea_policy(org.id)
    invitations = []
    is_admin = is_org_admin(current_user, org.id)
    if is_admin:
        invitations = db.session.execute(
            select(Invitation).where(Invitation.organisation_id == org.id, Invitation.accepted_at.is_(None),
                                     Invitation.expires_at > utcnow()).order_by(Invitation.id.desc())
        ).scalars().all()
    html = render_template(
        "grants/organisation.html", org=org, members=members, admins=admins, invitations=invitations,
        is_admin=is_admin, missing=organisation_missing(org, psea), psea=psea, errors=errors or {},
        bank=bank or operations.bank_details(org, full=False), can_see_bank=can_see_bank_details(current_user),
        lang=language(), bank_change=payee.pending_change(org.id), mask=operations.mask,
        bank_history_reader=current_user.has_any_role(*BANK_HISTORY_READERS),
    )
    return html, status


@bp.route("/organisations/<int:organisation_id>")
@access(*ORGANISATION_READERS)
def organisation(organisation_id: int):
    org = ensure_view(db.session.get(Organisation, organisation_id))
    return _organisation_page(org)


@bp.route("/organisations/<int:organisation_id>/bank-details")
@access(FINANCE_OFFICER)
def bank_details(organisation_id: int):
    """Full bank details, for finance officers; each view is recorded in the audit trail."""
    org = ensure_view(db.session.get(Organisation, organisation_id))
    return _organisation_page(org, bank=operations.bank_details(org, full=True, actor=current_user))


BANK_HISTORY_READERS = (FINANCE_OFFICER, AUDITOR, ADMIN)


class BankDecisionIn(InSchema):
    action = fields.String(required=True, validate=validate.OneOf(["verify", "reject"]))
    callback_note = fields.String(load_default="", validate=validate.Length(max=2000))
    decision_note = fields.String(load_default="", validate=validate.Length(max=2000))
    csrf_token = fields.String()


@bp.route("/organisations/<int:organisation_id>/bank-details/history")
@access(*BANK_HISTORY_READERS)
def bank_history(organisation_id: int):
    """Every version of the organisation's bank account (numbers masked), who asked, who verified and how."""
    org = ensure_view(db.session.get(Organisation, organisation_id))
    rows = payee.history(org.id)
    people = _people({r.requested_by_id for r in rows} | {r.decided_by_id for r in rows})
    return render_template("grants/bank_history.html", org=org, rows=rows, people=people, mask=operations.mask)


@bp.route("/bank-details/pending")
@access(FINANCE_OFFICER)
def pending_bank_changes():
    rows = db.session.execute(
        select(BankDetailsChange, Organisation.name).join(Organisation, Organisation.id ==
                                                          BankDetailsChange.organisation_id)
        .where(BankDetailsChange.status == payee.PENDING).order_by(BankDetailsChange.requested_at)
    ).all()
    return render_template("grants/bank_pending.html", rows=rows, mask=operations.mask)


@bp.route("/bank-details/changes/<int:change_id>", methods=["GET", "POST"])
@access(FINANCE_OFFICER)
def bank_change(change_id: int):
    """A pending change of bank details, in full beside the account in force (the view is audited); verify it
    after a call-back, or reject it."""
    change = db.get_or_404(BankDetailsChange, change_id)
    org = ensure_view(db.session.get(Organisation, change.organisation_id))
    errors: dict = {}
    status = 200
    if request.method == "POST":
        try:
            data = BankDecisionIn().load(request.form.to_dict())
            if data["action"] == "verify":
                payee.verify_change(change, current_user, data["callback_note"])
                flash(_("The new bank details are verified: payments go to them from now on."), "success")
            else:
                payee.reject_change(change, current_user, data["decision_note"])
                flash(_("The change of bank details is rejected: payments resume to the verified account."),
                      "success")
        except ValidationError as exc:
            errors, status = flatten_errors(exc.messages), 422
        except FundError as exc:
            errors, status = (exc.fields or {"_schema": [exc.message]}), exc.status
        else:
            return redirect(url_for("grants.bank_history", organisation_id=org.id))
    current = operations.bank_details(org, full=True, actor=current_user)
    people = _people({change.requested_by_id, change.decided_by_id})
    html = render_template("grants/bank_change.html", org=org, change=change, current=current, people=people,
                           errors=errors, form=request.form if errors else {})
    return html, status


def _people(ids) -> dict:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {u.id: u.email for u in db.session.execute(select(User).where(User.id.in_(ids))).scalars()}


@bp.route("/organisations/<int:organisation_id>/edit", methods=["GET", "POST"])
@access(APPLICANT)
def edit_organisation(organisation_id: int):
    org = ensure_edit(db.session.get(Organisation, organisation_id))
    errors: dict = {}
    if request.method == "POST":
        try:
            data = OrganisationIn().load(_drop_none(form_values(ORG_FIELDS), ("name", "country", "org_type")))
            operations.update_organisation(org, data, current_user)
        except ValidationError as exc:
            errors = flatten_errors(exc.messages)
        else:
            flash(_("The organisation profile has been saved."), "success")
            return redirect(url_for("grants.organisation", organisation_id=org.id))
    html = render_template("grants/organisation_form.html", org=org, form=request.form if errors else None,
                           errors=errors, lang=language(), bank=operations.bank_details(org, full=False))
    return html, (422 if errors else 200)


@bp.route("/organisations/<int:organisation_id>/psea", methods=["POST"])
@access(APPLICANT)
def upload_psea(organisation_id: int):
    org = ensure_edit(db.session.get(Organisation, organisation_id))
    try:
        with translate_upload_errors():
            upload = check_upload(request.files.get("file"))
    except FundError as exc:
        if exc.status == 413:
            raise
        return _organisation_page(org, {"file": exc.fields.get("file", [exc.message])}, 422)
    operations.store_psea_policy(org, upload, current_user)
    flash(_("The safeguarding policy has been uploaded."), "success")
    return redirect(url_for("grants.organisation", organisation_id=org.id))


@bp.route("/organisations/<int:organisation_id>/invitations", methods=["POST"])
@access(APPLICANT)
def invite_member(organisation_id: int):
    org = ensure_edit(db.session.get(Organisation, organisation_id))
    try:
        data = InvitationIn().load(request.form.to_dict())
        inv, _token = operations.invite(org, data["email"], current_user)
    except ValidationError as exc:
        return _organisation_page(org, flatten_errors(exc.messages), 422)
    except FundError as exc:
        if not exc.fields:
            raise
        return _organisation_page(org, exc.fields, 422)
    flash(_("An invitation has been sent to %(email)s.", email=inv.email), "success")
    return redirect(url_for("grants.organisation", organisation_id=org.id))


@bp.route("/organisations/<int:organisation_id>/members/<int:user_id>/admin", methods=["POST"])
@access(APPLICANT)
def promote_member(organisation_id: int, user_id: int):
    org = ensure_edit(db.session.get(Organisation, organisation_id))
    user = db.session.get(User, user_id)
    if user is None or user.organisation_id != org.id:
        abort(404)
    operations.promote_admin(org, user, current_user)
    flash(_("%(email)s can now manage the organisation.", email=user.email), "success")
    return redirect(url_for("grants.organisation", organisation_id=org.id))


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
        if exc.status == 413:
            raise
        db.session.rollback()
        errors = {k: v if isinstance(v, list) else [str(v)] for k, v in exc.fields.items()} or {"file": [exc.message]}
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
    application = ensure_edit(db.session.get(Application, application_id))
    try:
        operations.submit_application(application, current_user)
    except FundError as exc:
        if exc.status == 403:
            raise
        db.session.rollback()
        application = db.session.get(Application, application_id)
        problems = exc.fields.get("_schema") or [exc.message]
        return _overview(application, {"submit": problems}, 409 if exc.status == 409 else 422)
    flash(_("Your application has been submitted. Reference: %(ref)s.", ref=application.reference), "success")
    return redirect(url_for("grants.application_overview", application_id=application.id))


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


# Calls for proposals: the fund's side ---------------------------------------------------------------------------

CALL_TEXT = ("title_en", "title_fr", "description_en", "description_fr", "window", "envelope", "min_grant",
             "max_grant", "max_duration_months")
CRITERIA_ROWS = 8


def _local_input(value: datetime | None) -> str:
    return to_user_timezone(value).strftime("%Y-%m-%dT%H:%M") if value else ""


def _call_form_data() -> tuple[dict, dict]:
    data = form_values(CALL_TEXT)
    for key in ("envelope", "min_grant", "max_grant"):
        data[key] = number(data[key])
    for key in ("opens_at", "closes_at"):
        raw = (request.form.get(key) or "").strip()
        data[key] = None
        if raw:
            try:
                local = datetime.fromisoformat(raw.replace(" ", "T"))
            except ValueError:
                data[key] = raw  # the schema reports it
            else:
                data[key] = to_utc(local.replace(tzinfo=None)).isoformat() + "+00:00"
    data["eligible_countries"] = [c for c in request.form.getlist("eligible_countries") if c]
    data["priority_forms"] = request.form.getlist("priority_forms")
    data["required_documents"] = request.form.getlist("required_documents")
    criteria, rows = [], {}
    for i in range(CRITERIA_ROWS):
        row = {f: (request.form.get(f"criterion-{i}-{f}") or "").strip() for f in ("name_en", "name_fr", "weight")}
        if any(row.values()):
            rows[len(criteria)] = i
            criteria.append({k: v for k, v in row.items() if v})
    data["criteria"] = criteria
    return {k: v for k, v in data.items() if v is not None and v != ""}, rows


def _call_form(call: Call | None, errors: dict, status: int = 200):
    html = render_template("grants/call_form.html", call=call, form=request.form if errors else None, errors=errors,
                           lang=language(), local=_local_input, rows=CRITERIA_ROWS)
    return html, status


def _load_call_form():
    data, rows = _call_form_data()
    try:
        return CallIn().load(data), {}
    except ValidationError as exc:
        errors = flatten_errors(exc.messages)
        remapped = {}
        for key, msgs in errors.items():
            m = re.match(r"criteria-(\d+)-(\w+)", key)
            remapped[f"criterion-{rows.get(int(m.group(1)), 0)}-{m.group(2)}" if m else key] = msgs
        return None, remapped


@bp.route("/manage/calls")
@access(*STAFF_READERS)
def manage_calls():
    rows = db.session.execute(select(Call).order_by(Call.opens_at.desc(), Call.id.desc())).scalars().all()
    counts = dict(db.session.execute(
        select(Application.call_id, func.count()).where(Application.status != "draft")
        .group_by(Application.call_id)).all())
    return render_template("grants/manage_calls.html", calls=rows, counts=counts, lang=language(),
                           workflow=CALL_WORKFLOW)


@bp.route("/manage/calls/new", methods=["GET", "POST"])
@access(FUND_MANAGER)
def new_call():
    if request.method == "GET":
        return _call_form(None, {})
    data, errors = _load_call_form()
    if errors:
        return _call_form(None, errors, 422)
    call = operations.create_call(data, current_user)
    flash(_("The call has been created as a draft."), "success")
    return redirect(url_for("grants.call_detail", call_id=call.id))


@bp.route("/manage/calls/<int:call_id>/edit", methods=["GET", "POST"])
@access(FUND_MANAGER)
def edit_call(call_id: int):
    call = ensure_edit(db.session.get(Call, call_id))
    if call.status != "draft":
        flash(_("Only a draft call can be changed."), "error")
        return redirect(url_for("grants.call_detail", call_id=call.id))
    if request.method == "GET":
        return _call_form(call, {})
    data, errors = _load_call_form()
    if errors:
        return _call_form(call, errors, 422)
    operations.update_call(call, data, current_user)
    flash(_("The call has been saved."), "success")
    return redirect(url_for("grants.call_detail", call_id=call.id))


@bp.route("/manage/calls/<int:call_id>/<any(open, close, decide):trigger>", methods=["POST"])
@access(FUND_MANAGER)
def call_transition(call_id: int, trigger: str):
    call = ensure_edit(db.session.get(Call, call_id))
    operations.call_transition(call, trigger, current_user)
    flash(_("The call is now “%(status)s”.", status=CALL_WORKFLOW.label(call.status)), "success")
    return redirect(url_for("grants.call_detail", call_id=call.id))
