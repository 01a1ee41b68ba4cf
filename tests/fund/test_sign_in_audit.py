"""A sign-in in the audit trail names how the user signed in, including with a second factor (TOTP)."""

from __future__ import annotations

from sqlalchemy import select

from fund.audit import AuditEvent
from fund.db import db


def _logins(app, user) -> list[tuple[str, dict | None]]:
    with app.app_context():
        return [(e.summary, e.changes) for e in db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "user.login", AuditEvent.actor_id == user.id)
            .order_by(AuditEvent.id)).scalars()]


def test_a_totp_sign_in_names_the_password_and_the_authenticator_app(app, login_as):
    client = login_as("finance_officer")
    [(summary, changes)] = _logins(app, client.user)
    assert summary == f"{client.user.email} signed in with a password and an authenticator app code"
    assert "()" not in summary
    assert changes == {"method": [None, ["password", "authenticator"]]}


def test_a_password_sign_in_names_the_password(app, login_as):
    client = login_as("applicant")
    [(summary, _changes)] = _logins(app, client.user)
    assert summary == f"{client.user.email} signed in with a password"


def test_the_audit_trail_page_shows_the_method(app, login_as):
    officer = login_as("finance_officer")
    page = login_as("auditor").get(f"/audit?actor={officer.user.email}&action=user.login")
    assert "signed in with a password and an authenticator app code" in page.get_data(as_text=True)
