"""`flask --app wsgi statements issue --period 2027 [--donor ID]`: the year-end batch of donor statements."""

from __future__ import annotations

import datetime as dt
import sys

import click
from flask.cli import AppGroup

from donors import operations
from donors.models import Donor
from donors.statement_figures import donors_with_activity
from fund.db import db, utcnow
from fund.errors import FundError

statements_cli = AppGroup("statements", help="Donor statements.")


@statements_cli.command("issue")
@click.option("--period", "year", type=int, required=True, help="The calendar year, e.g. 2027.")
@click.option("--donor", "donor_id", type=int, default=None, help="Only this donor (id).")
def statements_issue(year: int, donor_id: int | None):
    """Issue the annual statement of every donor with activity in the year (a ledger movement, or pledges
    outstanding at its start), in the donor's language, skipping donors whose statement for the year is already
    issued and not void; e-mail each donor's users a link to it (never the file). Each statement is committed on
    its own, so a failure leaves the others issued; the command then exits with status 1."""
    date_from, date_to = dt.date(year, 1, 1), dt.date(year, 12, 31)
    if date_to > utcnow().date():
        click.echo(f"Error: {year} has not ended yet; annual statements are issued once the year is over.", err=True)
        sys.exit(1)
    if donor_id is not None:
        if db.session.get(Donor, donor_id) is None:
            click.echo(f"Error: no donor {donor_id}.", err=True)
            sys.exit(1)
        ids = [donor_id]
    else:
        ids = donors_with_activity(date_from, date_to)
    issued, skipped, failed, mailed = [], [], [], 0
    with click.progressbar(ids, label=f"Statements {year}", file=sys.stderr, show_pos=True) as bar:
        for current in bar:
            donor = db.session.get(Donor, current)
            if operations.valid_statement(current, date_from, date_to) is not None:
                skipped.append(current)
                db.session.rollback()
                continue
            try:
                statement = operations.issue_statement(donor, {"date_from": date_from, "date_to": date_to})
                mailed += operations.notify_statement(statement)
                number = statement.number
                db.session.commit()
            except FundError as exc:
                db.session.rollback()
                failed.append((current, exc.message))
                continue
            issued.append((current, number))
    for current, number in issued:
        click.echo(f"  donor {current}: {number}")
    for current, message in failed:
        click.echo(f"  donor {current}: FAILED: {message}", err=True)
    click.echo(f"issued {len(issued)}, skipped (already issued) {len(skipped)}, failed {len(failed)}, "
               f"e-mails queued {mailed}")
    if failed:
        sys.exit(1)
