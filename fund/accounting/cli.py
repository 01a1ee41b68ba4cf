"""`flask --app wsgi rates import FILE`: import UN operational rates of exchange from CSV, all or nothing.
`flask --app wsgi ledger check`: recompute the kept ledger balances from the postings
and the attribution pools' unspent balances from the attribution rows."""

from __future__ import annotations

import csv
import sys

import click
from flask.cli import AppGroup

from fund.accounting import rates
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


ledger_cli = AppGroup("ledger", help="The fund's double-entry ledger.")


@ledger_cli.command("check")
def ledger_check():
    """Recompute every kept balance (fund-wide, per month, per donor, pledge and grant) from the postings and
    compare, and check that every entry balances. Exits with status 1 on any disagreement."""
    from fund.accounting import attribution, balances, ledger

    diffs = balances.differences()
    unbalanced = ledger.unbalanced_entries()
    pools = attribution.pool_differences()
    for d in [*diffs, *pools]:
        click.echo(f"  {d}", err=True)
    if unbalanced:
        click.echo(f"  entries that do not balance: {', '.join(map(str, unbalanced))}", err=True)
    kept = db.session.execute(db.select(db.func.count()).select_from(balances.LedgerBalance)).scalar_one()
    kept_pools = db.session.execute(db.select(db.func.count()).select_from(attribution.AttributionPool)).scalar_one()
    if diffs or unbalanced or pools:
        click.echo(f"Ledger check failed: {len(diffs)} of {kept} balance(s) disagree with the postings, "
                   f"{len(unbalanced)} unbalanced entr{'y' if len(unbalanced) == 1 else 'ies'}, "
                   f"{len(pools)} of {kept_pools} attribution pool(s) disagree with the attribution rows.", err=True)
        sys.exit(1)
    click.echo(f"Ledger check passed: {kept} balances agree with the postings; every entry balances; "
               f"{kept_pools} attribution pools agree with the attribution rows.")
