"""Upgrading a database whose accounts were made before sign-up asked for a confirmed e-mail address."""

from __future__ import annotations

from flask_migrate import upgrade
from sqlalchemy import text

from fund import operations
from fund.db import db
from fund.models import User
from tests.fund.test_audit_anchor import _upgrade_app

PASSWORD = "correct-horse-battery"


def test_accounts_made_before_confirmation_was_required_still_sign_in(app, fresh_database):
    other = _upgrade_app(app, fresh_database)
    other.config["WTF_CSRF_ENABLED"] = False
    with other.app_context():
        directory = other.extensions["migrate"].directory
        upgrade(directory=directory, revision="0011_merge")
        user_id = operations.create_user("early@ngo.example.org", "applicant", PASSWORD, name="Early Bird").id
        db.session.commit()
        # As self-registration left them before confirmation was switched on.
        db.session.execute(text('UPDATE "user" SET confirmed_at = NULL WHERE id = :id'), {"id": user_id})
        db.session.commit()
        db.session.remove()
        refused = other.test_client().post("/account/login", data={"email": "early@ngo.example.org",
                                                                    "password": PASSWORD})
        assert refused.status_code == 200  # the form again: the address is not confirmed

        upgrade(directory=directory, revision="heads")
        assert db.session.get(User, user_id).confirmed_at is not None
        signed_in = other.test_client().post("/account/login", data={"email": "early@ngo.example.org",
                                                                      "password": PASSWORD})
        assert signed_in.status_code in (302, 303), signed_in.get_data(as_text=True)[:500]
        db.session.remove()
        db.engine.dispose()
