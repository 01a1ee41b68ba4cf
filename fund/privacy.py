"""Personal data of accounts: anonymisation (an admin action and ``flask privacy anonymise-user``) and each
user's copy of what the service holds about them.

Anonymising a user replaces their name and e-mail address with placeholders, clears their phone number,
second factor, password and last sign-in addresses, disables sign-in, revokes their sessions and API tokens,
and erases their personal data from the audit trail with :func:`fund.audit.erase_subject` (the chain still
verifies). What they did stays where it belongs: applications and grants are the organisation's, and the
history rows that name them by id now name an anonymised account.

Packages contribute through :func:`register` in their ``init_app``:

- a *guard* ``guard(user) -> list[str]`` returns the reasons the user may not be anonymised now (the grants
  package refuses while they are a contact of an active grant);
- an *on_anonymise* hook ``hook(user, actor)`` removes what the package holds about the user (organisation
  memberships, invitations), in the same transaction;
- an *export* ``export(user) -> dict`` adds the package's part to the user's copy of their data.

Like every operation, :func:`anonymise_user` checks permission, writes its audit event and never commits.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_babel import gettext as _
from sqlalchemy import select, update

from fund import audit
from fund.db import db, utcnow
from fund.errors import Conflict, FundError
from fund.models import ADMIN, ApiToken, User

#: The domain of anonymised accounts' placeholder addresses (reserved: it can receive no mail).
ANONYMISED_DOMAIN = "anonymised.invalid"


def _hooks(app: Flask | None = None) -> dict[str, list[Callable]]:
    app = app or current_app
    return app.extensions.setdefault("fund_privacy", {"guards": [], "on_anonymise": [], "exports": []})


def register(app: Flask, *, guard: Callable | None = None, on_anonymise: Callable | None = None,
             export: Callable | None = None) -> None:
    hooks = _hooks(app)
    for name, fn in (("guards", guard), ("on_anonymise", on_anonymise), ("exports", export)):
        if fn is not None and fn not in hooks[name]:
            hooks[name].append(fn)


def is_anonymised(user: User) -> bool:
    return user.email.endswith("@" + ANONYMISED_DOMAIN)


def anonymisation_problems(user: User) -> list[str]:
    """Why ``user`` may not be anonymised now (empty when they may)."""
    problems: list[str] = []
    for guard in _hooks()["guards"]:
        problems.extend(guard(user))
    return problems


def _check_admin(actor: Any) -> None:
    if actor is None or not actor.has_any_role(ADMIN):
        raise FundError(_("Only an administrator may anonymise an account."), status=403, code="forbidden")


def anonymise_user(user: User, *, actor: Any, checked: bool = False) -> User:
    """Anonymise ``user`` (see the module docstring). Refused with 409 and the reasons while a guard objects,
    and for an account already anonymised or the administrator's own. ``checked`` skips the administrator
    check for a caller that made it (the organisation's anonymisation)."""
    if not checked:
        _check_admin(actor)
    if is_anonymised(user):
        raise Conflict(_("This account is already anonymised."), code="already_anonymised")
    if actor is not None and getattr(actor, "id", None) == user.id:
        raise Conflict(_("You cannot anonymise your own account."), code="own_account")
    problems = anonymisation_problems(user)
    if problems:
        raise Conflict(" ".join(problems), fields={"user": problems}, code="anonymisation_refused")
    for hook in _hooks()["on_anonymise"]:
        hook(user, actor)
    db.session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                       .values(revoked_at=utcnow()).execution_options(synchronize_session=False))
    user.email = f"anonymised-{user.id}@{ANONYMISED_DOMAIN}"
    user.name = None
    user.password = None
    user.active = False
    user.tf_phone_number = None
    user.tf_totp_secret = None
    user.tf_primary_method = None
    user.last_login_ip = None
    user.current_login_ip = None
    user.organisation_id = None
    user.donor_id = None
    user.fs_uniquifier = uuid.uuid4().hex  # every session ends
    db.session.flush()
    audit.record("user.anonymise", user, actor=actor, summary=f"User {user.id} anonymised",
                 changes={"name": ["erased", None], "email": ["erased", user.email], "active": [True, False]})
    audit.erase_subject("user", user.id, actor=actor)
    return user


# The user's copy of their data ----------------------------------------------------------------------------------


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _event(ev: audit.AuditEvent) -> dict:
    return {"id": ev.id, "occurred_at": _iso(ev.occurred_at), "actor": ev.actor, "action": ev.action,
            "entity_type": ev.entity_type, "entity_id": ev.entity_id, "summary": ev.summary,
            "changes": ev.changes, "ip_address": ev.ip_address}


def personal_data(user: User) -> dict:
    """What the service holds about ``user``: profile, roles, memberships, sign-ins, and the audit events about
    them or done by them (those whose subjects name them), in a fixed number of queries."""
    about_them = select(audit.AuditSubject.event_id).where(audit.AuditSubject.kind == "user",
                                                           audit.AuditSubject.subject_id == user.id)
    events = db.session.execute(
        select(audit.AuditEvent).where(audit.AuditEvent.id.in_(about_them)).order_by(audit.AuditEvent.id)
    ).scalars().all()
    tokens = db.session.execute(
        select(ApiToken.name, ApiToken.prefix, ApiToken.created_at, ApiToken.last_used_at, ApiToken.revoked_at)
        .where(ApiToken.user_id == user.id).order_by(ApiToken.id)
    ).all()
    data: dict[str, Any] = {
        "generated_at": _iso(utcnow()),
        "profile": {"id": user.id, "email": user.email, "name": user.name, "language": user.language,
                    "timezone": user.timezone, "active": user.active, "created_at": _iso(user.create_datetime),
                    "confirmed_at": _iso(user.confirmed_at), "two_factor": user.tf_primary_method,
                    "phone_number": user.tf_phone_number},
        "roles": sorted(user.role_names),
        "memberships": {"organisation_id": user.organisation_id, "donor_id": user.donor_id},
        "sign_in": {"count": user.login_count or 0, "current_at": _iso(user.current_login_at),
                    "current_ip": user.current_login_ip, "previous_at": _iso(user.last_login_at),
                    "previous_ip": user.last_login_ip,
                    "history": [{"at": _iso(ev.occurred_at), "ip_address": ev.ip_address, "summary": ev.summary}
                                for ev in events if ev.action == "user.login"]},
        "api_tokens": [{"name": t.name, "prefix": t.prefix, "created_at": _iso(t.created_at),
                        "last_used_at": _iso(t.last_used_at), "revoked_at": _iso(t.revoked_at)} for t in tokens],
        "audit_events": [_event(ev) for ev in events],
    }
    for export in _hooks()["exports"]:
        for key, value in export(user).items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key].update(value)
            else:
                data[key] = value
    return data


# Command line ------------------------------------------------------------------------------------------------

privacy_cli = AppGroup("privacy", help="Anonymisation of people's personal data.")


def cli_admin() -> User:
    """The administrator a command acts as (``--as EMAIL``)."""
    ctx = click.get_current_context()
    email = (ctx.params.get("admin_email") or "").strip().lower()
    admin = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    if admin is None or not admin.has_any_role(ADMIN):
        click.echo(f"Error: {email or '--as'} is not an administrator's e-mail address", err=True)
        sys.exit(1)
    return admin


def run_cli(action: Callable[[], str]) -> None:
    try:
        message = action()
        db.session.commit()
    except FundError as exc:
        db.session.rollback()
        click.echo(f"Refused: {exc.message}", err=True)
        sys.exit(1)
    click.echo(message)


@privacy_cli.command("anonymise-user")
@click.argument("email")
@click.option("--as", "admin_email", required=True, help="The administrator who decides it (their e-mail).")
def anonymise_user_command(email, admin_email):
    """Anonymise a user: name, e-mail and phone replaced, sign-in disabled, audit trail erased."""
    admin = cli_admin()
    user = db.session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()
    if user is None:
        click.echo(f"Error: no user with e-mail {email}", err=True)
        sys.exit(1)
    run_cli(lambda: f"User {anonymise_user(user, actor=admin).id} anonymised")


def init_app(app: Flask) -> None:
    _hooks(app)
    app.cli.add_command(privacy_cli)
