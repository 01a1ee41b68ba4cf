"""Portal pages of the grants package: the ``grants`` blueprint, the form helpers its pages share, the public
calls, the applicant's home and the fund's management of calls. The organisations' pages are in
:mod:`grants.organisation_pages`, the applications' in :mod:`grants.application_pages`, on the same blueprint.

Plain HTML forms that work without JavaScript, parsed with marshmallow; each page re-shows its form with the
messages beside the fields (status 422) when something is wrong. Permission is checked once per view.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from babel.numbers import NumberFormatError, parse_decimal
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import to_user_timezone, to_utc
from flask_login import current_user
from flask_security import login_user
from marshmallow import ValidationError
from sqlalchemy import func, select

from fund.db import db, utcnow
from fund.errors import FundError
from fund.models import ADMIN, APPLICANT, AUDITOR, FUND_MANAGER, User
from fund.permissions import access, ensure_edit, public
from grants import operations
from grants.checklist import organisation_missing
from grants.models import Application, Call, Organisation
from grants.presenters import language, status_for
from grants.schemas import AcceptInvitationIn, CallIn
from grants.workflow import CALL_WORKFLOW

bp = Blueprint("grants", __name__, url_prefix="/grants")

STAFF_READERS = (FUND_MANAGER, ADMIN, AUDITOR)


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


def perform(operation: Callable[[], object], done: str | Callable[[], str], target: str,
            refused: Callable[[FundError], object] | None = None):
    """A page's action on one object: run ``operation``, flash ``done`` (or what ``done()`` says once it has run)
    and go to ``target``. Its refusal is ``refused(exc)`` (the page again) when given, else the error pages'."""
    try:
        operation()
    except FundError as exc:
        if refused is None:
            raise
        return refused(exc)
    flash(done() if callable(done) else done, "success")
    return redirect(target)


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
    """Open, close or mark decided a call (its workflow's guards apply)."""
    call = ensure_edit(db.session.get(Call, call_id))
    return perform(lambda: operations.call_transition(call, trigger, current_user),
                   lambda: _("The call is now “%(status)s”.", status=CALL_WORKFLOW.label(call.status)),
                   url_for("grants.call_detail", call_id=call.id))
