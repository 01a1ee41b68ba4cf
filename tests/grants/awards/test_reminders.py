"""Report reminders: 14 days before a report is due and when it is overdue, at most one mail per report per
day however often the job runs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from fund.db import db
from fund.mail import OutboxMessage
from grants.awards.models import Grant
from tests.grants.awards.conftest import sign_and_countersign


def _mails(app) -> list[OutboxMessage]:
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "grants:reminder")
                                  .order_by(OutboxMessage.id)).scalars().all()
        db.session.expunge_all()
        return rows


def _run(app, day: dt.date) -> str:
    result = app.test_cli_runner().invoke(args=["reminders", "send", "--today", day.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output


def test_reminders_before_the_due_date_and_when_overdue_once_a_day(app, world):
    w = world()
    with app.app_context():
        due = db.session.get(Grant, w.grant_id).report("interim").due_on
        number = db.session.get(Grant, w.grant_id).number
    # Nothing for a grant that is not active yet.
    assert "0 mail(s)" in _run(app, due - dt.timedelta(days=3))
    sign_and_countersign(w)

    assert "0 mail(s)" in _run(app, due - dt.timedelta(days=15))
    out = _run(app, due - dt.timedelta(days=14))
    assert "reminded 1 report(s) due soon" in out
    first = _mails(app)
    recipients = {m.recipient for m in first}
    assert recipients == {w.applicant.email, "contact@espoir.example.org"}
    assert all(number in m.subject and "due soon" in m.subject for m in first)
    assert all(number in m.body_text for m in first)

    # Hourly runs the same day, and the days before the due date: nothing more.
    for _hour in range(3):
        _run(app, due - dt.timedelta(days=14))
    _run(app, due - dt.timedelta(days=10))
    _run(app, due)
    assert len(_mails(app)) == len(first)

    # Overdue: one a day.
    _run(app, due + dt.timedelta(days=1))
    _run(app, due + dt.timedelta(days=1))
    assert len(_mails(app)) == 2 * len(first)
    assert all("Overdue" in m.subject for m in _mails(app)[len(first):])
    _run(app, due + dt.timedelta(days=2))
    assert len(_mails(app)) == 3 * len(first)


def test_a_submitted_report_is_not_reminded(app, world):
    from tests.grants.awards.reports_data import report_body

    w = world()
    sign_and_countersign(w)
    grant = w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()
    interim = next(r for r in grant["reports"] if r["kind"] == "interim")
    body = report_body("interim", grant, shares={"personnel": "10800.00", "shelter": "7200.00",
                                                 "indirect": "1250.00"})
    assert w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=body).status_code == 201
    assert w.ngo.post(f"/api/v1/reports/{interim['id']}/submit").status_code == 200
    due = dt.date.fromisoformat(interim["due_on"])
    _run(app, due + dt.timedelta(days=5))
    assert _mails(app) == []


def test_two_runs_at_once_send_one_mail(app, world):
    from tests.live import concurrently

    w = world()
    sign_and_countersign(w)
    with app.app_context():
        due = db.session.get(Grant, w.grant_id).report("interim").due_on

    def run(_i):
        from grants.awards.reminders import send_reminders

        with app.app_context():
            counts = send_reminders(due + dt.timedelta(days=3))
            db.session.remove()
            return counts

    results = concurrently(4, run)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(r["overdue"] for r in results) == 1
    assert len(_mails(app)) == 2
