"""Core portal pages: home, dashboard, language, API tokens, users (admin), audit trail (auditor, admin)."""

from __future__ import annotations

import csv
import io

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from marshmallow import ValidationError, fields, validate
from sqlalchemy import select

from fund import audit, operations, privacy
from fund.db import db
from fund.errors import FundError
from fund.models import ADMIN, AUDITOR, ROLES, ApiToken, User
from fund.permissions import ANY_ROLE, access, public
from fund.schemas import AuditQuery, InSchema

bp = Blueprint("fund", __name__)

#: Links that domain packages add to the dashboard: (roles, endpoint, label).
DASHBOARD_LINKS: list[tuple[frozenset, str, object]] = []


def dashboard_link(roles, endpoint: str, label) -> None:
    DASHBOARD_LINKS.append((frozenset(roles), endpoint, label))


def form_errors(exc: ValidationError) -> dict:
    return {k: v if isinstance(v, list) else [str(v)] for k, v in exc.messages.items()}


@bp.route("/")
@public
def index():
    return render_template("fund/index.html")


@bp.route("/dashboard")
@access(ANY_ROLE)
def dashboard():
    links = [(endpoint, label) for roles, endpoint, label in DASHBOARD_LINKS if current_user.has_any_role(*roles)]
    return render_template("fund/dashboard.html", links=links)


class LanguageIn(InSchema):
    lang = fields.String(required=True, validate=validate.OneOf(["en", "fr"]))
    next = fields.String(load_default="/")
    csrf_token = fields.String()


@bp.route("/language", methods=["POST"])
@public
def set_language():
    try:
        data = LanguageIn().load(request.form.to_dict())
    except ValidationError:
        abort(400)
    session["lang"] = data["lang"]
    if current_user.is_authenticated:
        operations.set_language(current_user, data["lang"])
    target = data["next"]
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    return redirect(target)


class TokenIn(InSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    csrf_token = fields.String()


@bp.route("/account/tokens", methods=["GET", "POST"])
@access(ANY_ROLE)
def tokens():
    errors, new_secret = {}, None
    if request.method == "POST":
        try:
            data = TokenIn().load(request.form.to_dict())
            _token, new_secret = operations.create_token(current_user, data["name"], actor=current_user)
        except ValidationError as exc:
            errors = form_errors(exc)
        except FundError as exc:
            errors = exc.fields
    rows = db.session.execute(
        select(ApiToken).where(ApiToken.user_id == current_user.id).order_by(ApiToken.id.desc())
    ).scalars().all()
    status = 422 if errors else 200
    return render_template("fund/tokens.html", tokens=rows, errors=errors, new_secret=new_secret), status


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@access(ANY_ROLE)
def revoke_token(token_id: int):
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    operations.revoke_token(token, actor=current_user)
    flash(_("The token has been revoked."), "success")
    return redirect(url_for("fund.tokens"))


class UserIn(InSchema):
    email = fields.Email(required=True)
    name = fields.String(load_default=None, validate=validate.Length(max=200))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    password = fields.String(required=True, validate=validate.Length(min=10, max=200))
    organisation_id = fields.Integer(load_default=None, allow_none=True)
    donor_id = fields.Integer(load_default=None, allow_none=True)
    csrf_token = fields.String()


@bp.route("/admin/users")
@access(ADMIN, AUDITOR)
def users():
    return _users_page({}, {})


@bp.route("/admin/users", methods=["POST"])
@access(ADMIN)
def create_user():
    form = request.form.to_dict()
    raw = {k: v for k, v in form.items() if v != ""}
    try:
        data = UserIn().load(raw)
        data.pop("csrf_token", None)
        user = operations.create_user(data.pop("email"), data.pop("role"), data.pop("password"), actor=current_user,
                                      **data)
    except ValidationError as exc:
        return _users_page(form_errors(exc), form)
    except FundError as exc:
        return _users_page(exc.fields, form)
    flash(_("User %(email)s created.", email=user.email), "success")
    return redirect(url_for("fund.users"))


class AnonymiseIn(InSchema):
    email = fields.Email(required=True)
    confirm = fields.String(required=True, validate=validate.Equal("yes", error=_l("Tick the box to confirm.")))
    csrf_token = fields.String()


@bp.route("/admin/users/anonymise", methods=["POST"])
@access(ADMIN)
def anonymise_user():
    form = request.form.to_dict()
    kept = {"anonymise_email": form.get("email", "")}
    try:
        data = AnonymiseIn().load({k: v for k, v in form.items() if v != ""})
    except ValidationError as exc:
        errors = {f"anonymise_{k}": v for k, v in form_errors(exc).items()}
        return _users_page(errors, kept)
    user = db.session.execute(select(User).where(User.email == data["email"].strip().lower())).scalar_one_or_none()
    if user is None:
        return _users_page({"anonymise_email": [_("There is no user with this e-mail address.")]}, kept)
    try:
        privacy.anonymise_user(user, actor=current_user)
    except FundError as exc:
        db.session.rollback()
        html, _status = _users_page({"anonymise_email": [exc.message]}, kept)
        return html, exc.status
    flash(_("The account has been anonymised."), "success")
    return redirect(url_for("fund.users"))


@bp.route("/account/data.json")
@access(ANY_ROLE)
def my_data():
    """Everything the service holds about the signed-in user, as a JSON download."""
    body = audit.canonical_json(privacy.personal_data(current_user))
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": "attachment; filename=my-data.json", "Cache-Control": "no-store"})


def _users_page(errors: dict, form: dict):
    form.pop("password", None)
    page = db.paginate(select(User).order_by(User.email), per_page=100, error_out=False)
    html = render_template("fund/users.html", page=page, roles=ROLES, errors=errors, form=form)
    return html, (422 if errors else 200)


@bp.route("/audit")
@access(AUDITOR, ADMIN)
def audit_events():
    try:
        filters = AuditQuery().load(request.args.to_dict())
    except ValidationError as exc:
        filters, errors = {"page": 1, "per_page": 50}, form_errors(exc)
    else:
        errors = {}
    page = db.paginate(audit.filtered_events(filters), page=filters["page"], per_page=filters["per_page"],
                       error_out=False)
    return render_template("fund/audit.html", page=page, filters=request.args, errors=errors)


@bp.route("/audit/verify", methods=["POST"])
@access(AUDITOR, ADMIN)
def audit_verify():
    from fund.checkpoints import verify_all

    result = verify_all()
    if result.ok:
        flash(_("The audit trail is intact: %(n)d events verified.", n=result.events), "success")
    else:
        flash(_("The audit trail is broken at event %(id)s (%(reason)s).", id=result.first_bad_event,
                reason=result.reason), "error")
    return redirect(url_for("fund.audit_events"))


@bp.route("/audit.csv")
@access(AUDITOR, ADMIN)
def audit_csv():
    try:
        filters = AuditQuery().load(request.args.to_dict())
    except ValidationError:
        abort(400)
    query = audit.filtered_events(filters).execution_options(yield_per=1000)
    columns = ["id", "occurred_at", "actor", "action", "entity_type", "entity_id", "summary", "changes",
               "request_id", "ip_address", "prev_hash", "hash"]

    def rows():
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(columns)
        for ev in db.session.execute(query).scalars():
            writer.writerow([
                ev.id, ev.occurred_at.isoformat(), ev.actor, ev.action, ev.entity_type, ev.entity_id,
                _csv_safe(ev.summary), audit.canonical_json(ev.changes) if ev.changes else "", ev.request_id,
                ev.ip_address, ev.prev_hash, ev.hash,
            ])
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()

    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=audit-events.csv"},
    )


def _csv_safe(value: str | None) -> str:
    """Neutralise spreadsheet formulas in exported text."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value or ""
