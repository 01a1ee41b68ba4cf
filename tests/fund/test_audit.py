"""The audit trail: hash chain, tamper detection (CLI and API), append-only on PostgreSQL, no fork under
concurrency, browsing and CSV export."""

from __future__ import annotations

import csv
import io
import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from fund import audit
from fund.audit import AuditEvent
from fund.db import db


def write_events(app, n: int) -> None:
    with app.app_context():
        for i in range(n):
            audit.record("test.event", entity_type="thing", entity_id=i, summary=f"event {i}",
                         changes={"amount": ["1.00", f"{i}.50"]})
        db.session.commit()


def cli_verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_untouched_chain_verifies(app):
    write_events(app, 25)
    result = cli_verify(app)
    assert result.exit_code == 0
    assert "25 events verified" in result.output


def test_empty_chain_verifies(app):
    result = cli_verify(app)
    assert result.exit_code == 0 and "0 events" in result.output


def test_events_carry_who_what_when(app, login_as):
    client = login_as("applicant")
    client.submit("/account/tokens", {"name": "script"}, headers={"X-Request-ID": "req-12345"})
    with app.app_context():
        ev = db.session.execute(select(AuditEvent).where(AuditEvent.action == "api_token.create")).scalar_one()
        assert ev.actor == client.user.email and ev.actor_id == client.user.id
        assert ev.entity_type == "api_token" and ev.entity_id
        assert ev.request_id == "req-12345" and ev.ip_address == "127.0.0.1"
        assert ev.occurred_at.tzinfo is not None
        assert ev.hash == ev.compute_hash()
        assert ev.mac == audit.link_mac(app.config["AUDIT_HMAC_KEY"].encode(), ev.hash)
        # The token belongs to the user: the event is about them, and their e-mail stays out of the core.
        assert ev.subjects == [["user", client.user.id]]
        assert client.user.email not in audit.canonical_json(ev.core())
        assert ev.personal_digest == audit.personal_digest(ev.personal.salt, ev.personal.content())


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_personal SET summary = 'nothing happened' WHERE event_id = 4",
        "UPDATE audit_personal SET changes = NULL WHERE event_id = 4",
        "UPDATE audit_personal SET actor = 'someone@else.org' WHERE event_id = 4",
        "UPDATE audit_personal SET ip_address = '10.0.0.1' WHERE event_id = 4",
        "UPDATE audit_personal SET salt = NULL WHERE event_id = 4",
        "DELETE FROM audit_personal WHERE event_id = 4",
        "UPDATE audit_event SET action = 'test.nothing' WHERE id = 4",
        "UPDATE audit_event SET subjects = '[[\"user\", 1]]' WHERE id = 4",
        "UPDATE audit_event SET occurred_at = '2020-01-01 00:00:00' WHERE id = 4",
        "UPDATE audit_event SET mac = '" + "0" * 64 + "' WHERE id = 4",
    ],
)
def test_an_edited_event_is_named(app, tamper, statement):
    write_events(app, 8)
    tamper(statement)
    result = cli_verify(app)
    assert result.exit_code != 0
    assert "first bad event 4" in result.output


def test_a_deleted_event_is_named(app, tamper):
    write_events(app, 8)
    tamper("DELETE FROM audit_event WHERE id = 5")
    result = cli_verify(app)
    assert result.exit_code != 0 and "first bad event 5" in result.output


def test_a_deleted_last_event_is_named(app, tamper):
    write_events(app, 8)
    tamper("DELETE FROM audit_event WHERE id = 8")
    result = cli_verify(app)
    assert result.exit_code != 0 and "first bad event 8" in result.output


def test_swapped_events_are_named(app, tamper):
    write_events(app, 8)
    tamper(
        "UPDATE audit_event SET id = -3 WHERE id = 3",
        "UPDATE audit_event SET id = 3 WHERE id = 6",
        "UPDATE audit_event SET id = 6 WHERE id = -3",
    )
    result = cli_verify(app)
    assert result.exit_code != 0 and "first bad event 3" in result.output


def test_an_inserted_event_is_named(app, tamper):
    write_events(app, 6)
    with app.app_context():
        third = db.session.get(AuditEvent, 3)
        prev_hash, ev_hash = third.prev_hash, third.hash
    tamper(
        "UPDATE audit_event SET id = id + 100 WHERE id >= 4",
        "UPDATE audit_event SET id = id - 99 WHERE id >= 100",
        "INSERT INTO audit_event (id, occurred_at, action, entity_type, subjects, personal_digest, prev_hash, "
        f"hash, mac) VALUES (4, '2026-01-01 00:00:00', 'x', 'thing', '[]', '{'e' * 64}', '{ev_hash}', '{'f' * 64}', "
        f"'{'d' * 64}')",
    )
    result = cli_verify(app)
    assert result.exit_code != 0 and "first bad event 4" in result.output
    assert prev_hash  # the forged row linked to the real chain and still failed


def test_api_verify_reports_the_first_bad_event(app, api_as, tamper):
    write_events(app, 5)
    auditor = api_as("auditor")
    # + the user and its token
    assert auditor.get("/api/v1/audit/verify").json == {"ok": True, "events": 5 + 2, "checkpoints": 0, "erased": 0}
    tamper("UPDATE audit_personal SET summary = 'x' WHERE event_id = 2")
    body = api_as("admin").get("/api/v1/audit/verify").json
    assert body["ok"] is False and body["first_bad_event"] == 2 and body["events"] == 1
    assert api_as("finance_officer").get("/api/v1/audit/verify").status_code == 403


def test_postgresql_rejects_update_and_delete_even_by_the_owner(app, owner_engine):
    if owner_engine.dialect.name != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's")
    write_events(app, 1)
    with app.app_context():
        audit.record("test.event", entity_type="thing", entity_id=2, summary="about", subjects=[("organisation", 3)])
        db.session.commit()
    for sql in ("UPDATE audit_event SET action = 'x' WHERE id = 1", "DELETE FROM audit_event WHERE id = 2",
                "UPDATE audit_subject SET subject_id = 0", "DELETE FROM audit_subject"):
        with pytest.raises(DBAPIError, match="append-only"), owner_engine.begin() as conn:
            conn.execute(text(sql))
    assert cli_verify(app).exit_code == 0


def test_concurrent_writers_do_not_fork_the_chain(app):
    errors = []

    def writer(n):
        try:
            write_events(app, n)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(10,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = cli_verify(app)
    assert result.exit_code == 0 and "60 events verified" in result.output


def test_audit_screen_filters_and_exports(app, login_as):
    write_events(app, 3)
    with app.app_context():
        audit.record("other.event", entity_type="widget", entity_id=7, summary="=HYPERLINK(\"http://x\")")
        db.session.commit()
    client = login_as("auditor")
    page = client.get("/audit?entity_type=widget").get_data(as_text=True)
    assert "other.event" in page and "test.event" not in page
    page = client.get(f"/audit?actor={client.user.email}").get_data(as_text=True)
    assert "user.login" in page and "other.event" not in page
    resp = client.get("/audit.csv?entity_type=widget")
    assert resp.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert rows[0][:3] == ["id", "occurred_at", "actor"]
    assert len(rows) == 2 and rows[1][3] == "other.event"
    assert rows[1][6].startswith("'=")  # formulas are neutralised
    verify = client.submit("/audit/verify", page="/audit", follow_redirects=True)
    assert "intact" in verify.get_data(as_text=True)
    assert client.get("/audit?from=not-a-date").status_code == 200


def test_audit_screen_is_closed_to_other_roles(login_as):
    for role in ("applicant", "fund_manager", "finance_officer", "reviewer", "donor"):
        assert login_as(role).get("/audit").status_code == 403
