"""Anonymising a user (operation, admin page, command line) and a user's download of their own data."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from fund import audit, operations, privacy
from fund.audit import AuditEvent, AuditPersonal
from fund.db import db
from fund.errors import FundError
from fund.models import ApiToken, User
from tests.conftest import PASSWORD


def _mentions(text: str) -> int:
    """How many events' personal parts still mention ``text``."""
    rows = db.session.execute(select(AuditPersonal)).scalars()
    return sum(1 for p in rows if text in json.dumps([p.actor, p.summary, p.changes, p.ip_address]))


def test_anonymising_replaces_the_personal_data_and_erases_it_from_the_audit_trail(ctx, make_user):
    admin, user = make_user("admin"), make_user("reviewer", email="amina.k@example.org", name="Amina K")
    admin, user = db.session.get(User, admin.id), db.session.get(User, user.id)
    user.tf_phone_number = "+221771234567"
    operations.create_token(user, "laptop")
    operations.set_language(user, "fr")
    db.session.commit()
    assert _mentions("amina.k@example.org") >= 3

    privacy.anonymise_user(user, actor=admin)
    db.session.commit()
    user_id, admin_id = user.id, admin.id
    db.session.remove()

    user, admin = db.session.get(User, user_id), db.session.get(User, admin_id)
    assert user.email == f"anonymised-{user.id}@anonymised.invalid"
    assert (user.name, user.tf_phone_number, user.password, user.active) == (None, None, None, False)
    assert db.session.execute(select(ApiToken.revoked_at)).scalar_one() is not None
    assert _mentions("amina.k@example.org") == 0 and _mentions("Amina K") == 0
    assert db.session.execute(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "user.anonymise")).scalar_one() == 1
    assert audit.verify().ok

    with pytest.raises(FundError) as refused:
        privacy.anonymise_user(user, actor=admin)
    assert refused.value.status == 409


def test_only_an_administrator_anonymises_and_never_themselves(ctx, make_user):
    manager, admin, user = make_user("fund_manager"), make_user("admin"), make_user("applicant")
    manager, admin, user = (db.session.get(User, u.id) for u in (manager, admin, user))
    email = user.email
    with pytest.raises(FundError) as refused:
        privacy.anonymise_user(user, actor=manager)
    assert refused.value.status == 403
    with pytest.raises(FundError) as refused:
        privacy.anonymise_user(admin, actor=admin)
    assert refused.value.status == 409
    db.session.rollback()
    assert db.session.get(User, user.id).email == email


def test_the_admin_page_anonymises_and_the_person_can_no_longer_sign_in(app, login_as, make_user, sign_in):
    admin = login_as("admin")
    user = make_user("applicant", name="Jo Bloggs")
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "Anonymise a user" in page

    resp = admin.submit("/admin/users/anonymise", {"email": user.email}, page="/admin/users")
    assert resp.status_code == 422
    assert 'id="anonymise_confirm-error"' in resp.get_data(as_text=True)

    resp = admin.submit("/admin/users/anonymise", {"email": admin.user.email, "confirm": "yes"}, page="/admin/users")
    assert resp.status_code == 409
    assert "You cannot anonymise your own account." in resp.get_data(as_text=True)

    resp = admin.submit("/admin/users/anonymise", {"email": user.email, "confirm": "yes"}, page="/admin/users")
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(User, user.id).name is None
    client = app.test_client()
    resp = sign_in(client, user, PASSWORD)
    assert client.get("/dashboard").status_code == 302  # still signed out


def test_the_command_line_anonymises_as_a_named_administrator(app, make_user):
    admin = make_user("admin")
    user = make_user("donor")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["privacy", "anonymise-user", user.email, "--as", user.email])
    assert result.exit_code == 1 and "not an administrator" in result.output
    result = runner.invoke(args=["privacy", "anonymise-user", user.email, "--as", admin.email])
    assert result.exit_code == 0, result.output
    assert f"User {user.id} anonymised" in result.output
    with app.app_context():
        assert privacy.is_anonymised(db.session.get(User, user.id))
        assert audit.verify().ok
    result = runner.invoke(args=["privacy", "anonymise-user", f"anonymised-{user.id}@anonymised.invalid",
                                 "--as", admin.email])
    assert result.exit_code == 1 and "already anonymised" in result.output


def test_a_user_downloads_their_own_data_and_nobody_else_s(app, login_as, make_user):
    other = login_as("applicant")
    me = login_as("reviewer")
    page = me.get("/account/tokens").get_data(as_text=True)
    assert 'href="/account/data.json"' in page

    resp = me.get("/account/data.json")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"] == "attachment; filename=my-data.json"
    data = json.loads(resp.get_data(as_text=True))
    assert data["profile"]["email"] == me.user.email and data["roles"] == ["reviewer"]
    assert data["sign_in"]["count"] == 1 and len(data["sign_in"]["history"]) == 1
    actions = [e["action"] for e in data["audit_events"]]
    assert "user.create" in actions and "user.login" in actions
    text = json.dumps(data)
    assert other.user.email not in text

    theirs = json.loads(other.get("/account/data.json").get_data(as_text=True))
    assert theirs["profile"]["email"] == other.user.email and me.user.email not in json.dumps(theirs)


def test_the_download_costs_the_same_queries_whatever_the_history(app, login_as):
    from sqlalchemy import event

    me = login_as("reviewer")
    with app.app_context():
        operations.create_token(db.session.get(User, me.user.id), "first")
        db.session.commit()

    def queries() -> int:
        seen = []
        with app.app_context():
            engine = db.engine
        listener = lambda *args, **kwargs: seen.append(1)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert me.get("/account/data.json").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    queries()  # the first request after sign-in does more (the session is refreshed)
    before = queries()
    with app.app_context():
        user = db.session.get(User, me.user.id)
        for i in range(30):
            operations.create_token(user, f"t{i}")
        db.session.commit()
    assert queries() == before
