"""Authentication glue around Flask-Security-Too.

- Portal: Flask-Security sessions, with a second factor (TOTP) required for staff roles (see
  ``User.check_tf_required``). Logout and password change rotate ``fs_uniquifier``, which every session
  cookie names, so an old cookie replayed afterwards is signed out.
- API: personal bearer tokens only (``Authorization: Bearer <token>``); session cookies are ignored under
  ``/api/``, which is why the API needs no CSRF token.
- Sign-in throttling: failed attempts through Flask-Limiter. The password step counts per client address and
  per e-mail; the second-factor step per pending sign-in only (the account the session is half-way into), so
  nobody can exhaust another person's attempts. A second-factor code is accepted once
  (:class:`fund.security_utils.FundTotp`).
- Flask-Security's own authentication tokens are refused everywhere (``include_auth_token`` is a 400 and no
  request loader reads them): they cannot be listed nor revoked, unlike the personal tokens above.
"""

from __future__ import annotations

from flask import Flask, g, request
from flask_login import user_logged_out
from flask_security import SQLAlchemyUserDatastore, user_authenticated, user_registered
from flask_security.signals import password_changed, password_reset, tf_profile_changed
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from fund import audit
from fund.db import db, utcnow
from fund.extensions import limiter, security
from fund.models import ApiToken, Role, User, hash_token

#: The token with its user and the user's roles: one statement per API request. Built once rather than for every
#: request (SQLAlchemy caches its compiled form, but building it and deriving its cache key are repeated for each new
#: statement, and cost about as much as its execution).
TOKEN_QUERY = (select(ApiToken).where(ApiToken.token_hash == bindparam("token_hash"))
               .options(joinedload(ApiToken.user).joinedload(User.roles)))


def user_for_token(secret: str) -> User | None:
    token = db.session.execute(TOKEN_QUERY, {"token_hash": hash_token(secret)}).unique().scalar_one_or_none()
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    g.api_token = token
    return token.user


def _load_api_user() -> None:
    """Under /api/ the caller is whoever the bearer token names, or anonymous; never the session."""
    if not request.path.startswith("/api/"):
        return
    user = None
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        user = user_for_token(header[7:].strip())
    g._login_user = user if user is not None else security.login_manager.anonymous_user()


def _login_email() -> str:
    return (request.form.get("email") or "").strip().lower()[:255] or "-"


def _pending_account() -> str:
    """The account a second-factor attempt is for: the session's pending sign-in, or the signed-in user setting
    up a second factor; otherwise the client's address."""
    from flask import session
    from flask_login import current_user

    pending = session.get("tf_user_id")
    if pending:
        return f"user:{pending}"
    if getattr(current_user, "is_authenticated", False):
        return f"user:{current_user.fs_uniquifier}"
    return f"ip:{request.remote_addr or '-'}"


def _refuse_auth_token() -> None:
    if request.blueprint == "security" and "include_auth_token" in request.args:
        from flask import abort

        abort(400)


def _failed_login(response) -> bool:
    # Flask-Security redirects after a successful password check (to the dashboard or the second factor);
    # a failed attempt re-renders the form.
    return response.status_code not in (301, 302, 303)


def _client_address() -> str:
    return request.remote_addr or "-"


def init_auth(app: Flask) -> None:
    datastore = SQLAlchemyUserDatastore(db, User, Role)
    security.init_app(app, datastore, register_blueprint=True)
    app.before_request(_load_api_user)
    app.before_request(_refuse_auth_token)
    security.login_manager.request_loader(lambda _request: None)

    # Throttle the password and the second-factor steps. The key functions are module-level so that a second app in
    # the same process (tests) registers limits equal to the first's, which Flask-Limiter keeps once, not twice.
    rate = app.config["LOGIN_RATE_LIMIT"]
    for endpoint in ("security.login", "security.two_factor_token_validation", "security.forgot_password"):
        view = app.view_functions.get(endpoint)
        if view is None:
            continue
        if endpoint == "security.two_factor_token_validation":
            # Only someone who passed the password step gets here: counted per account alone, so that colleagues
            # behind one address (an office's NAT) cannot lock each other out.
            view = limiter.limit(rate, methods=["POST"], deduct_when=_failed_login, key_func=_pending_account,
                                 scope=f"{endpoint}:account")(view)
        else:
            view = limiter.limit(rate, methods=["POST"], deduct_when=_failed_login,
                                 key_func=_client_address, scope=f"{endpoint}:ip")(view)
            view = limiter.limit(rate, methods=["POST"], deduct_when=_failed_login, key_func=_login_email,
                                 scope=f"{endpoint}:email")(view)
        app.view_functions[endpoint] = view

    @user_logged_out.connect_via(app)
    def _on_logout(sender, user, **extra):
        if user is None or not getattr(user, "is_authenticated", False):
            return
        from fund.operations import revoke_sessions

        user = db.session.get(User, user.id)
        revoke_sessions(user, reason="signed out", actor=user)
        db.session.commit()

    @user_registered.connect_via(app)
    def _on_register(sender, user, **extra):
        """Self-registration is for NGO staff: the new account is an applicant (its organisation comes next)."""
        from fund.models import APPLICANT
        from fund.operations import get_role

        user.roles = [get_role(APPLICANT)]
        from flask_babel import get_locale

        user.language = str(get_locale() or "en")[:2]
        db.session.flush()
        audit.record("user.register", user, summary=f"{user.email} registered as an applicant", actor=user,
                     changes={"email": [None, user.email], "role": [None, APPLICANT]})

    @user_authenticated.connect_via(app)
    def _on_login(sender, user, authn_via=None, **extra):
        method = sign_in_method(authn_via, user)
        audit.record("user.login", user, summary=f"{user.email} signed in with {method}", actor=user,
                     changes={"method": [None, list(authn_via or []) or ["password", user.tf_primary_method]]})

    @password_changed.connect_via(app)
    def _on_password_changed(sender, user, **extra):
        audit.record("user.password_change", user, summary=f"{user.email} changed their password (sessions revoked)",
                     actor=user)

    @password_reset.connect_via(app)
    def _on_password_reset(sender, user, **extra):
        audit.record("user.password_reset", user, summary=f"{user.email} reset their password", actor=user)

    @tf_profile_changed.connect_via(app)
    def _on_tf_changed(sender, user, **extra):
        audit.record("user.two_factor", user, summary=f"{user.email} set up two-factor sign-in", actor=user,
                     changes={"tf_primary_method": [None, user.tf_primary_method]})


#: How each way of signing in reads in the audit trail (Flask-Security's ``authn_via`` values).
SIGN_IN_METHODS = {
    "password": "a password",
    "webauthn": "a security key",
    "email": "a code sent by e-mail",
    "sms": "a code sent by SMS",
    "authenticator": "an authenticator app code",
    "token": "an API token",
    "confirm": "the link confirming their e-mail address",
    "reset": "a password reset link",
    "register": "their new account",
    "change": "their new password",
    "oauth": "an external identity provider",
}


def sign_in_method(authn_via: list[str] | None, user: User) -> str:
    """The way a user signed in, in words. Flask-Security names it, except after a second factor: the sign-in
    then completes the password step with the user's two-factor method (TOTP: an authenticator app code)."""
    if not authn_via:
        second = SIGN_IN_METHODS.get(user.tf_primary_method or "", "a second factor")
        return f"a password and {second}"
    return " and ".join(SIGN_IN_METHODS.get(m, m) for m in authn_via)


def touch_token() -> None:
    token = getattr(g, "api_token", None)
    if token is not None and (token.last_used_at is None or (utcnow() - token.last_used_at).total_seconds() > 300):
        token.last_used_at = utcnow()
