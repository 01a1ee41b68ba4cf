"""The public results: one suppressed table over every grant's accepted reports (:class:`fund.disclosure.
Publication`), from which every public output takes its figures.

It is computed from one aggregate query (report results summed per grant, breakdown and key) and kept in memory
per process, keyed by a fingerprint of the accepted reports (their number, the sum of their ids and the latest
change): a report accepted, reopened or corrected gives a new fingerprint and the table is computed again. Public
pages therefore cost one small aggregate query for the fingerprint: it reads the accepted reports' rows through
the index on their status (a few per grant), not the results, the ledger or the rest of the fund.
"""

from __future__ import annotations

import threading

from flask import current_app, has_app_context
from sqlalchemy import func, select

from fund.db import db
from fund.disclosure import Publication
from fund.grant_directory import Results
from grants.awards.models import BY_ASSISTANCE, BY_COUNTRY, BY_FORM, SEX_AGE, GrantReport, ReportResult
from grants.awards.reports import split_cell

ACCEPTED = "accepted"
_lock = threading.Lock()
_cache: dict = {}


def fingerprint() -> tuple:
    row = db.session.execute(
        select(func.count(GrantReport.id), func.coalesce(func.sum(GrantReport.id), 0),
               func.max(GrantReport.updated_at)).where(GrantReport.status == ACCEPTED)).one()
    return tuple(str(v) for v in row)


def results_per_grant() -> dict[int, Results]:
    """Victims assisted per grant, summed over its accepted reports (one aggregate query)."""
    rows = db.session.execute(
        select(GrantReport.grant_id, ReportResult.breakdown, ReportResult.key, func.sum(ReportResult.count))
        .join(ReportResult, ReportResult.report_id == GrantReport.id)
        .where(GrantReport.status == ACCEPTED)
        .group_by(GrantReport.grant_id, ReportResult.breakdown, ReportResult.key)).all()
    out: dict[int, Results] = {}
    for grant_id, breakdown, key, count in rows:
        r = out.setdefault(grant_id, Results())
        count = int(count or 0)
        if breakdown == SEX_AGE:
            r.by_sex_age[split_cell(key)] = count
        else:
            {BY_FORM: r.by_form, BY_ASSISTANCE: r.by_assistance, BY_COUNTRY: r.by_country}[breakdown][key] = count
    return out


def publication() -> Publication:
    """The current publication (computed again only when the accepted reports changed)."""
    key = (current_app.config["SQLALCHEMY_DATABASE_URI"], current_app.config.get("SUPPRESSION_THRESHOLD", 5))
    mark = fingerprint()
    cached = _cache.get(key)
    if cached is not None and cached[0] == mark:
        return cached[1]
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == mark:
            return cached[1]
        published = Publication(results_per_grant())
        _cache[key] = (mark, published)
        return published


def provider() -> Publication | None:
    """For :func:`fund.disclosure.register_publication`: the publication, when an application is at hand."""
    if not has_app_context():
        return None
    return publication()
