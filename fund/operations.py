"""Writes on accounts: users, roles, API tokens, sessions. Each one audits; none commits."""

from __future__ import annotations

import uuid

from flask_security import hash_password
from sqlalchemy import select

from fund import audit
from fund.db import db, utcnow
from fund.errors import FundError
from fund.models import ROLES, ApiToken, Role, User, hash_token
from fund.security_utils import password_problems


def _row_exists(table: str, row_id: int) -> bool:
    """Whether a domain table (registered by its package, which fund does not import) has this id."""
    t = db.metadata.tables.get(table)
    return t is None or db.session.execute(select(t.c.id).where(t.c.id == row_id)).first() is not None


def get_role(name: str) -> Role:
    if name not in ROLES:
        raise FundError(f"Unknown role {name!r}.", fields={"role": [f"Must be one of: {', '.join(ROLES)}."]})
    role = db.session.execute(select(Role).where(Role.name == name)).scalar_one_or_none()
    if role is None:
        role = Role(name=name, description=name.replace("_", " ").capitalize())
        db.session.add(role)
        db.session.flush()
    return role


def create_user(
    email: str,
    role: str,
    password: str,
    *,
    name: str | None = None,
    organisation_id: int | None = None,
    donor_id: int | None = None,
    language: str = "en",
    actor=None,
) -> User:
    email = email.strip().lower()
    errors: dict[str, list[str]] = {}
    if "@" not in email or len(email) > 255:
        errors["email"] = ["Not a valid e-mail address."]
    elif db.session.execute(select(User.id).where(User.email == email)).first():
        errors["email"] = ["A user with this e-mail address already exists."]
    problems = password_problems(password, email)
    if problems:
        errors["password"] = problems
    if role == "applicant" and organisation_id is None:
        pass  # an applicant may register before creating the organisation profile
    if role != "donor" and donor_id is not None:
        errors["donor_id"] = ["Only donor users are linked to a donor."]
    elif donor_id is not None and not _row_exists("donor", donor_id):
        errors["donor_id"] = ["There is no donor with this id."]
    if role != "applicant" and organisation_id is not None:
        errors["organisation_id"] = ["Only applicants belong to an organisation."]
    if errors:
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
        raise FundError(f"The user cannot be created: {details}", fields=errors)
    user = User(
        email=email,
        name=name,
        password=hash_password(password),
        active=True,
        fs_uniquifier=uuid.uuid4().hex,
        organisation_id=organisation_id,
        donor_id=donor_id,
        language=language,
        confirmed_at=utcnow(),
    )
    user.roles = [get_role(role)]
    db.session.add(user)
    db.session.flush()
    audit.record(
        "user.create",
        user,
        summary=f"User {email} created with role {role}",
        changes={"email": [None, email], "role": [None, role], "organisation_id": [None, organisation_id],
                 "donor_id": [None, donor_id]},
        actor=actor,
    )
    return user


def set_role(user: User, role: str, *, actor=None) -> User:
    old = user.role
    user.roles = [get_role(role)]
    revoke_sessions(user, reason="role changed", actor=actor)
    audit.record("user.role", user, summary=f"Role of {user.email} changed", changes={"role": [old, role]}, actor=actor)
    return user


def revoke_sessions(user: User, *, reason: str, actor=None) -> None:
    """Invalidate every session of the user: their cookies name the old fs_uniquifier."""
    user.fs_uniquifier = uuid.uuid4().hex
    db.session.flush()
    audit.record("user.sessions_revoked", user, summary=f"Sessions of {user.email} revoked: {reason}", actor=actor)


def set_language(user: User, language: str) -> None:
    changes = audit.populate(user, {"language": language})
    if changes:
        audit.record("user.language", user, summary=f"Language of {user.email} set to {language}", changes=changes)


def create_token(user: User, name: str, *, actor=None) -> tuple[ApiToken, str]:
    """Create a personal API token; returns the row and the secret, which is shown once and never stored."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise FundError("The token needs a name.", fields={"name": ["Give the token a name of 1 to 100 characters."]})
    secret = ApiToken.new_secret()

    token = ApiToken(user_id=user.id, name=name, token_hash=hash_token(secret), prefix=secret[:10])
    db.session.add(token)
    db.session.flush()
    audit.record("api_token.create", token, summary=f"API token {token.prefix}… created for {user.email}", actor=actor)
    return token, secret


def revoke_token(token: ApiToken, *, actor=None) -> None:
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    db.session.flush()
    audit.record("api_token.revoke", token, summary=f"API token {token.prefix}… revoked", actor=actor)
