"""``flask --app wsgi reminders send``: report reminders (safe to run hourly)."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import AppGroup

reminders_cli = AppGroup("reminders", help="Reminders about grantee reports.")


@reminders_cli.command("send")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Act as if today were this date (YYYY-MM-DD).")
def reminders_send(today):
    """Queue reminders: 14 days before a report is due, and every day once it is overdue (at most one mail per
    report per day, however often this runs). `flask mail send` delivers them."""
    from grants.awards.reminders import send_reminders

    day = today.date() if isinstance(today, dt.datetime) else None
    counts = send_reminders(day)
    click.echo(f"reminded {counts['due_soon']} report(s) due soon and {counts['overdue']} overdue; "
               f"{counts['mails']} mail(s) queued")
