"""Accounts under attack: replayed second-factor codes, the second-factor throttle, the password policy,
registration that reveals nothing, the second-factor set-up page, Flask-Security's tokens, deactivated tokens."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from fund.db import db
from fund.mail import OutboxMessage
from fund.models import User
from tests.conftest import PASSWORD, totp_code


def _validate(client, code):
    return client.submit("/account/tf-validate", {"code": code}, page="/account/tf-validate")


def test_a_second_factor_code_is_accepted_once(app, make_user, client):
    manager = make_user("fund_manager")
    code = totp_code(app, manager)
    client.submit("/account/login", {"email": manager.email, "password": PASSWORD})
    assert _validate(client, code).status_code == 302
    assert client.get("/dashboard").status_code == 200

    # Someone who watched the code go by, with the password, within the same 30 seconds: refused.
    thief = app.test_client()
    thief.submit("/account/login", {"email": manager.email, "password": PASSWORD})
    resp = _validate(thief, code)
    assert resp.status_code == 200 and "tf-validate" in resp.request.path
    assert thief.get("/dashboard").status_code == 302
    # The next code of the authenticator opens the door.
    assert _validate(thief, totp_code(app, manager)).status_code == 302
    assert thief.get("/dashboard").status_code == 200
    with app.app_context():
        assert db.session.get(User, manager.id).tf_totp_last_counter is not None


def test_the_second_factor_throttle_is_per_account(app, make_user):
    """Failing codes for one account does not lock out the others, even behind the same address, and the account
    itself stays locked from any address."""
    victim, colleague = make_user("finance_officer"), make_user("finance_officer")
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "10.0.0.1"
    attacker.submit("/account/login", {"email": victim.email, "password": PASSWORD})
    for _ in range(5):
        assert _validate(attacker, "000000").status_code == 200
    assert _validate(attacker, "000000").status_code == 429

    office = app.test_client()
    office.environ_base["REMOTE_ADDR"] = "10.0.0.1"  # the same office, behind the same address
    office.submit("/account/login", {"email": colleague.email, "password": PASSWORD})
    assert _validate(office, totp_code(app, colleague)).status_code == 302
    assert office.get("/dashboard").status_code == 200

    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.3"
    elsewhere.submit("/account/login", {"email": victim.email, "password": PASSWORD})
    assert _validate(elsewhere, totp_code(app, victim)).status_code == 429


WEAK = ["aaaaaaaaaaaa", "123456789012", "password1234", "qwertyuiop12"]


@pytest.mark.parametrize("password", WEAK + ["short-Pw1!", "EMAIL"])
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_registration_refuses_weak_passwords_with_a_clear_message(app, client, password, lang):
    email = "new.person@example.org"
    password = email if password == "EMAIL" else password
    client.submit("/language", {"lang": lang, "next": "/"}, page="/")
    resp = client.submit("/account/register", {"email": email, "password": password, "password_confirm": password})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    expected = {
        ("en", "short"): "Use at least 12 characters.",
        ("fr", "short"): "Utilisez au moins 12 caractères.",
        ("en", "email"): "The password must not be your e-mail address.",
        ("fr", "email"): "Le mot de passe ne doit pas être votre adresse électronique.",
        ("en", "weak"): "This password is too easy to guess.",
        ("fr", "weak"): "Ce mot de passe est trop facile à deviner.",
    }[(lang, "short" if len(password) < 12 else "email" if password == email else "weak")]
    assert expected in html.replace("&#39;", "'")
    with app.app_context():
        assert db.session.execute(select(User).where(User.email == email)).first() is None


def test_a_password_change_follows_the_policy(app, make_user, login_as):
    user = make_user("applicant", email="maria.lopez@example.org")
    client = login_as(user)
    for weak in ("password1234", "maria.lopez@example.org", "maria.lopez1"):
        resp = client.submit("/account/change", {"password": PASSWORD, "new_password": weak,
                                                 "new_password_confirm": weak})
        assert resp.status_code == 200, weak
    strong = "plum lantern orbit cactus"
    resp = client.submit("/account/change", {"password": PASSWORD, "new_password": strong,
                                             "new_password_confirm": strong})
    assert resp.status_code == 302


def test_registration_does_not_reveal_existing_accounts(app, make_user):
    owner = make_user("applicant", email="taken@example.org")
    answers = []
    for email in ("taken@example.org", "free@example.org"):
        client = app.test_client()
        resp = client.submit("/account/register", {"email": email, "password": "plum lantern orbit cactus",
                                                   "password_confirm": "plum lantern orbit cactus"})
        after = client.get(resp.headers["Location"])
        text = re.sub(r'value="[^"]*"|taken@example\.org|free@example\.org', "", after.get_data(as_text=True))
        answers.append((resp.status_code, resp.headers["Location"], after.status_code, text))
        assert client.get("/dashboard").status_code == 302  # nobody is signed in either way
    assert answers[0] == answers[1]
    with app.app_context():
        mail = {m.recipient: m for m in db.session.execute(select(OutboxMessage)).scalars()}
        # The owner hears that someone tried to register their address; the new address gets a confirmation link.
        assert mail["taken@example.org"].kind.endswith("/welcome_existing")
        assert "/account/reset" in mail["taken@example.org"].body_text
        assert mail["free@example.org"].kind.endswith("/welcome")
        assert "/account/confirm/" in mail["free@example.org"].body_text
        new = db.session.execute(select(User).where(User.email == "free@example.org")).scalar_one()
        assert new.confirmed_at is None
        assert db.session.get(User, owner.id).password  # untouched


def test_a_new_account_signs_in_after_confirming_its_address(app, client):
    email = "confirm.me@example.org"
    client.submit("/account/register", {"email": email, "password": PASSWORD, "password_confirm": PASSWORD})
    resp = client.submit("/account/login", {"email": email, "password": PASSWORD})
    assert client.get("/dashboard").status_code == 302
    with app.app_context():
        body = db.session.execute(select(OutboxMessage.body_text).where(OutboxMessage.recipient == email)
                                  ).scalar_one()
    link = re.search(r"http://localhost(/account/confirm/\S+)", body).group(1)
    client.get(link)
    resp = client.submit("/account/login", {"email": email, "password": PASSWORD})
    assert resp.status_code == 302
    assert client.get("/dashboard").status_code == 200


def test_a_signed_in_user_can_open_the_second_factor_set_up(login_as):
    for role in ("applicant", "finance_officer"):
        client = login_as(role)
        resp = client.get("/account/tf-setup")
        assert resp.status_code == 200, role
        assert 'name="setup"' in resp.get_data(as_text=True)


def test_flask_security_auth_tokens_are_not_issued_nor_accepted(app, make_user, client):
    user = make_user("applicant")
    token = client.csrf_token("/account/login")
    resp = client.post("/account/login?include_auth_token", json={"email": user.email, "password": PASSWORD},
                       headers={"X-CSRF-Token": token})
    assert resp.status_code == 400
    assert "authentication_token" not in resp.get_data(as_text=True)
    with app.app_context():
        minted = db.session.get(User, user.id).get_auth_token()
    anon = app.test_client()
    for kwargs in ({"query_string": {"auth_token": minted}}, {"headers": {"X-Fund-Unused-Token": minted}},
                   {"headers": {"Authentication-Token": minted}}):
        resp = anon.get("/dashboard", **kwargs)
        assert resp.status_code == 302 and "/account/login" in resp.headers["Location"], kwargs
        assert anon.get("/api/v1/me", **kwargs).status_code == 401


def test_a_deactivated_users_api_token_is_refused(app, make_user, api_as):
    client = api_as("finance_officer")
    assert client.get("/api/v1/me").status_code == 200
    with app.app_context():
        db.session.get(User, client.user.id).active = False
        db.session.commit()
    resp = client.get("/api/v1/me")
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"]


def test_accounts_made_by_an_administrator_or_the_cli_follow_the_policy_too(app, login_as):
    result = app.test_cli_runner().invoke(args=["users", "create", "weak@example.org", "--role", "auditor",
                                                "--password", "password1234"])
    assert result.exit_code == 1 and "too easy to guess" in result.output
    # An administrator invites; the invited person's password meets the same policy when they choose it.
    admin = login_as("admin")
    resp = admin.submit("/admin/users", {"email": "new.officer@example.org", "role": "finance_officer"})
    assert resp.status_code == 302
    with app.app_context():
        body = db.session.execute(select(OutboxMessage.body_text)
                                  .where(OutboxMessage.recipient == "new.officer@example.org")).scalar_one()
        assert db.session.execute(select(User.password).where(User.email == "new.officer@example.org")).scalar_one() \
            is None
    link = "/account/invitation/" + re.search(r"/account/invitation/(\S+)", body).group(1)
    resp = app.test_client().submit(link, {"password": "new.officer@example.org",
                                           "password_confirm": "new.officer@example.org"})
    assert resp.status_code == 422
    assert "The password must not be your e-mail address." in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(User).where(User.email == "weak@example.org")).first() is None
        assert db.session.execute(select(User.password).where(User.email == "new.officer@example.org")).scalar_one() \
            is None
