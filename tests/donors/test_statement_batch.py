"""The year-end batch: `flask statements issue --period YEAR [--donor ID]` issues the annual statement of every
donor with activity, skips those already issued, and e-mails each donor's users a link (never the file)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from donors.models import IssuedStatement
from fund.db import db
from fund.mail import OutboxMessage
from fund.models import User
from tests.donors import factories as f


def run(app, *args):
    return app.test_cli_runner().invoke(args=["statements", "issue", *args])


def test_annual_statements_for_donors_with_activity(app, build, make_user):
    active = build("donor", "Active donor")
    owing = build("donor", "Owing donor", language="fr")
    idle = build("donor", "Idle donor")
    later = build("donor", "Later donor")
    with app.test_request_context():
        from donors.models import Donor

        f.contribution(db.session.get(Donor, active), "1000.00", "USD", received_on=dt.date(2025, 3, 1))
        f.pledge(db.session.get(Donor, owing), "5000.00", "USD", pledged_on=dt.date(2024, 5, 1))
        f.contribution(db.session.get(Donor, later), "10.00", "USD", received_on=dt.date(2026, 1, 5))
        db.session.commit()
    english = make_user("donor", donor_id=active, language="en")
    french = make_user("donor", donor_id=active, language="fr")
    gone = make_user("donor", donor_id=active)
    with app.app_context():
        db.session.get(User, gone.id).active = False
        db.session.commit()

    result = run(app, "--period", "2025")
    assert result.exit_code == 0, result.output
    assert "issued 2, skipped (already issued) 0, failed 0, e-mails queued 2" in result.output
    assert "Statements 2025" in result.stderr  # the progress bar
    with app.app_context():
        issued = {s.donor_id: s for s in db.session.execute(select(IssuedStatement)).scalars()}
        assert set(issued) == {active, owing}
        assert sorted(s.number for s in issued.values()) == ["VTF-ST-2025-0001", "VTF-ST-2025-0002"]
        assert (issued[owing].language, issued[owing].period_from, issued[owing].period_to) == (
            "fr", dt.date(2025, 1, 1), dt.date(2025, 12, 31))
        assert issued[owing].totals["opening"] == "5000.00" and issued[owing].totals["closing"] == "5000.00"
        mails = db.session.execute(select(OutboxMessage).order_by(OutboxMessage.recipient)).scalars().all()
        assert sorted(m.recipient for m in mails) == sorted([english.email, french.email])
        number = issued[active].number
        by_recipient = {m.recipient: m for m in mails}
        assert by_recipient[english.email].subject == f"Donor statement {number}"
        assert by_recipient[french.email].subject == f"Relevé du donateur {number}"
        assert "Hello," in by_recipient[english.email].body_text
        assert "Bonjour," in by_recipient[french.email].body_text
        for mail in mails:
            assert f"/donors/statements/{number}" in mail.body_text
            assert "%PDF" not in mail.body_text and not mail.body_html
            assert mail.kind == "donors:statement_issued"

    again = run(app, "--period", "2025")
    assert again.exit_code == 0
    assert "issued 0, skipped (already issued) 2, failed 0, e-mails queued 0" in again.output

    one = run(app, "--period", "2025", "--donor", str(idle))
    assert one.exit_code == 0 and "issued 1," in one.output
    with app.app_context():
        assert db.session.execute(select(IssuedStatement.number).where(IssuedStatement.donor_id == idle)
                                  ).scalar_one() == "VTF-ST-2025-0003"


def test_a_year_that_has_not_ended_or_an_unknown_donor_is_refused(app):
    this_year = f.today().year
    result = run(app, "--period", str(this_year))
    assert result.exit_code == 1 and "has not ended" in result.stderr
    result = run(app, "--period", "2025", "--donor", "999999")
    assert result.exit_code == 1 and "no donor 999999" in result.stderr
    with app.app_context():
        assert db.session.execute(select(IssuedStatement)).first() is None
