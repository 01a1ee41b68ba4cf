"""Staff accounts managed by administrators: invitations (a real SMTP server delivers the link), role changes,
deactivation, second-factor reset; the same rules in the portal, the API and the command line, each audited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from fund import operations
from fund.audit import AuditEvent
from fund.db import db
from fund.errors import Conflict, FundError
from fund.models import User
from tests.conftest import PASSWORD

LINK_RE = re.compile(r"https?://\S+/account/invitation/(\S+)")
NEW_PASSWORD = "lantern-orchard-violet-92"


def _user(app, user_id) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def _actions(app, user_id) -> list[str]:
    with app.app_context():
        return list(db.session.execute(
            select(AuditEvent.action).where(AuditEvent.entity_type == "user", AuditEvent.entity_id == str(user_id))
            .order_by(AuditEvent.id)).scalars())


def _deliver(app, smtp_server) -> str:
    """Send the outbox over SMTP; the path of the invitation link in the last message received."""
    result = app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    body = smtp_server.messages[-1].get_payload(decode=True).decode()
    match = LINK_RE.search(body)
    assert match, body
    return "/account/invitation/" + match.group(1)


def test_an_admin_invites_a_finance_officer_who_sets_a_password_once_and_signs_in(app, login_as, smtp_server):
    admin = login_as("admin")
    resp = admin.submit("/admin/users", {"email": "Officer@Example.org", "name": "Ana Officer",
                                         "role": "finance_officer", "language": "fr"}, page="/admin/users")
    assert resp.status_code == 302
    with app.app_context():
        invited = db.session.execute(select(User).where(User.email == "officer@example.org")).scalar_one()
        assert invited.password is None and invited.confirmed_at is None and invited.role == "finance_officer"
        invited_id = invited.id
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "officer@example.org" in page and "Invited" in page

    link = _deliver(app, smtp_server)
    message = smtp_server.messages[-1]
    assert message["To"] == "officer@example.org"
    assert "Votre compte" in message["Subject"]  # the language chosen for the invited person

    visitor = app.test_client()
    # The policy applies: the message is beside the field, nothing typed is lost but the password.
    resp = visitor.submit(link, {"name": "Ana O.", "password": "officer@example.org",
                                 "password_confirm": "officer@example.org"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="password-error"' in html and "must not be your e-mail address" in html and 'value="Ana O."' in html
    resp = visitor.submit(link, {"name": "Ana O.", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD + "x"})
    assert resp.status_code == 422 and 'id="password_confirm-error"' in resp.get_data(as_text=True)

    resp = visitor.submit(link, {"name": "Ana O.", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert resp.status_code == 302 and "/account/login" in resp.headers["Location"]
    # Single use.
    assert visitor.get(link).status_code == 410
    # The new officer signs in with the password, and must set up a second factor first.
    resp = visitor.submit("/account/login", {"email": "officer@example.org", "password": NEW_PASSWORD})
    assert resp.status_code == 302 and "tf-setup" in resp.headers["Location"]
    assert _actions(app, invited_id)[:2] == ["user.invite", "user.invitation_accepted"]
    assert _user(app, invited_id).name == "Ana O."


def test_invitation_links_expire_are_replaced_by_a_new_one_and_cannot_be_forged(app, make_user, smtp_server,
                                                                                  monkeypatch):
    admin = make_user("admin")
    with app.app_context():
        user, first = operations.invite_user("rev@example.org", "reviewer", actor=db.session.get(User, admin.id))
        db.session.commit()
        user_id = user.id
    first = "/account/invitation/" + first.rsplit("/", 1)[1]
    client = app.test_client()
    assert client.get(first).status_code == 200
    assert client.get(first[:-3] + "abc").status_code == 404  # a tampered signature

    with app.app_context():
        second = operations.resend_invitation(db.session.get(User, user_id), actor=db.session.get(User, admin.id))
        db.session.commit()
    second = "/account/invitation/" + second.rsplit("/", 1)[1]
    assert client.get(first).status_code == 410  # replaced by the newer link
    assert client.get(second).status_code == 200

    monkeypatch.setattr(operations, "STAFF_INVITATION_DAYS", -1)
    assert client.get(second).status_code == 410  # expired
    monkeypatch.setattr(operations, "STAFF_INVITATION_DAYS", 7)

    # A deactivated invitation is dead too.
    with app.app_context():
        operations.deactivate_user(db.session.get(User, user_id), actor=db.session.get(User, admin.id))
        db.session.commit()
    assert client.get(second).status_code == 410


def test_invitations_follow_the_account_rules(app, make_user, login_as):
    admin = login_as("admin")
    existing = make_user("reviewer")
    resp = admin.submit("/admin/users", {"email": existing.email, "role": "auditor"}, page="/admin/users")
    assert resp.status_code == 422 and 'id="email-error"' in resp.get_data(as_text=True)
    resp = admin.submit("/admin/users", {"email": "donor.staff@example.org", "role": "donor"}, page="/admin/users")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="donor_id-error"' in html and 'value="donor.staff@example.org"' in html
    resp = admin.submit("/admin/users", {"email": "ngo@example.org", "role": "applicant"}, page="/admin/users")
    assert resp.status_code == 422 and 'id="role-error"' in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(User).where(User.email.in_(["donor.staff@example.org",
                                                                     "ngo@example.org"]))).first() is None
    # Only administrators: the operation itself refuses anyone else.
    manager = make_user("fund_manager")
    with app.app_context(), pytest.raises(FundError) as refused:
        operations.invite_user("x@example.org", "auditor", actor=db.session.get(User, manager.id))
    assert refused.value.status == 403


def test_role_changes_and_their_refusals(app, make_user, login_as):
    admin = login_as("admin")
    reviewer = make_user("reviewer")
    resp = admin.submit(f"/admin/users/{reviewer.id}/role", {"role": "fund_manager"},
                        page=f"/admin/users/{reviewer.id}")
    assert resp.status_code == 302
    assert _user(app, reviewer.id).role == "fund_manager"
    assert "user.role" in _actions(app, reviewer.id)

    # The donor role needs a donor: the message is beside the donor field.
    resp = admin.submit(f"/admin/users/{reviewer.id}/role", {"role": "donor"}, page=f"/admin/users/{reviewer.id}")
    assert resp.status_code == 422 and 'id="donor_id-error"' in resp.get_data(as_text=True)
    # An administrator cannot change their own role (the page offers no form; the operation refuses it).
    resp = admin.submit(f"/admin/users/{admin.user.id}/role", {"role": "auditor"}, page="/admin/users")
    assert resp.status_code == 409
    assert "You cannot change your own role" in resp.get_data(as_text=True)
    assert _user(app, admin.user.id).role == "admin"


def test_the_last_active_administrator_keeps_the_role_and_access(app, make_user):
    admin = make_user("admin")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "set-role", admin.email, "--role", "auditor"])
    assert result.exit_code == 1 and "last active administrator" in result.output
    result = runner.invoke(args=["users", "deactivate", admin.email])
    assert result.exit_code == 1 and "last active administrator" in result.output
    # An invited administrator who has not chosen a password does not count.
    result = runner.invoke(args=["users", "invite", "second.admin@example.org", "--role", "admin"])
    assert result.exit_code == 0 and "/account/invitation/" in result.output
    assert runner.invoke(args=["users", "deactivate", admin.email]).exit_code == 1
    # ... and may itself be demoted or deactivated: that takes no usable administrator away.
    assert runner.invoke(args=["users", "set-role", "second.admin@example.org", "--role", "auditor"]).exit_code == 0
    other = make_user("admin")
    result = runner.invoke(args=["users", "deactivate", admin.email])
    assert result.exit_code == 0, result.output
    assert not _user(app, admin.id).active
    result = runner.invoke(args=["users", "set-role", other.email, "--role", "auditor"])
    assert result.exit_code == 1  # now `other` is the last one
    assert runner.invoke(args=["users", "reactivate", admin.email]).exit_code == 0
    assert _user(app, admin.id).active


def test_a_member_of_an_applicant_organisation_keeps_the_applicant_role(app, make_user):
    from tests.grants.factories import organisation_of

    applicant = make_user("applicant")
    with app.app_context():
        organisation_of(applicant, complete=False)
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["users", "set-role", applicant.email, "--role", "reviewer"])
    assert result.exit_code == 1 and "applicant organisation" in result.output
    assert _user(app, applicant.id).role == "applicant"
    # Without an organisation (signed up, nothing more) the account may still change role.
    loose = make_user("applicant")
    assert app.test_cli_runner().invoke(args=["users", "set-role", loose.email, "--role", "reviewer"]).exit_code == 0


def test_a_deactivated_user_cannot_sign_in_nor_use_the_api_and_loses_their_session(app, make_user, login_as,
                                                                                   api_token, sign_in):
    admin = login_as("admin")
    officer = make_user("finance_officer")
    session = login_as(officer)
    secret = api_token(officer)
    headers = {"Authorization": f"Bearer {secret}"}
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 200

    resp = admin.submit(f"/admin/users/{officer.id}/deactivate", page=f"/admin/users/{officer.id}")
    assert resp.status_code == 302
    assert session.get("/dashboard").status_code == 302  # signed out
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 401
    client = app.test_client()
    resp = client.submit("/account/login", {"email": officer.email, "password": PASSWORD})
    assert resp.status_code == 200 and client.get("/dashboard").status_code == 302
    assert _actions(app, officer.id)[-1] == "user.deactivate"

    # Deactivating oneself is refused.
    resp = admin.submit(f"/admin/users/{admin.user.id}/deactivate", page="/admin/users")
    assert resp.status_code == 409 and _user(app, admin.user.id).active

    resp = admin.submit(f"/admin/users/{officer.id}/reactivate", page=f"/admin/users/{officer.id}")
    assert resp.status_code == 302
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 200
    assert sign_in(app.test_client(), _user(app, officer.id)).status_code == 302


def test_an_admin_resets_a_lost_second_factor(app, make_user, login_as):
    admin = login_as("admin")
    manager = make_user("fund_manager")
    session = login_as(manager)
    page = admin.get(f"/admin/users/{manager.id}").get_data(as_text=True)
    assert "Reset the second factor" in page
    resp = admin.submit(f"/admin/users/{manager.id}/reset-two-factor", page=f"/admin/users/{manager.id}")
    assert resp.status_code == 302
    fresh = _user(app, manager.id)
    assert fresh.tf_totp_secret is None and fresh.tf_primary_method is None
    assert session.get("/dashboard").status_code == 302  # their sessions ended
    client = app.test_client()
    resp = client.submit("/account/login", {"email": manager.email, "password": PASSWORD})
    assert resp.status_code == 302 and "tf-setup" in resp.headers["Location"]
    assert "user.two_factor_reset" in _actions(app, manager.id)
    # Nothing left to reset.
    resp = admin.submit(f"/admin/users/{manager.id}/reset-two-factor", page=f"/admin/users/{manager.id}")
    assert resp.status_code == 409


def test_the_users_page_shows_status_second_factor_and_last_sign_in(app, make_user, login_as):
    auditor = login_as("auditor")
    officer = make_user("finance_officer", name="Zed Officer")
    login_as(officer)
    html = auditor.get("/admin/users?q=zed").get_data(as_text=True)
    assert "Zed Officer" in html and auditor.user.email not in html
    detail = auditor.get(f"/admin/users/{officer.id}").get_data(as_text=True)
    assert "Finance officer" in detail and "Last sign-in" in detail and "—" not in detail.split("Last sign-in")[1][:80]
    assert "Deactivate the account" not in detail  # auditors read only
    assert auditor.submit(f"/admin/users/{officer.id}/deactivate", page="/admin/users").status_code == 403
    auditor.submit("/language", {"lang": "fr", "next": "/"}, page="/")
    french = auditor.get(f"/admin/users/{officer.id}").get_data(as_text=True)
    assert "Chargé des finances" in french and "Dernière connexion" in french and "Actif" in french


def test_the_api_offers_the_same_operations(app, make_user, api_as):
    admin = api_as("admin")
    resp = admin.post("/api/v1/users", json={"email": "api.invite@example.org", "role": "auditor"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["invited"] is True and body["active"] is True and body["role"] == "auditor"
    user_id = body["id"]

    resp = admin.post("/api/v1/users", json={"email": "api.invite@example.org", "role": "auditor"})
    assert resp.status_code == 422 and "email" in resp.get_json()["error"]["fields"]
    resp = admin.post("/api/v1/users", json={"email": "d@example.org", "role": "donor"})
    assert resp.status_code == 422 and "donor_id" in resp.get_json()["error"]["fields"]
    resp = admin.post(f"/api/v1/users/{user_id}/role", json={"role": "nobody"})
    assert resp.status_code == 422 and "role" in resp.get_json()["error"]["fields"]

    resp = admin.post(f"/api/v1/users/{user_id}/role", json={"role": "fund_manager"})
    assert resp.status_code == 200 and resp.get_json()["role"] == "fund_manager"
    resp = admin.post(f"/api/v1/users/{user_id}/deactivate")
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    assert admin.post(f"/api/v1/users/{user_id}/deactivate").status_code == 409
    assert admin.post(f"/api/v1/users/{user_id}/reactivate").status_code == 200
    assert admin.post(f"/api/v1/users/{user_id}/resend-invitation").status_code == 200
    assert admin.post(f"/api/v1/users/{user_id}/reset-two-factor").status_code == 409
    assert admin.post(f"/api/v1/users/{admin.user.id}/deactivate").status_code == 409
    assert admin.post("/api/v1/users/999999/deactivate").status_code == 404
    assert admin.get(f"/api/v1/users/{user_id}/account").get_json()["email"] == "api.invite@example.org"

    manager = api_as("fund_manager")
    assert manager.post(f"/api/v1/users/{user_id}/deactivate").status_code == 403


def test_the_openapi_document_lists_the_refusals(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/users/{user_id}/role", "/api/v1/users/{user_id}/deactivate",
                 "/api/v1/users/{user_id}/reset-two-factor"):
        responses = spec["paths"][path]["post"]["responses"]
        assert {"200", "404", "409", "422"} <= set(responses), (path, responses.keys())
    invite = spec["paths"]["/api/v1/users"]["post"]
    assert {"201", "409", "422"} <= set(invite["responses"])
    assert "donor_id" in spec["components"]["schemas"]["InviteUserIn"]["properties"]


def test_operations_check_their_rules_directly(app, make_user):
    admin_id, reviewer_id = make_user("admin").id, make_user("reviewer").id
    with app.app_context():
        admin, reviewer = db.session.get(User, admin_id), db.session.get(User, reviewer_id)
        with pytest.raises(Conflict):
            operations.deactivate_user(admin, actor=admin)
        with pytest.raises(Conflict):
            operations.set_role(admin, "auditor", actor=admin)
        with pytest.raises(FundError) as refused:
            operations.set_role(reviewer, "donor", donor_id=999999, actor=admin)
        assert "donor_id" in refused.value.fields
        with pytest.raises(FundError) as refused:
            operations.deactivate_user(admin, actor=reviewer)
        assert refused.value.status == 403
        db.session.rollback()


def test_an_invitation_link_works_once_under_concurrent_requests(app, make_user):
    import threading

    from flask_security import verify_password

    admin = make_user("admin")
    with app.test_request_context():
        user, link = operations.invite_user("race@example.org", "auditor", actor=db.session.get(User, admin.id))
        db.session.commit()
        user_id = user.id
    path = "/account/invitation/" + link.rsplit("/", 1)[1]
    clients = [app.test_client() for _ in range(5)]
    tokens = [c.csrf_token(path) for c in clients]
    passwords = [f"{word}-orchard-violet-{i}2" for i, word in enumerate(["lantern", "harbour", "meadow", "copper",
                                                                          "thistle"])]
    results: list = [None] * 5
    barrier = threading.Barrier(5)

    def accept(i):
        barrier.wait()
        results[i] = clients[i].post(path, data={"csrf_token": tokens[i], "password": passwords[i],
                                                 "password_confirm": passwords[i]}).status_code

    threads = [threading.Thread(target=accept, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == [302, 410, 410, 410, 410], results
    winner = passwords[results.index(302)]
    with app.app_context():
        assert verify_password(winner, db.session.get(User, user_id).password)
    assert _actions(app, user_id).count("user.invitation_accepted") == 1
