"""Core portal pages: home, dashboard, language, API tokens, users (admin: invitations, roles, deactivation,
second factor), audit trail (auditor, admin)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    has_request_context,
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
from sqlalchemy import func, select

from fund import audit, operations, privacy
from fund.account_schemas import InviteUserIn, SetRoleIn
from fund.db import db
from fund.errors import FundError
from fund.models import ADMIN, AUDITOR, ROLES, ApiToken, Role, User
from fund.permissions import ANY_ROLE, access, public
from fund.schemas import AuditQuery, InSchema, NewPasswordForm

bp = Blueprint("fund", __name__)

#: Links that domain packages add to the dashboard: (roles, endpoint, label).
def dashboard_link(app, roles, endpoint: str, label) -> None:
    """A link on the dashboard for the given roles, declared by its package's ``init_app`` (in the order the app
    factory initialises the packages)."""
    app.extensions.setdefault("dashboard_links", []).append((frozenset(roles), endpoint, label))


def form_errors(exc: ValidationError) -> dict:
    return {k: v if isinstance(v, list) else [str(v)] for k, v in exc.messages.items()}


@bp.route("/")
@public
def index():
    return render_template("fund/index.html")


@bp.route("/dashboard")
@access(ANY_ROLE)
def dashboard():
    links = [(endpoint, label) for roles, endpoint, label in current_app.extensions.get("dashboard_links", ())
             if current_user.has_any_role(*roles)]
    return render_template("fund/dashboard.html", links=links, role_labels=operations.ROLE_LABELS)


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


class InviteIn(InviteUserIn):
    csrf_token = fields.String()


class RoleIn(SetRoleIn):
    csrf_token = fields.String()


class AcceptInvitationIn(NewPasswordForm):
    mismatch = _l("The two passwords differ.")

    name = fields.String(load_default=None, validate=validate.Length(max=200))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))
    password_confirm = fields.String(required=True)


#: Users listed per page on /admin/users.
USERS_PER_PAGE = 50


@bp.route("/admin/users")
@access(ADMIN, AUDITOR)
def users():
    return _users_page({}, {})


@bp.route("/admin/users", methods=["POST"])
@access(ADMIN)
def invite_user():
    """Invite someone with a role: their account is created and a single-use link e-mailed to them."""
    form = request.form.to_dict()
    raw = {k: v for k, v in form.items() if v != ""}
    try:
        data = InviteIn().load(raw)
        data.pop("csrf_token", None)
        user, _link = operations.invite_user(data.pop("email"), data.pop("role"), actor=current_user, **data)
    except ValidationError as exc:
        return _users_page(form_errors(exc), form)
    except FundError as exc:
        return _users_page(exc.fields or {"email": [exc.message]}, form, status=exc.status)
    flash(_("An invitation has been sent to %(email)s.", email=user.email), "success")
    return redirect(url_for("fund.user_detail", user_id=user.id))


def _target(user_id: int) -> User:
    return db.get_or_404(User, user_id)


def _user_page(user: User, errors: dict | None = None, form: dict | None = None, status: int = 200):
    tokens = db.session.execute(
        select(func.count(ApiToken.id)).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).scalar_one()
    html = render_template("fund/user.html", u=user, errors=errors or {}, form=form or {}, roles=ROLES,
                           role_labels=operations.ROLE_LABELS, invited=operations.is_invited(user),
                           anonymised=privacy.is_anonymised(user), active_tokens=tokens)
    return html, (status if status != 200 or not errors else 422)


@bp.route("/admin/users/<int:user_id>")
@access(ADMIN, AUDITOR)
def user_detail(user_id: int):
    return _user_page(_target(user_id))


def _user_action(user_id: int, action, done: str):
    """Run one account operation from the user's page: back to the page with a message, or the page again with
    the refusal beside the form that asked."""
    user = _target(user_id)
    try:
        action(user)
    except FundError as exc:
        db.session.rollback()
        user = _target(user_id)
        return _user_page(user, exc.fields or {"action": [exc.message]}, request.form.to_dict(), status=exc.status)
    flash(done, "success")
    return redirect(url_for("fund.user_detail", user_id=user_id))


@bp.route("/admin/users/<int:user_id>/role", methods=["POST"])
@access(ADMIN)
def set_user_role(user_id: int):
    form = request.form.to_dict()
    try:
        data = RoleIn().load({k: v for k, v in form.items() if v != ""})
    except ValidationError as exc:
        return _user_page(_target(user_id), form_errors(exc), form)
    return _user_action(user_id, lambda u: operations.set_role(u, data["role"], donor_id=data["donor_id"],
                                                               actor=current_user), _("The role has been changed."))


#: The account operations of a user's page that take no form: (path, endpoint, operation of fund.operations,
#: message when done).
ACCOUNT_ACTIONS = (
    ("deactivate", "deactivate_user", "deactivate_user", _l("The account has been deactivated.")),
    ("reactivate", "reactivate_user", "reactivate_user", _l("The account has been reactivated.")),
    ("reset-two-factor", "reset_two_factor", "reset_two_factor", _l("The second factor has been reset.")),
    ("resend-invitation", "resend_invitation", "resend_invitation", _l("A new invitation has been sent.")),
)


def _account_action(endpoint: str, operation: str, done) -> Callable:
    def view(user_id: int):
        return _user_action(user_id, lambda u: getattr(operations, operation)(u, actor=current_user), str(done))

    view.__name__ = view.__qualname__ = endpoint
    return access(ADMIN)(view)


for _path, _endpoint, _operation, _done in ACCOUNT_ACTIONS:
    bp.add_url_rule(f"/admin/users/<int:user_id>/{_path}", _endpoint, _account_action(_endpoint, _operation, _done),
                    methods=["POST"])


@bp.route("/account/invitation/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token: str):
    """The invited person chooses their password (the link works once), then signs in as usual."""
    invited = operations.load_invitation(token)
    errors: dict = {}
    form = request.form.to_dict()
    if request.method == "POST":
        try:
            data = AcceptInvitationIn().load(form)
            user = operations.accept_invitation(token, data["password"], name=data["name"])
        except ValidationError as exc:
            errors = form_errors(exc)
        except FundError as exc:
            if exc.status != 422:
                raise
            errors = exc.fields or {"password": [exc.message]}
        else:
            flash(_("Your password is set. Sign in now.") + (
                " " + _("You will then set up a second factor.") if user.needs_two_factor else ""), "success")
            return redirect(url_for("security.login"))
    form.pop("password", None)
    form.pop("password_confirm", None)
    html = render_template("fund/users_invitation.html", invited=invited, errors=errors, form=form,
                           role_label=operations.ROLE_LABELS.get(invited.role, invited.role))
    return html, (422 if errors else 200)


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


def _users_page(errors: dict, form: dict, status: int | None = None):
    form.pop("password", None)
    filters = request.args
    query = select(User).order_by(User.email)
    q = (filters.get("q") or "").strip()[:100].lower()
    if q:
        query = query.where(func.lower(User.email).contains(q, autoescape=True)
                            | func.lower(func.coalesce(User.name, "")).contains(q, autoescape=True))
    role = filters.get("role")
    if role in ROLES:
        query = query.where(User.roles.any(Role.name == role))
    page = db.paginate(query, per_page=USERS_PER_PAGE, error_out=False)
    html = render_template("fund/users.html", page=page, roles=ROLES, invitable=operations.INVITABLE_ROLES,
                           role_labels=operations.ROLE_LABELS, errors=errors, form=form, q=q, role=role,
                           is_invited=operations.is_invited)
    return html, (status or (422 if errors else 200))


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


def refusal_errors(exc: FundError, *, field: str = "_schema", passes: tuple[int, ...] = (403,)) -> dict:
    """An operation's refusal of a portal form (:class:`fund.errors.FundError`), for the page that shows the form
    again: re-raised when its status is one of ``passes`` (answered by the error pages), otherwise the transaction
    is rolled back and its messages are returned by field (its message under ``field`` when it names none)."""
    if exc.status in passes:
        raise exc
    db.session.rollback()
    return {k: v if isinstance(v, list) else [str(v)] for k, v in exc.fields.items()} or {field: [exc.message]}


def external_url(endpoint: str, **values) -> str:
    """An absolute link to a page, in a request or outside one (a command-line job: ``SERVER_BASE_URL`` names
    the site then), for e-mails and documents."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    with current_app.test_request_context(base_url=current_app.config.get("SERVER_BASE_URL") or None):
        return url_for(endpoint, _external=True, **values)


@dataclass
class Page:
    """A page of a list whose total was counted otherwise (by another statement of the page, or in memory), read by
    the templates as a Flask-SQLAlchemy pagination (whose own count would be one more query). A page past the last
    is empty and its "previous" leads back to the last one."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return min(self.page - 1, self.pages)

    @property
    def next_num(self) -> int:
        return self.page + 1
