"""`flask --app wsgi rates import FILE`: import UN operational rates of exchange from CSV, all or nothing."""

from __future__ import annotations

import csv
import sys

import click
from flask.cli import AppGroup

from fund import rates
from fund.db import db

rates_cli = AppGroup("rates", help="UN operational rates of exchange.")


@rates_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def rates_import(file):
    """Import rates from a CSV file with the header currency,month,units_per_usd (e.g. EUR,2026-11,0.9235).

    All or nothing: if any line is rejected nothing is written and the command exits with status 1. A line equal
    to the month's current rate is unchanged; a different value for a month that has a rate is a new version
    (postings already made keep the version they used)."""
    with open(file, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        if sorted(header) != sorted(rates.IMPORT_COLUMNS):
            click.echo(f"Error: the first line must be the header {','.join(rates.IMPORT_COLUMNS)} "
                       f"(found {','.join(header) or 'nothing'}).", err=True)
            sys.exit(1)
        reader.fieldnames = header
        rows = [(reader.line_num, row) for row in reader]
    if not rows:
        click.echo("Error: the file has no rates.", err=True)
        sys.exit(1)
    with click.progressbar(length=len(rows), label="Checking rates", file=sys.stderr) as bar:
        result = rates.import_rates(((line, {k: (v or "").strip() if isinstance(v, str) else v
                                             for k, v in row.items()}) for line, row in rows),
                                    progress=bar.update)
    if result.rejected:
        db.session.rollback()
        click.echo(f"Nothing imported: {len(result.rejected)} line(s) rejected.", err=True)
        for line, reason in result.rejected:
            click.echo(f"  line {line}: {reason}", err=True)
        click.echo(f"added 0, unchanged 0, rejected {len(result.rejected)}")
        sys.exit(1)
    db.session.commit()
    click.echo(f"added {len(result.added)}, unchanged {len(result.unchanged)}, rejected 0")
    for line, currency, month, rate in result.added:
        click.echo(f"  line {line}: {currency} {month:%Y-%m} {rate}")
