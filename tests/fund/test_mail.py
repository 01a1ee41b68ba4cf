"""The outbox: mail is written with the event that causes it, delivered over real SMTP, retried, never twice."""

from __future__ import annotations

from sqlalchemy import select

from fund import audit
from fund.db import db
from fund.mail import FAILED, QUEUED, SENT, OutboxMessage, queue_mail
from tests.conftest import free_port


def queue(app, n=1, rollback=False):
    with app.app_context():
        for i in range(n):
            queue_mail(f"ngo{i}@example.org", f"Subject {i}", body=f"Hello {i}")
            audit.record("test.mail", entity_type="thing", summary="mail queued")
        if rollback:
            db.session.rollback()
        else:
            db.session.commit()


def statuses(app):
    with app.app_context():
        return [m.status for m in db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars()]


def test_mail_exists_only_if_its_transaction_commits(app):
    queue(app, 2, rollback=True)
    assert statuses(app) == []
    queue(app, 2)
    assert statuses(app) == [QUEUED, QUEUED]


def test_delivery_over_smtp_and_never_twice(app, smtp_server):
    queue(app, 3)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0 and "sent 3" in result.output
    assert len(smtp_server.messages) == 3
    first = smtp_server.messages[0]
    assert first["To"] == "ngo0@example.org" and first["Subject"] == "Subject 0"
    assert first["Message-ID"]
    assert "Hello 0" in first.get_payload()
    # A second run sends nothing again.
    result = runner.invoke(args=["mail", "send"])
    assert "sent 0" in result.output
    assert len(smtp_server.messages) == 3
    assert statuses(app) == [SENT, SENT, SENT]


def test_failed_delivery_is_retried_later(app, smtp_server):
    queue(app, 1)
    good_port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = free_port()  # nobody listens there
    result = app.test_cli_runner().invoke(args=["mail", "send"])
    assert "retry later 1" in result.output
    with app.app_context():
        msg = db.session.execute(select(OutboxMessage)).scalar_one()
        assert msg.status == QUEUED and msg.attempts == 1 and msg.last_error
        msg.next_attempt_at = None  # the back-off has passed
        db.session.commit()
    app.config["MAIL_PORT"] = good_port
    result = app.test_cli_runner().invoke(args=["mail", "send"])
    assert "sent 1" in result.output
    assert len(smtp_server.messages) == 1
    assert statuses(app) == [SENT]


def test_delivery_gives_up_after_the_maximum_attempts(app):
    queue(app, 1)
    app.config["MAIL_SERVER"], app.config["MAIL_PORT"] = "127.0.0.1", free_port()
    app.config["MAIL_MAX_ATTEMPTS"] = 2
    try:
        for _ in range(2):
            app.test_cli_runner().invoke(args=["mail", "send"])
            with app.app_context():
                msg = db.session.execute(select(OutboxMessage)).scalar_one()
                msg.next_attempt_at = None
                db.session.commit()
    finally:
        app.config["MAIL_SERVER"], app.config["MAIL_MAX_ATTEMPTS"] = "", 8
    assert statuses(app) == [FAILED]


def test_without_smtp_mail_goes_to_the_log(app, caplog):
    queue(app, 1)
    with caplog.at_level("INFO", logger="fund.mail"):
        result = app.test_cli_runner().invoke(args=["mail", "send"])
    assert "sent 1" in result.output
    assert "Hello 0" in caplog.text
