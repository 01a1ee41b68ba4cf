"""Outgoing mail through an outbox.

:func:`queue_mail` writes an :class:`OutboxMessage` in the caller's transaction, so mail exists exactly when
the event that caused it was committed. ``flask mail send`` delivers queued messages over SMTP. A message is
claimed (status ``sending``, committed) before the SMTP conversation, so it is never sent twice: a failure
before the server accepted it puts it back in the queue with a back-off, and a process that dies mid-send
leaves it in ``sending`` for an operator to look at rather than risking a second copy.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import uuid
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app, render_template
from flask_babel import force_locale
from flask_security import MailUtil
from sqlalchemy import Integer, String, Text, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from fund.db import UTCDateTime, db, utcnow

log = logging.getLogger("fund.mail")

QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    recipient: Mapped[str] = mapped_column(String(255), index=True)
    subject: Mapped[str] = mapped_column(String(255))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(64), default="general", index=True)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


def queue_mail(
    recipient: str,
    subject: str,
    *,
    template: str | None = None,
    body: str | None = None,
    html: str | None = None,
    language: str | None = None,
    kind: str = "general",
    **context,
) -> OutboxMessage:
    """Queue a message in the current transaction. ``template`` names ``templates/mail/<name>.txt`` (and .html)."""
    if template:
        with force_locale(language or "en"):
            body = render_template(f"mail/{template}.txt", **context)
            try:
                html = render_template(f"mail/{template}.html", **context)
            except Exception:  # no HTML variant
                html = None
    if body is None:
        raise ValueError("a message needs a body or a template")
    domain = current_app.config["MAIL_DEFAULT_SENDER"].rsplit("@", 1)[-1].strip(">") or "vtf.example.org"
    msg = OutboxMessage(
        message_id=make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain),
        recipient=recipient,
        subject=subject,
        body_text=body,
        body_html=html,
        kind=kind,
    )
    db.session.add(msg)
    db.session.flush()
    if not current_app.config.get("MAIL_SERVER"):
        log.info("mail queued for %s: %s (`flask --app wsgi mail send` shows it)", recipient, subject)
    return msg


class OutboxMailUtil(MailUtil):
    """Flask-Security sends its mail (password reset, ...) through the outbox."""

    def send_mail(self, template, subject, recipient, sender, body, html, **kwargs):
        queue_mail(recipient, str(subject), body=body, html=html, kind=f"security:{template}")


def _build(msg: OutboxMessage) -> EmailMessage:
    email = EmailMessage()
    email["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    email["To"] = msg.recipient
    email["Subject"] = msg.subject
    email["Message-ID"] = msg.message_id
    email.set_content(msg.body_text)
    if msg.body_html:
        email.add_alternative(msg.body_html, subtype="html")
    return email


def _claim_next(now: dt.datetime) -> OutboxMessage | None:
    """Claim one due message (status queued -> sending) and commit, so no other sender takes it."""
    candidate = db.session.execute(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == QUEUED)
        .where(or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now))
        .order_by(OutboxMessage.id)
        .limit(1)
    ).scalar_one_or_none()
    if candidate is None:
        db.session.rollback()
        return None
    claimed = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == candidate, OutboxMessage.status == QUEUED)
        .values(status=SENDING, attempts=OutboxMessage.attempts + 1)
    ).rowcount
    db.session.commit()
    if not claimed:
        return _claim_next(now)
    return db.session.get(OutboxMessage, candidate)


def send_pending(limit: int = 500) -> dict:
    """Deliver queued messages. Returns counts of sent, retried and failed messages."""
    cfg = current_app.config
    counts = {"sent": 0, "retry": 0, "failed": 0}
    smtp = None
    try:
        for _ in range(limit):
            msg = _claim_next(utcnow())
            if msg is None:
                break
            try:
                if cfg.get("MAIL_SERVER"):
                    if smtp is None:
                        smtp = smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=30)
                        if cfg.get("MAIL_USE_TLS"):
                            smtp.starttls()
                        if cfg.get("MAIL_USERNAME"):
                            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
                    smtp.send_message(_build(msg))
                else:
                    log.info("mail to %s (%s):\n%s", msg.recipient, msg.subject, msg.body_text)
            except (smtplib.SMTPException, OSError) as exc:
                smtp = None
                msg.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                if msg.attempts >= cfg.get("MAIL_MAX_ATTEMPTS", 8):
                    msg.status = FAILED
                    counts["failed"] += 1
                else:
                    msg.status = QUEUED
                    msg.next_attempt_at = utcnow() + dt.timedelta(minutes=2 ** min(msg.attempts, 10))
                    counts["retry"] += 1
                db.session.commit()
                continue
            msg.status = SENT
            msg.sent_at = utcnow()
            msg.last_error = None
            db.session.commit()
            counts["sent"] += 1
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
    return counts
