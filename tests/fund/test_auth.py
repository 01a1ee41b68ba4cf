"""Sign-in, second factor, session revocation, CSRF, throttling, API tokens, password reset, CLI accounts."""

from __future__ import annotations

import re

from sqlalchemy import select

from fund.db import db
from fund.mail import OutboxMessage
from fund.models import ApiToken, User
from tests.conftest import PASSWORD, totp_code


def test_sign_in_and_out_of_the_portal(client, make_user, sign_in):
    user = make_user("applicant")
    assert client.get("/dashboard").status_code == 302
    resp = sign_in(client, user)
    assert resp.status_code == 302
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert user.email in page.get_data(as_text=True)


def test_wrong_password_is_refused(client, make_user, sign_in):
    user = make_user("applicant")
    resp = sign_in(client, user, password="not-the-password")
    assert resp.status_code == 200  # the form again
    assert client.get("/dashboard").status_code == 302


def test_logout_revokes_the_session_cookie(app, make_user, login_as):
    user = make_user("applicant")
    client = login_as(user)
    stolen = client.get_cookie("session").value
    assert client.submit("/account/logout", page="/dashboard").status_code == 302
    assert client.get("/dashboard").status_code == 302
    # Replaying the cookie captured before logout does not sign anyone in.
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    resp = replay.get("/dashboard")
    assert resp.status_code == 302 and "/account/login" in resp.headers["Location"]


def test_password_change_revokes_other_sessions(app, make_user, login_as):
    user = make_user("applicant")
    laptop = login_as(user)
    phone = login_as(user)
    assert phone.get("/dashboard").status_code == 200
    resp = laptop.submit("/account/change", {"password": PASSWORD, "new_password": "another-long-password",
                                             "new_password_confirm": "another-long-password"})
    assert resp.status_code == 302
    assert laptop.get("/dashboard").status_code == 200  # the session that changed it is renewed
    resp = phone.get("/dashboard")
    assert resp.status_code == 302 and "/account/login" in resp.headers["Location"]
    with app.app_context():
        actions = [e.action for e in db.session.execute(select(__import__("fund.audit", fromlist=["AuditEvent"])
                                                              .AuditEvent)).scalars()]
    assert "user.password_change" in actions


def test_staff_need_the_second_factor(app, make_user, client):
    manager = make_user("fund_manager")
    resp = client.submit("/account/login", {"email": manager.email, "password": PASSWORD})
    assert resp.status_code == 302 and "tf-validate" in resp.headers["Location"]
    # Password alone: staff pages stay closed.
    for page in ("/dashboard", "/audit", "/admin/users"):
        r = client.get(page)
        assert r.status_code == 302 and "/account/login" in r.headers["Location"], page
    # A wrong code does not open them either.
    client.submit("/account/tf-validate", {"code": "000000"}, page="/account/tf-validate")
    assert client.get("/dashboard").status_code == 302
    resp = client.submit("/account/tf-validate", {"code": totp_code(app, manager)}, page="/account/tf-validate")
    assert resp.status_code == 302
    assert client.get("/dashboard").status_code == 200


def test_staff_without_a_second_factor_must_set_one_up(app, make_user, client):
    officer = make_user("finance_officer", two_factor=False)
    resp = client.submit("/account/login", {"email": officer.email, "password": PASSWORD})
    assert resp.status_code == 302 and "tf-setup" in resp.headers["Location"]
    assert client.get("/dashboard").status_code == 302


def test_applicants_sign_in_without_a_second_factor(make_user, client, sign_in):
    user = make_user("applicant")
    assert sign_in(client, user).headers["Location"].endswith("/dashboard")


def test_form_without_csrf_token_is_refused(app, make_user, login_as):
    client = login_as("applicant")
    resp = client.post("/account/tokens", data={"name": "no token"})
    assert resp.status_code == 400
    with app.app_context():
        assert db.session.execute(select(ApiToken)).first() is None
    # The sign-in form too.
    anon = app.test_client()
    user = make_user("applicant")
    resp = anon.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code in (200, 400)
    assert anon.get("/dashboard").status_code == 302


def test_sign_in_is_throttled_after_repeated_failures(app, make_user, client):
    user = make_user("applicant")
    for _ in range(5):
        resp = client.submit("/account/login", {"email": user.email, "password": "wrong-password!"},
                             page="/account/login")
        assert resp.status_code == 200
    resp = client.submit("/account/login", {"email": user.email, "password": PASSWORD}, page="/account/login")
    assert resp.status_code == 429
    assert client.get("/dashboard").status_code == 302
    # From another address, the same account is throttled too (per e-mail counter).
    other = app.test_client()
    resp = other.submit("/account/login", {"email": user.email, "password": PASSWORD},
                        environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert resp.status_code == 429


def test_successful_sign_ins_do_not_count_towards_the_limit(make_user, login_as):
    user = make_user("applicant")
    for _ in range(7):
        login_as(user)


def test_api_token_life_cycle(app, make_user, login_as):
    client = login_as("applicant")
    page = client.submit("/account/tokens", {"name": "reporting script"})
    assert page.status_code == 200
    secret = re.search(r'<code class="secret">([^<]+)</code>', page.get_data(as_text=True)).group(1)
    api = app.test_client()
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json["email"] == client.user.email
    with app.app_context():
        token = db.session.execute(select(ApiToken)).scalar_one()
        assert token.token_hash != secret and secret not in token.prefix + token.name  # only the hash is stored
        token_id = token.id
    # The listing never shows the secret again.
    assert secret not in client.get("/account/tokens").get_data(as_text=True)
    client.submit(f"/account/tokens/{token_id}/revoke", page="/account/tokens")
    resp = api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "unauthorized"


def test_api_ignores_session_cookies_and_bad_tokens(app, login_as):
    client = login_as("admin")
    assert client.get("/api/v1/me").status_code == 401
    assert app.test_client().get("/api/v1/me", headers={"Authorization": "Bearer vtf_nope"}).status_code == 401
    assert app.test_client().get("/api/v1/me", headers={"Authorization": "Basic Zm9vOmJhcg=="}).status_code == 401


def test_a_user_cannot_revoke_someone_elses_token(app, make_user, login_as, api_token):
    owner = make_user("applicant")
    secret = api_token(owner)
    intruder = login_as("applicant")
    with app.app_context():
        token_id = db.session.execute(select(ApiToken.id)).scalar_one()
    assert intruder.submit(f"/account/tokens/{token_id}/revoke", page="/account/tokens").status_code == 404
    assert app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_password_reset_by_e_mailed_token(app, make_user, client):
    user = make_user("applicant")
    resp = client.submit("/account/reset", {"email": user.email})
    assert resp.status_code in (200, 302)
    with app.app_context():
        msg = db.session.execute(select(OutboxMessage).where(OutboxMessage.recipient == user.email)).scalar_one()
        link = re.search(r"(/account/reset/[^\s\"<]+)", msg.body_text).group(1)
    resp = client.submit(link, {"password": "brand-new-password", "password_confirm": "brand-new-password"})
    assert resp.status_code == 302
    fresh = app.test_client()
    resp = fresh.submit("/account/login", {"email": user.email, "password": "brand-new-password"})
    assert resp.status_code == 302 and fresh.get("/dashboard").status_code == 200
    # The token is single-use: the password changed, so the link no longer works.
    again = app.test_client().get(link)
    assert again.status_code in (200, 302)
    assert "brand-new" not in again.get_data(as_text=True)


def test_cli_creates_users_and_tokens(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "Finance@Example.org", "--role", "finance_officer",
                                 "--password", "a-long-password"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "create", "finance@example.org", "--role", "finance_officer",
                                 "--password", "a-long-password"])
    assert result.exit_code == 1 and "already exists" in result.output
    result = runner.invoke(args=["users", "create", "x@example.org", "--role", "pilot", "--password", "a-long-pw!"])
    assert result.exit_code != 0
    result = runner.invoke(args=["users", "create-token", "finance@example.org"])
    assert result.exit_code == 0
    secret = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"vtf_[A-Za-z0-9_-]{40,}", secret)
    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json["email"] == "finance@example.org" and me.json["role"] == "finance_officer"
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == "finance@example.org")).scalar_one()
        assert user.password and user.password.startswith("$argon2")
    result = runner.invoke(args=["users", "create", "ngo@example.org", "--role", "applicant",
                                 "--password", "short"])
    assert result.exit_code == 1 and "password" in result.output


def test_role_change_revokes_sessions(app, make_user, login_as):
    user = make_user("applicant")
    client = login_as(user)
    result = app.test_cli_runner().invoke(args=["users", "set-role", user.email, "--role", "reviewer"])
    assert result.exit_code == 0
    assert client.get("/dashboard").status_code == 302
