"""The retention schedule's platform classes, the command, its dry run, its idempotence and two servers running
it at the same moment (two real processes on the test database)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from fund import audit, retention
from fund.audit import AuditEvent
from fund.db import db, utcnow
from fund.idempotency import IdempotencyKey
from fund.mail import OutboxMessage
from fund.models import ApiToken

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.timedelta(days=1)


def _count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _purges() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for ev in db.session.execute(select(AuditEvent).where(AuditEvent.action == "retention.purge")).scalars():
        found.setdefault(ev.entity_id, []).append(ev.changes["records"][0])
    return found


def _seed(user_id: int, *, old: int, recent: int) -> None:
    """``old`` and ``recent`` idempotency keys and delivered messages, plus queued old mail (never purged)."""
    now = utcnow()
    keys, mails = [], []
    for i in range(old + recent):
        age = (31 if i < old else 29) * DAY
        keys.append({"user_id": user_id, "key": f"k{i}", "method": "POST", "path": "/api/v1/x", "fingerprint": "f",
                     "status_code": 201, "created_at": now - age})
        mails.append({"message_id": f"<m{i}@test>", "recipient": "someone@example.org", "subject": "s",
                      "body_text": "b", "kind": "test", "status": "sent", "attempts": 1,
                      "created_at": now - age * 3, "sent_at": now - age * 3})
    mails.append({"message_id": "<queued@test>", "recipient": "someone@example.org", "subject": "s",
                  "body_text": "b", "kind": "test", "status": "queued", "attempts": 0,
                  "created_at": now - 400 * DAY})
    db.session.execute(insert(IdempotencyKey), keys)
    db.session.execute(insert(OutboxMessage), mails)


def test_platform_classes_purge_what_is_due_once(ctx, make_user):
    user = make_user("applicant")
    now = utcnow()
    _seed(user.id, old=3, recent=2)
    tokens = {
        "unused": ApiToken(user_id=user.id, name="a", token_hash="1" * 64, prefix="vtf_1", created_at=now - 400 * DAY),
        "used": ApiToken(user_id=user.id, name="b", token_hash="2" * 64, prefix="vtf_2", created_at=now - 400 * DAY,
                         last_used_at=now - 10 * DAY),
        "revoked": ApiToken(user_id=user.id, name="c", token_hash="3" * 64, prefix="vtf_3",
                            created_at=now - 800 * DAY, last_used_at=now - 10 * DAY, revoked_at=now - 370 * DAY),
        "new": ApiToken(user_id=user.id, name="d", token_hash="4" * 64, prefix="vtf_4"),
    }
    db.session.add_all(tokens.values())
    db.session.commit()
    ids = {name: t.id for name, t in tokens.items()}
    events = _count(AuditEvent)

    due = retention.due_counts()
    assert (due["idempotency_keys"], due["delivered_mail"], due["api_tokens"]) == (3, 3, 2)
    assert _count(AuditEvent) == events and _count(IdempotencyKey) == 5  # the dry run wrote nothing

    outcomes = {o.name: o.purged for o in retention.run()}
    assert (outcomes["idempotency_keys"], outcomes["delivered_mail"], outcomes["api_tokens"]) == (3, 3, 2)
    db.session.remove()
    assert _count(IdempotencyKey) == 2
    assert db.session.execute(select(OutboxMessage.status)).scalars().all().count("queued") == 1
    assert _count(OutboxMessage) == 3
    assert {t.id for t in db.session.execute(select(ApiToken)).scalars()} == {ids["used"], ids["new"]}
    purges = _purges()
    assert purges == {"idempotency_keys": [3], "delivered_mail": [3], "api_tokens": [2]}
    assert audit.verify().ok

    again = retention.run()
    assert sum(o.purged for o in again) == 0
    assert _purges() == purges


def test_a_period_set_to_never_keeps_the_class(app, ctx, make_user):
    user = make_user("applicant")
    _seed(user.id, old=2, recent=0)
    db.session.commit()
    days = dict(app.config["RETENTION_DAYS"])
    app.config["RETENTION_DAYS"] = {**days, "idempotency_keys": None}
    try:
        outcomes = {o.name: o for o in retention.run()}
    finally:
        app.config["RETENTION_DAYS"] = days
    assert outcomes["idempotency_keys"].purged == 0 and outcomes["delivered_mail"].purged == 2
    assert _count(IdempotencyKey) == 2


def test_a_class_that_would_purge_money_is_refused(app):
    cls = retention.RetentionClass("bad", "postings", lambda cutoff: None, lambda ids: 0, ("ledger_posting",))
    with pytest.raises(ValueError, match="never purged"):
        retention.register(app, cls)
    assert "bad" not in app.extensions["fund_retention"]


def _cli(app, *args) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "STORAGE_DIR": app.config["STORAGE_DIR"], "FUND_ENV": "development", "FLASK_DEBUG": "0"}
    if app.config.get("AUDIT_HMAC_KEY"):  # the servers share the audit trail's key with the tests
        env["AUDIT_HMAC_KEY"] = app.config["AUDIT_HMAC_KEY"]
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "retention", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_command_dry_run_then_run_then_nothing_left(app, ctx, make_user):
    user = make_user("applicant")
    _seed(user.id, old=4, recent=1)
    db.session.commit()
    db.session.remove()

    proc = _cli(app, "run", "--dry-run")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "idempotency_keys" in out and "Dry run: 8 records due; nothing purged." in out
    assert _count(IdempotencyKey) == 5
    db.session.remove()  # SQLite: the test's transaction holds the write lock until it ends

    proc = _cli(app, "run")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Purged 8 records." in out and "Purging" in err  # the summary, and the progress bar on stderr
    db.session.remove()
    assert _count(IdempotencyKey) == 1
    db.session.remove()

    proc = _cli(app, "run")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Purged 0 records." in out


def test_two_servers_running_at_once_purge_each_record_once(app, ctx, make_user):
    user = make_user("applicant")
    _seed(user.id, old=3000, recent=10)
    db.session.commit()
    db.session.remove()

    procs = [_cli(app, "run"), _cli(app, "run")]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    totals = [int(out.strip().splitlines()[-1].split()[1]) for out, _err in results]
    assert sum(totals) == 6000, results  # 3,000 keys and 3,000 messages, each purged by one of the two
    assert _count(IdempotencyKey) == 10
    assert _count(OutboxMessage) == 11
    purges = _purges()
    assert sorted(purges) == ["delivered_mail", "idempotency_keys"]
    assert all(len(counts) == 1 for counts in purges.values()), purges  # one event per class, not one per server
    assert purges["idempotency_keys"] == [3000] and purges["delivered_mail"] == [3000]
    assert audit.verify().ok
