"""The selection: eligibility screening (with the UN sanctions list), reviewer assignment, conflict-of-interest
declarations, weighted scoring and ranking, and the Board's decisions."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from flask_babel import lazy_gettext as _l

sanctions_cli = AppGroup("sanctions", help="The UN Security Council consolidated sanctions list.")


@sanctions_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def sanctions_import(file: Path) -> None:
    """Replace the sanctions list with FILE: the UN consolidated list XML, or a CSV with the header
    reference_number,type,name,aliases (type individual or entity; aliases separated by ";"). All or nothing:
    a file with a bad record changes nothing."""
    from fund.db import db
    from grants.review.sanctions import SanctionsFileError, import_list

    data = file.read_bytes()
    try:
        def progress(items):
            with click.progressbar(items, label=f"Importing {len(items)} entries", show_pos=True) as bar:
                yield from bar

        imp = import_list(data, file.name, progress=progress)
        db.session.commit()
    except SanctionsFileError as exc:
        db.session.rollback()
        click.echo(f"Error: {exc}. Nothing was imported; the list in force is unchanged.", err=True)
        sys.exit(1)
    except Exception:
        db.session.rollback()
        raise
    click.echo(f"Imported {imp.entries} entries ({imp.names} names and aliases) from {file.name}"
               + (f", list generated {imp.generated}" if imp.generated else "") + f"; sha256 {imp.sha256}.")


def init_app(app: Flask) -> None:
    from fund.demo import DEMO_LOADERS
    from fund.extensions import api, csrf
    from fund.models import ADMIN, AUDITOR, FUND_MANAGER, REVIEWER
    from fund.views import dashboard_link

    # The models, the permission rules, and the pages that register on the blueprint:
    from grants.review import decision_pages, models, permissions, reviewer_pages  # noqa: F401
    from grants.review.api import blp as api_blp
    from grants.review.demo import load_demo
    from grants.review.views import bp

    app.register_blueprint(bp)
    api.register_blueprint(api_blp)
    csrf.exempt(api_blp)
    app.cli.add_command(sanctions_cli)
    app.jinja_env.globals["board_decisions"] = _board_decisions

    dashboard_link(app, {FUND_MANAGER, ADMIN, AUDITOR}, "grants_review.selection",
                   _l("Selection: screening, reviews and Board decisions"))
    dashboard_link(app, {FUND_MANAGER, ADMIN, AUDITOR}, "grants_review.screening_queue", _l("Screening queue"))
    dashboard_link(app, {REVIEWER}, "grants_review.inbox", _l("Applications to review"))
    if load_demo not in DEMO_LOADERS:
        DEMO_LOADERS.append(load_demo)


def _board_decisions(applications) -> dict:
    """For the applicant's dashboard: the decision in force per application, as the organisation may see it
    (outcome, amount, reason for a rejection; never a reviewer or a score)."""
    from sqlalchemy import select

    from fund.db import db
    from grants.review.models import Decision

    ids = [a.id for a in applications]
    found: dict = {}
    if ids:
        for d in db.session.execute(select(Decision).where(Decision.application_id.in_(ids))
                                    .order_by(Decision.id)).scalars():
            found[d.application_id] = {"outcome": d.outcome, "amount": d.amount, "currency": d.currency,
                                       "reason": d.reason if d.outcome == "rejected" else None,
                                       "decided_at": d.decided_at}
    return found
