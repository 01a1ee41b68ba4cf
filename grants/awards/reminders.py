"""Report reminders: ``flask --app wsgi reminders send``, safe to run every hour.

A report still to be submitted (due or returned) gets a reminder 14 days before it is due (from then until the
due date, once) and, once overdue, one every day. At most one mail goes out per report per day, even when two
runs overlap: the day's reminder row (unique per report and day) is inserted first, and only the run whose
insert succeeds queues the mail, in the same transaction.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from fund import audit
from fund.db import db, utcnow
from fund.i18n import translate as _
from grants.awards.models import Grant, GrantReport, ReportReminder
from grants.awards.operations.shared import mail_grantee

DUE_SOON_DAYS = 14
DUE_SOON, OVERDUE = "due_soon", "overdue"


def reminder_kind(report: GrantReport, today: dt.date, already_due_soon: bool) -> str | None:
    if report.status not in ("due", "returned"):
        return None
    if today > report.due_on:
        return OVERDUE
    if report.due_on - dt.timedelta(days=DUE_SOON_DAYS) <= today and not already_due_soon:
        return DUE_SOON
    return None


def _claim(report_id: int, kind: str, today: dt.date) -> bool:
    """Insert the day's reminder row; False when this report already had one today."""
    table = ReportReminder.__table__
    dialect_insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = db.session.execute(
        dialect_insert(table).values(report_id=report_id, kind=kind, sent_on=today, recipients=0,
                                     created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["report_id", "sent_on"]).returning(table.c.id)
    ).first()
    return inserted is not None


def send_reminders(today: dt.date | None = None) -> dict[str, int]:
    """Queue today's reminders; commits after each report so a failure never holds back the others. Returns
    counts of reports reminded (due soon, overdue) and mails queued."""
    today = today or utcnow().date()
    counts = {DUE_SOON: 0, OVERDUE: 0, "mails": 0}
    candidates = db.session.execute(
        select(GrantReport.id).join(Grant, Grant.id == GrantReport.grant_id)
        .where(GrantReport.status.in_(("due", "returned")), Grant.status.in_(("active", "suspended")),
               GrantReport.due_on <= today + dt.timedelta(days=DUE_SOON_DAYS))
        .order_by(GrantReport.due_on, GrantReport.id)
    ).scalars().all()
    db.session.commit()
    for report_id in candidates:
        report = db.session.get(GrantReport, report_id)
        had_due_soon = db.session.execute(select(ReportReminder.id).where(
            ReportReminder.report_id == report_id, ReportReminder.kind == DUE_SOON)).first() is not None
        kind = reminder_kind(report, today, had_due_soon)
        if kind is None or not _claim(report_id, kind, today):
            db.session.rollback()
            continue
        grant = db.session.get(Grant, report.grant_id)
        days = (report.due_on - today).days

        def subject(report=report, grant=grant, kind=kind):
            kind_label = _("interim report") if report.kind == "interim" else _("final report")
            if kind == OVERDUE:
                return _("Overdue: %(report)s of grant %(number)s", report=kind_label, number=grant.number)
            return _("Reminder: %(report)s of grant %(number)s is due soon", report=kind_label,
                     number=grant.number)

        sent = mail_grantee(grant, "reminder", subject, report=report, kind=kind, days=days,
                            overdue_days=-days)
        db.session.execute(ReportReminder.__table__.update().where(
            ReportReminder.report_id == report_id, ReportReminder.sent_on == today).values(recipients=sent))
        audit.record("grant_report.reminder", report, summary=f"{kind} reminder about the {report.kind} report of "
                     f"grant {grant.number} sent to {sent} recipient(s)", changes={"kind": [None, kind]})
        db.session.commit()
        counts[kind] += 1
        counts["mails"] += sent
    return counts
