"""Writes on accounts: users, roles, API tokens, sessions. Each one audits; none commits."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from flask_babel import lazy_gettext as _l
from flask_security import hash_password
from sqlalchemy import func, select, update

from fund import audit
from fund.db import db, utcnow
from fund.errors import Conflict, FundError
from fund.models import ROLES, ApiToken, Role, User, hash_token
from fund.security_utils import password_problems

#: The roles as people read them, in both languages.
ROLE_LABELS = {
    "applicant": _l("Applicant"),
    "reviewer": _l("Reviewer"),
    "fund_manager": _l("Fund manager"),
    "finance_officer": _l("Finance officer"),
    "donor": _l("Donor"),
    "auditor": _l("Auditor"),
    "admin": _l("Administrator"),
}


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


# Staff accounts: invitations, roles, deactivation, second factor --------------------------------------------------
#
# One operation per action, called by the portal (/admin/users), the API (/api/v1/users/...) and the command line
# (`flask users ...`). Each checks the actor (an administrator; ``actor=None`` is the command line, run by someone
# with a shell on the server), refuses what would lock the fund out (an administrator changing or deactivating
# their own account, the last active administrator losing the role), writes its audit event and never commits.
#
# An invitation creates the account at once (role, donor, name: so it can be listed, re-sent, re-roled or
# deactivated before it is accepted) with no password and no confirmed address. The link carries the account's
# id and a digest of its ``fs_uniquifier``, signed and valid for STAFF_INVITATION_DAYS. Accepting sets the password,
# confirms the address and rotates ``fs_uniquifier`` in one conditional UPDATE, so the link works once, even under
# concurrent requests; re-sending rotates it too, so only the newest link works. A member of an applicant
# organisation keeps the applicant role: NGO staff and the fund's staff are separate accounts.

#: Roles an administrator invites: the fund's staff, reviewers and donors' staff (applicants sign up, or are
#: invited by their organisation).
INVITABLE_ROLES = tuple(r for r in ROLES if r != "applicant")
STAFF_INVITATION_DAYS = 7


def _check_admin(actor) -> None:
    from flask_babel import gettext as _

    if actor is not None and not actor.has_any_role("admin"):
        raise FundError(_("Only an administrator may manage accounts."), status=403, code="forbidden")


def _other_active_admins(user: User) -> int:
    """Active administrators who can sign in (a password set), other than ``user``."""
    return db.session.execute(
        select(func.count(User.id.distinct())).join(User.roles)
        .where(Role.name == "admin", User.active.is_(True), User.password.is_not(None), User.id != user.id)
    ).scalar_one()


def _usable_admin(user: User) -> bool:
    """An administrator who can sign in now (an invited one who has not chosen a password cannot)."""
    return user.has_any_role("admin") and user.active and user.password is not None


def _check_donor(role: str, donor_id: int | None) -> dict[str, list[str]]:
    from flask_babel import gettext as _

    if role == "donor" and donor_id is None:
        return {"donor_id": [_("A donor user must be linked to a donor.")]}
    if role != "donor" and donor_id is not None:
        return {"donor_id": [_("Only donor users are linked to a donor.")]}
    if donor_id is not None and not _row_exists("donor", donor_id):
        return {"donor_id": [_("There is no donor with this id.")]}
    return {}


def is_invited(user: User) -> bool:
    """The account was invited and the invitation not accepted yet (no password, address not confirmed)."""
    return user.password is None and user.confirmed_at is None


def _invitation_serializer():
    from flask import current_app
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="fund.staff-invitation")


def _uniquifier_digest(user: User) -> str:
    return hashlib.sha256(f"invitation:{user.fs_uniquifier}".encode()).hexdigest()[:32]


def _send_invitation(user: User, actor) -> str:
    from flask import current_app, has_request_context, render_template, url_for
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from fund.mail import queue_mail

    token = _invitation_serializer().dumps({"u": user.id, "d": _uniquifier_digest(user)})
    if has_request_context():
        link = url_for("fund.accept_invitation", token=token, _external=True)
    else:  # the command line: SERVER_BASE_URL names the site
        with current_app.test_request_context(base_url=current_app.config.get("SERVER_BASE_URL") or None):
            link = url_for("fund.accept_invitation", token=token, _external=True)
    with force_locale(user.language or "en"):
        subject = _("Your account on VTF Grants")
        body = render_template("fund/mail/staff_invitation.txt", link=link, days=STAFF_INVITATION_DAYS,
                               inviter=(actor.name or actor.email) if actor is not None else None,
                               role=str(ROLE_LABELS.get(user.role, user.role)))
    queue_mail(user.email, subject, body=body, kind="fund:staff_invitation")
    return link


def invite_user(email: str, role: str, *, name: str | None = None, donor_id: int | None = None,
                language: str = "en", actor=None) -> tuple[User, str]:
    """Create an account with ``role`` and e-mail its owner a single-use link to choose a password. Returns the
    account and the link (the command line prints it)."""
    from flask_babel import gettext as _

    _check_admin(actor)
    email = (email or "").strip().lower()
    errors: dict[str, list[str]] = {}
    if "@" not in email or len(email) > 255:
        errors["email"] = [_("Not a valid e-mail address.")]
    elif db.session.execute(select(User.id).where(User.email == email)).first():
        errors["email"] = [_("A user with this e-mail address already exists.")]
    if role not in INVITABLE_ROLES:
        errors["role"] = [_("Choose one of the roles offered (applicants sign up themselves).")]
    else:
        errors.update(_check_donor(role, donor_id))
    if language not in ("en", "fr"):
        errors["language"] = [_("Choose English or French.")]
    if errors:
        raise FundError(_("The invitation cannot be sent."), fields=errors)
    user = User(email=email, name=(name or "").strip() or None, password=None, active=True,
                fs_uniquifier=uuid.uuid4().hex, donor_id=donor_id, language=language, confirmed_at=None)
    user.roles = [get_role(role)]
    db.session.add(user)
    db.session.flush()
    link = _send_invitation(user, actor)
    audit.record("user.invite", user, summary=f"{email} invited with role {role}", actor=actor,
                 changes={"email": [None, email], "role": [None, role], "donor_id": [None, donor_id]})
    return user, link


def resend_invitation(user: User, *, actor=None) -> str:
    """Send a new link to an invited account; earlier links stop working."""
    from flask_babel import gettext as _

    _check_admin(actor)
    if not is_invited(user) or not user.active:
        raise Conflict(_("This account has no pending invitation."), code="not_invited")
    user.fs_uniquifier = uuid.uuid4().hex
    db.session.flush()
    link = _send_invitation(user, actor)
    audit.record("user.invite_resent", user, summary=f"Invitation of {user.email} sent again", actor=actor)
    return link


def load_invitation(token: str) -> User:
    """The invited account a link names, or FundError: 404 for a link that is not ours, 410 for an expired or
    used one."""
    from flask_babel import gettext as _
    from itsdangerous import BadSignature, SignatureExpired

    try:
        data = _invitation_serializer().loads(token, max_age=STAFF_INVITATION_DAYS * 24 * 3600)
    except SignatureExpired as exc:
        raise FundError(_("This invitation has expired. Ask an administrator to send it again."),
                        status=410, code="expired") from exc
    except BadSignature as exc:
        raise FundError(_("This invitation link is not valid."), status=404, code="not_found") from exc
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None:
        raise FundError(_("This invitation link is not valid."), status=404, code="not_found")
    if not is_invited(user) or not user.active or not secrets.compare_digest(_uniquifier_digest(user),
                                                                              str(data.get("d", ""))):
        raise FundError(_("This invitation has already been used or was replaced by a newer one."), status=410,
                        code="gone")
    return user


def accept_invitation(token: str, password: str, *, name: str | None = None) -> User:
    """Set the invited person's password (the policy applies) and confirm their address: the link works once."""
    from flask_babel import gettext as _

    user = load_invitation(token)
    problems = password_problems(password, user.email)
    if problems:
        raise FundError(_("Choose another password."), fields={"password": problems})
    old = user.fs_uniquifier
    claimed = db.session.execute(
        update(User).where(User.id == user.id, User.fs_uniquifier == old, User.password.is_(None))
        .values(password=hash_password(password), confirmed_at=utcnow(), fs_uniquifier=uuid.uuid4().hex,
                name=(name or "").strip() or user.name)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise FundError(_("This invitation has already been used or was replaced by a newer one."), status=410,
                        code="gone")
    db.session.refresh(user)
    audit.record("user.invitation_accepted", user, summary=f"{user.email} accepted the invitation", actor=user)
    return user


def set_role(user: User, role: str, *, donor_id: int | None = None, actor=None) -> User:
    """Give ``user`` one role (a donor user names their donor); their sessions are revoked."""
    from flask_babel import gettext as _

    _check_admin(actor)
    old, old_donor = user.role, user.donor_id
    if role not in ROLES:
        raise FundError(_("Choose one of the roles offered."), fields={"role": [_("Choose one of the roles offered.")]})
    if actor is not None and actor.id == user.id:
        raise Conflict(_("You cannot change your own role: ask another administrator."), code="own_account")
    if user.organisation_id is not None and role != "applicant":
        raise Conflict(_("This account belongs to an applicant organisation: it keeps the applicant role. Invite "
                         "the person with another address."), fields={"role": [_("Not possible for this account.")]},
                       code="organisation_member")
    if role == "donor" and donor_id is None:
        donor_id = old_donor
    errors = _check_donor(role, donor_id)
    if errors:
        raise FundError(_("The role cannot be changed."), fields=errors)
    if old == "admin" and role != "admin" and _usable_admin(user) and _other_active_admins(user) == 0:
        raise Conflict(_("This is the last active administrator: make someone else an administrator first."),
                       code="last_admin")
    if old == role and old_donor == donor_id:
        return user
    user.roles = [get_role(role)]
    user.donor_id = donor_id
    revoke_sessions(user, reason="role changed", actor=actor)
    changes = {"role": [old, role]}
    if old_donor != donor_id:
        changes["donor_id"] = [old_donor, donor_id]
    audit.record("user.role", user, summary=f"Role of {user.email} changed from {old} to {role}", changes=changes,
                 actor=actor)
    return user


def deactivate_user(user: User, *, actor=None) -> User:
    """Stop an account signing in: its sessions end and its API tokens are refused (kept, for reactivation)."""
    from flask_babel import gettext as _

    _check_admin(actor)
    if actor is not None and actor.id == user.id:
        raise Conflict(_("You cannot deactivate your own account."), code="own_account")
    if not user.active:
        raise Conflict(_("This account is already deactivated."), code="already_inactive")
    if _usable_admin(user) and _other_active_admins(user) == 0:
        raise Conflict(_("This is the last active administrator: make someone else an administrator first."),
                       code="last_admin")
    user.active = False
    revoke_sessions(user, reason="deactivated", actor=actor)
    audit.record("user.deactivate", user, summary=f"{user.email} deactivated", changes={"active": [True, False]},
                 actor=actor)
    return user


def reactivate_user(user: User, *, actor=None) -> User:
    from flask_babel import gettext as _

    from fund.privacy import is_anonymised

    _check_admin(actor)
    if user.active:
        raise Conflict(_("This account is already active."), code="already_active")
    if is_anonymised(user):
        raise Conflict(_("An anonymised account cannot be reactivated."), code="anonymised")
    user.active = True
    db.session.flush()
    audit.record("user.reactivate", user, summary=f"{user.email} reactivated", changes={"active": [False, True]},
                 actor=actor)
    return user


def reset_two_factor(user: User, *, actor=None) -> User:
    """Forget the account's second factor (a lost phone): its sessions end, and a staff account sets up a new
    one at its next sign-in."""
    from flask_babel import gettext as _

    _check_admin(actor)
    if not user.tf_primary_method and not user.tf_totp_secret:
        raise Conflict(_("This account has no second factor to reset."), code="no_second_factor")
    old = user.tf_primary_method
    user.tf_primary_method = None
    user.tf_totp_secret = None
    user.tf_totp_last_counter = None
    revoke_sessions(user, reason="second factor reset", actor=actor)
    audit.record("user.two_factor_reset", user, summary=f"Second factor of {user.email} reset",
                 changes={"tf_primary_method": [old, None]}, actor=actor)
    return user
