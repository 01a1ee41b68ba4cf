"""The anchors of the audit trail: the HMAC key the database never holds, the signed checkpoints outside it,
and erasure of personal data that the chain survives. Every tampering is done as an insider with full
database access would do it (raw SQL, triggers and foreign keys off), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from alembic import command as alembic_command
from sqlalchemy import func, select, text

from fund import audit, checkpoints, create_app
from fund.audit import ERASED, AuditEvent, AuditPersonal, AuditSubject
from fund.config import ConfigError
from fund.db import db
from fund.models import User
from tests.fund.test_audit import cli_verify, write_events

FORGER_KEY = b"a key that is not the chain's key"


@pytest.fixture(autouse=True)
def checkpoint_dir(app):
    """Each test starts and ends without checkpoints."""
    with app.app_context():
        path = checkpoints.checkpoint_dir()
    shutil.rmtree(path, ignore_errors=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def checkpoint(app) -> str:
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    return result.output


def link(app, event_id: int) -> AuditEvent:
    with app.app_context():
        ev = db.session.get(AuditEvent, event_id)
        db.session.expunge_all()
        return ev


def rechain(app, owner_engine, *, key: bytes, start: int) -> None:
    """Recompute every commitment, hash and code from event ``start`` on, and the head, as someone who can write
    the tables (and holds ``key``) would after editing event ``start``."""
    with app.app_context():
        events = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).unique().scalars().all()
        prev = events[start - 2].hash if start > 1 else audit.GENESIS_HASH
        updates = []
        for ev in events[start - 1:]:
            if ev.personal.salt:
                ev.personal_digest = audit.personal_digest(ev.personal.salt, ev.personal.content())
            new_hash = audit.link_hash(prev, ev.core())
            updates.append({"id": ev.id, "p": prev, "h": new_hash, "m": audit.link_mac(key, new_hash),
                            "d": ev.personal_digest})
            prev = new_hash
        db.session.rollback()
    with owner_engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("UPDATE audit_event SET prev_hash = :p, hash = :h, mac = :m, personal_digest = :d "
                          "WHERE id = :id"), updates)
        conn.execute(text("UPDATE audit_head SET last_hash = :h WHERE id = 1"), {"h": prev})


def delete_events(*ids: int) -> list[str]:
    where = ", ".join(str(i) for i in ids)
    return [f"DELETE FROM audit_subject WHERE event_id IN ({where})",
            f"DELETE FROM audit_personal WHERE event_id IN ({where})",
            f"DELETE FROM audit_event WHERE id IN ({where})"]


def failure(app) -> str:
    result = cli_verify(app)
    assert result.exit_code == 1, result.output
    return result.output


# The key ---------------------------------------------------------------------------------------------------------


def test_a_chain_recomputed_without_the_key_is_named(app, owner_engine, tamper):
    write_events(app, 8)
    tamper("UPDATE audit_personal SET summary = 'nothing happened' WHERE event_id = 3")
    rechain(app, owner_engine, key=FORGER_KEY, start=3)
    out = failure(app)
    assert "first bad event 3" in out and "without the key" in out


def test_a_hash_recomputed_without_the_previous_hash_is_named(app, owner_engine, tamper):
    """Even someone holding the key cannot make a link that leaves out the previous hash."""
    write_events(app, 8)
    last = link(app, 8)
    last.action = "test.nothing"
    unlinked = hashlib.sha256(audit.canonical_json(last.core()).encode()).hexdigest()
    mac = audit.link_mac(app.config["AUDIT_HMAC_KEY"].encode(), unlinked)
    tamper(f"UPDATE audit_event SET action = 'test.nothing', hash = '{unlinked}', mac = '{mac}' WHERE id = 8",
           f"UPDATE audit_head SET last_hash = '{unlinked}' WHERE id = 1")
    out = failure(app)
    assert "first bad event 8" in out and "content does not match its hash" in out


def test_an_edit_of_the_last_event_is_named(app, owner_engine, tamper):
    write_events(app, 8)
    tamper("UPDATE audit_personal SET summary = 'nothing happened' WHERE event_id = 8")
    assert "first bad event 8" in failure(app)
    rechain(app, owner_engine, key=FORGER_KEY, start=8)  # commitment, hash and head recomputed: only the code is wrong
    assert "first bad event 8 (authentication code" in failure(app)


# The checkpoints -------------------------------------------------------------------------------------------------


def test_checkpoint_signs_the_head_and_verify_counts_it(app, checkpoint_dir, api_as):
    write_events(app, 5)
    out = checkpoint(app)
    assert "event 5" in out
    (path,) = checkpoint_dir.glob("*.json")
    document = json.loads(path.read_text())
    assert document["checkpoint"]["event_id"] == 5 and document["checkpoint"]["hash"] == link(app, 5).hash
    write_events(app, 2)
    checkpoint(app)
    result = cli_verify(app)
    assert result.exit_code == 0 and "7 events verified against 2 checkpoints" in result.output
    body = api_as("auditor").get("/api/v1/audit/verify").json
    assert body["ok"] is True and body["checkpoints"] == 2 and body["events"] == 7 + 2  # + the auditor, its token


def test_an_empty_chain_can_be_checkpointed(app, checkpoint_dir):
    checkpoint(app)
    assert cli_verify(app).exit_code == 0
    write_events(app, 1)
    assert cli_verify(app).exit_code == 0


def test_a_removed_tail_with_a_rewound_head_is_detected(app, tamper):
    write_events(app, 8)
    checkpoint(app)
    six = link(app, 6)
    tamper(*delete_events(7, 8), f"UPDATE audit_head SET last_id = 6, last_hash = '{six.hash}' WHERE id = 1")
    out = failure(app)
    assert "first bad event 7" in out and "removed and the head rewound" in out


def test_a_chain_recomputed_with_the_key_is_caught_by_the_checkpoint(app, owner_engine, tamper, checkpoint_dir,
                                                                     tmp_path):
    write_events(app, 8)
    checkpoint(app)
    tamper("UPDATE audit_personal SET summary = 'nothing happened' WHERE event_id = 3")
    rechain(app, owner_engine, key=app.config["AUDIT_HMAC_KEY"].encode(), start=3)
    # Whoever holds the key can re-chain so that the chain alone verifies...
    shutil.move(checkpoint_dir, tmp_path / "kept")
    assert cli_verify(app).exit_code == 0
    # ...but not past a checkpoint written before.
    shutil.move(tmp_path / "kept", checkpoint_dir)
    out = failure(app)
    assert "first bad event 8" in out and "recomputed" in out


@pytest.mark.parametrize("keep_head", [False, True])
def test_a_wiped_table_is_detected(app, tamper, keep_head):
    write_events(app, 8)
    checkpoint(app)
    tamper("DELETE FROM audit_subject", "DELETE FROM audit_personal", "DELETE FROM audit_event",
           *([] if keep_head else ["DELETE FROM audit_head"]))
    out = failure(app)
    assert "first bad event 1" in out
    assert ("event 1 is missing" if keep_head else "audit table is empty") in out


def test_truncate_by_the_owner_is_detected_on_postgresql(app, owner_engine):
    if owner_engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    write_events(app, 8)
    checkpoint(app)
    with owner_engine.begin() as conn:  # no trigger stops TRUNCATE; the owner may run it
        conn.execute(text("TRUNCATE audit_subject, audit_personal, audit_event, audit_head"))
    assert "audit table is empty" in failure(app)


def test_a_forged_or_damaged_checkpoint_fails(app, checkpoint_dir, tmp_path):
    write_events(app, 3)
    checkpoint(app)
    (path,) = checkpoint_dir.glob("*.json")
    genuine = path.read_text()
    document = json.loads(genuine)
    document["checkpoint"]["event_id"] = 2
    path.write_text(json.dumps(document))
    assert "bad signature" in failure(app)
    # Signed with another key: the signature does not match the configured public key.
    path.unlink()
    old = app.config["AUDIT_SIGNING_KEY_FILE"]
    app.config["AUDIT_SIGNING_KEY_FILE"] = str(tmp_path / "other.pem")
    try:
        checkpoint(app)
    finally:
        app.config["AUDIT_SIGNING_KEY_FILE"] = old
    path.write_text(genuine)
    assert "bad signature" in failure(app)
    for other in checkpoint_dir.glob("*.json"):
        if other != path:
            other.write_text("{not json")
    assert "unreadable" in failure(app)


def test_no_checkpoint_is_written_for_a_tampered_chain(app, tamper, checkpoint_dir):
    write_events(app, 3)
    tamper("UPDATE audit_personal SET summary = 'x' WHERE event_id = 2")
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 1 and "no checkpoint written" in result.output
    assert not list(checkpoint_dir.glob("*.json"))


def test_auditors_verify_with_the_public_key_alone(app, tmp_path, tamper):
    write_events(app, 4)
    checkpoint(app)
    pem = app.test_cli_runner().invoke(args=["audit", "public-key"]).output
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    (tmp_path / "audit.pub").write_text(pem)
    old = app.config["AUDIT_SIGNING_KEY_FILE"], app.config["AUDIT_VERIFY_KEY_FILE"]
    app.config["AUDIT_SIGNING_KEY_FILE"], app.config["AUDIT_VERIFY_KEY_FILE"] = None, str(tmp_path / "audit.pub")
    try:
        result = cli_verify(app)
        assert result.exit_code == 0 and "4 events verified against 1 checkpoints" in result.output
        assert app.test_cli_runner().invoke(args=["audit", "checkpoint"]).exit_code == 1  # no private key here
    finally:
        app.config["AUDIT_SIGNING_KEY_FILE"], app.config["AUDIT_VERIFY_KEY_FILE"] = old


def test_production_refuses_to_start_without_the_chain_key(monkeypatch, tmp_path):
    safe = {"FUND_ENV": "production", "SECRET_KEY": "k" * 48, "TRUSTED_HOSTS": "grants.example.org",
            "DATABASE_URL": "postgresql+psycopg://fund@127.0.0.1:1/fund",
            "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0"}
    for key, value in safe.items():
        monkeypatch.setenv(key, value)
    for key in ("AUDIT_HMAC_KEY", "AUDIT_HMAC_KEY_FILE", "FLASK_DEBUG"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ConfigError, match="AUDIT_HMAC_KEY"):
        create_app()
    (tmp_path / "audit.key").write_text("short")
    monkeypatch.setenv("AUDIT_HMAC_KEY_FILE", str(tmp_path / "audit.key"))
    with pytest.raises(ConfigError, match="AUDIT_HMAC_KEY"):
        create_app()
    (tmp_path / "audit.key").write_text("r" * 48 + "\n")
    try:
        app = create_app()
    except ConfigError as exc:  # other settings may be missing; the key is not
        assert "AUDIT_HMAC_KEY" not in str(exc)
    else:
        assert app.config["AUDIT_HMAC_KEY"] == "r" * 48


# Erasure ---------------------------------------------------------------------------------------------------------


def _people(app, make_user):
    person = make_user("applicant", email="erase.me@example.org", name="Erin Example")
    other = make_user("applicant", email="keep.me@example.org", name="Kim Kept")
    with app.app_context():
        for i in range(30):
            audit.record("test.contact", entity_type="user", entity_id=person.id,
                         summary=f"Phone of erase.me@example.org set ({i})",
                         changes={"phone": ["+41 22 917 00 00", f"+41 79 555 {i:02d} 00"]})
            audit.record("test.contact", entity_type="user", entity_id=other.id,
                         summary=f"Phone of keep.me@example.org set ({i})", changes={"phone": [None, "+33 1 00"]})
        for i in range(19):
            audit.record("test.action", entity_type="thing", entity_id=i, actor=db.session.get(User, person.id),
                         summary=f"Erin Example did {i}")
        db.session.commit()
        about = db.session.execute(select(func.count()).select_from(AuditSubject).where(
            AuditSubject.kind == "user", AuditSubject.subject_id == person.id)).scalar_one()
    return person, other, about


def _audit_text(app) -> str:
    with app.app_context():
        rows = db.session.execute(select(AuditPersonal)).scalars().all()
        return "\n".join(audit.canonical_json(r.content()) for r in rows)


def test_erasing_a_user_keeps_the_chain_verifiable_and_tampering_still_fails(app, make_user, tamper):
    person, other, about = _people(app, make_user)
    assert about >= 50
    checkpoint(app)
    with app.app_context():
        erased = audit.erase_subject("user", person.id)
        db.session.commit()
    assert erased == about
    result = cli_verify(app)
    assert result.exit_code == 0, result.output
    assert f"({about} with erased personal data)" in result.output
    text_now = _audit_text(app)
    for personal in ("erase.me@example.org", "Erin Example", "+41 79 555"):
        assert personal not in text_now
    assert "keep.me@example.org" in text_now and "+33 1 00" in text_now
    with app.app_context():
        events = db.session.execute(select(AuditEvent).join(AuditSubject).where(
            AuditSubject.kind == "user", AuditSubject.subject_id == person.id).order_by(AuditEvent.id)
        ).unique().scalars().all()
        erasure = db.session.execute(select(AuditEvent).where(AuditEvent.action == "audit.erase")).scalar_one()
        assert all(ev.summary == ERASED and ev.actor == ERASED and ev.changes is None for ev in events
                   if ev.id != erasure.id)
        assert erasure.entity_type == "user" and erasure.entity_id == str(person.id)
        erasure_id = erasure.id
        victim = events[10].id
        kept = db.session.execute(select(AuditSubject.event_id).where(
            AuditSubject.kind == "user", AuditSubject.subject_id == other.id).limit(1)).scalar_one()
        # Erasing again finds nothing left.
        assert audit.erase_subject("user", person.id) == 0
        db.session.rollback()
    # Any other change to an erased event still fails...
    tamper(f"UPDATE audit_event SET action = 'test.nothing' WHERE id = {victim}")
    assert f"first bad event {victim}" in failure(app)
    tamper(f"UPDATE audit_event SET action = 'test.contact' WHERE id = {victim}")
    assert cli_verify(app).exit_code == 0
    # ...so does writing into a tombstone...
    tamper(f"UPDATE audit_personal SET summary = 'Phone set' WHERE event_id = {victim}")
    assert f"first bad event {victim} (erased content was altered" in failure(app)
    tamper(f"UPDATE audit_personal SET summary = '{ERASED}' WHERE event_id = {victim}")
    # ...and an "erasure" of someone else's data that no erasure event covers.
    tamper(f"UPDATE audit_personal SET salt = NULL, actor = '{ERASED}', summary = '{ERASED}', changes = NULL, "
           f"ip_address = NULL, erased_by = {erasure_id} WHERE event_id = {kept}")
    assert f"first bad event {kept} (erased without an erasure event" in failure(app)


def test_erasing_an_organisation_reaches_the_events_about_it(app, make_user):
    with app.app_context():
        for i in range(4):
            audit.record("organisation.update", entity_type="organisation", entity_id=7,
                         summary=f"Contact of organisation 7 is now Ada ({i})",
                         changes={"contact_email": [None, "a@x"]})
        audit.record("application.update", entity_type="application", entity_id=3, subjects=[("organisation", 7)],
                     summary="Contact person Ada")
        audit.record("organisation.update", entity_type="organisation", entity_id=8, summary="Contact Bea")
        db.session.commit()
        assert audit.erase_subject("organisation", 7) == 5
        db.session.commit()
        with pytest.raises(ValueError):
            audit.erase_subject("donor", 1)
    assert cli_verify(app).exit_code == 0
    text_now = _audit_text(app)
    assert "Ada" not in text_now and "a@x" not in text_now and "Contact Bea" in text_now


def test_subjects_follow_the_record_an_event_is_about(app, make_user):
    owner = make_user("applicant")
    with app.app_context():

        class Record:
            __tablename__ = "widget"
            id = 5
            organisation_id = 12
            user_id = owner.id

        ev = audit.record("widget.touch", Record(), summary="touched", actor=db.session.get(User, owner.id))
        assert ev.subjects == [["organisation", 12], ["user", owner.id]]
        db.session.rollback()


# The upgrade of events written before the anchors ----------------------------------------------------------------


def _legacy_rows(n: int) -> list[dict]:
    rows, prev = [], audit.GENESIS_HASH
    for i in range(1, n + 1):
        row = {"id": i, "occurred_at": f"2026-11-0{1 + i % 9}T10:00:00.000001+00:00", "actor_id": None,
               "actor": "someone@example.org", "action": "test.legacy", "entity_type": "user",
               "entity_id": str(40 + i % 2), "summary": f"legacy {i} of someone@example.org",
               "changes": {"phone": [None, f"+1 555 {i}"]}, "request_id": None, "ip_address": "10.0.0.1"}
        row["hash"] = hashlib.sha256((prev + audit.canonical_json(row)).encode()).hexdigest()
        row["prev_hash"] = prev
        prev = row["hash"]
        rows.append(row)
    return rows


def _upgrade_app(app, url):
    config = {k: app.config[k] for k in ("TESTING", "STORAGE_DIR", "SERVER_NAME", "MAIL_SERVER", "AUDIT_HMAC_KEY",
                                         "AUDIT_SIGNING_KEY_FILE", "AUDIT_CHECKPOINT_DIR")}
    return create_app({**config, "SQLALCHEMY_DATABASE_URI": url, "DATABASE_OWNER_URL": None})


def _insert_legacy(conn, rows):
    for row in rows:
        conn.execute(text(
            "INSERT INTO audit_event (id, occurred_at, actor_id, actor, action, entity_type, entity_id, summary, "
            "changes, request_id, ip_address, prev_hash, hash) VALUES (:id, :occurred_at, :actor_id, :actor, "
            ":action, :entity_type, :entity_id, :summary, :changes, :request_id, :ip_address, :prev_hash, :hash)"),
            {**row, "changes": json.dumps(row["changes"]),
             "occurred_at": row["occurred_at"].replace("T", " ").replace("+00:00", "")
             if conn.dialect.name == "sqlite" else row["occurred_at"]})
    conn.execute(text("INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, :n, :h)"),
                 {"n": rows[-1]["id"], "h": rows[-1]["hash"]})


def test_events_written_before_the_anchors_are_rechained_by_the_upgrade(app, fresh_database):
    from flask_migrate import upgrade

    legacy = _legacy_rows(12)
    other = _upgrade_app(app, fresh_database)
    with other.app_context():
        directory = other.extensions["migrate"].directory
        upgrade(directory=directory, revision="0008_merge")
        with db.engine.begin() as conn:
            _insert_legacy(conn, legacy)
        upgrade(directory=directory, revision="heads")
        result = audit.verify()
        assert result.ok and result.events == 12, result
        first = db.session.get(AuditEvent, 1)
        assert first.summary == "legacy 1 of someone@example.org" and first.changes == {"phone": [None, "+1 555 1"]}
        assert first.ip_address == "10.0.0.1" and first.subjects == [["user", 41]]
        # The upgraded events are erasable like new ones, and the chain goes on from them.
        assert audit.erase_subject("user", 41) == 6
        audit.record("test.after", entity_type="thing", summary="after the upgrade")
        db.session.commit()
        assert audit.verify().ok
        assert "someone@example.org" not in db.session.get(AuditEvent, 1).summary
        db.session.remove()
        db.engine.dispose()


def test_the_upgrade_refuses_a_chain_that_does_not_verify(app, fresh_database):
    from flask_migrate import upgrade

    legacy = _legacy_rows(5)
    legacy[2]["summary"] = "edited after the fact"
    other = _upgrade_app(app, fresh_database)
    with other.app_context():
        directory = other.extensions["migrate"].directory
        upgrade(directory=directory, revision="0008_merge")
        with db.engine.begin() as conn:
            _insert_legacy(conn, legacy)
        config = other.extensions["migrate"].migrate.get_config(directory)
        with pytest.raises(RuntimeError, match="the audit chain does not verify at event 3"):
            alembic_command.upgrade(config, "heads")
        db.session.remove()
        db.engine.dispose()
