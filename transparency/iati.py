"""The fund's open data in IATI 2.03 (the aid transparency standard): an activity file with one activity per
grant and an organisation file with the fund's budgets and expenditure by year.

An activity names the fund (reporting, funding and extending organisation, identifier from
``IATI_REPORTING_ORG_REF``) and the grantee (implementing), the grant's countries and sector (DAC 15190: migration,
including combating trafficking), its status and dates, its budget, a transaction per commitment (type 2) and per
disbursement (type 3; a grantee's refund is a negative disbursement), read from the ledger in USD, and one result:
the victims assisted as the public results table publishes them (suppressed with every other public figure by
:mod:`fund.disclosure`; a count that is not published carries no value, only a comment).

Everything comes from aggregate queries: the grants with their applications, the ledger's grant postings grouped
per entry, the publication. Files validate against the official XSDs (tests/transparency/test_iati.py).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Blueprint, Response, abort, current_app, request
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from fund.accounting import ledger
from fund.db import db
from fund.permissions import public
from fund.suppression import SMALL, WITHHELD
from grants.awards.models import Grant
from transparency import figures
from transparency.publication import publication
from transparency.views import PUBLIC_STATES

bp = Blueprint("iati", __name__, url_prefix="/iati")

VERSION = "2.03"
SECTOR_TRAFFICKING = "15190"
ACTIVITY_STATUS = {"pending_signature": "1", "active": "2", "suspended": "6", "closed": "4", "terminated": "5"}
#: Organisation types of grantees (fund codes) -> IATI OrganisationType.
ORG_TYPES = {"ngo": "22", "community_based": "22", "faith_based": "22", "academic": "80", "other": "90"}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
CENT = Decimal("0.01")


def _cfg(name: str) -> str:
    return current_app.config[name]


def _sub(parent, tag: str, text: str | None = None, **attrs):
    el = etree.SubElement(parent, tag, {k.replace("_", "-"): str(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = text
    return el


def _narrative(parent, tag: str, text: str, **attrs):
    el = _sub(parent, tag, **attrs)
    _sub(el, "narrative", text)
    return el


def _reporting_org(parent):
    _narrative(parent, "reporting-org", _cfg("IATI_REPORTING_ORG_NAME"), ref=_cfg("IATI_REPORTING_ORG_REF"),
               type=_cfg("IATI_REPORTING_ORG_TYPE"))


def _value(parent, tag: str, amount: Decimal, day: dt.date, currency: str = "USD"):
    _sub(parent, tag, str(Decimal(amount).quantize(CENT)), currency=currency, value_date=day.isoformat())


def _transactions(grant_ids: list[int]) -> dict[int, list[tuple]]:
    """(type, date, amount USD) per grant: commitments and disbursements from the ledger, one row per entry."""
    p, e = ledger.Posting, ledger.JournalEntry
    rows = db.session.execute(
        select(p.grant_id, e.id, e.value_date, e.kind, p.account, func.sum(p.usd_cents))
        .join(e, e.id == p.entry_id)
        .where(p.grant_id.in_(grant_ids), p.account.in_((ledger.GRANTS_PAYABLE, ledger.GRANT_EXPENSE)))
        .group_by(p.grant_id, e.id, e.value_date, e.kind, p.account).order_by(e.value_date, e.id)).all()
    out: dict[int, list[tuple]] = {}
    for grant_id, _entry, day, kind, account, cents in rows:
        amount = Decimal(int(cents)) * CENT
        if account == ledger.GRANTS_PAYABLE and kind in (ledger.COMMITMENT, ledger.COMMITMENT_RELEASE):
            out.setdefault(grant_id, []).append(("2", day, -amount))
        elif account == ledger.GRANT_EXPENSE and kind in (ledger.DISBURSEMENT, ledger.GRANT_REFUND):
            out.setdefault(grant_id, []).append(("3", day, amount))
    return out


def _split(countries: list[str]) -> list[tuple[str, int]]:
    """Equal percentages adding up to 100."""
    if not countries:
        return []
    share, rest = divmod(100, len(countries))
    return [(c, share + (1 if i < rest else 0)) for i, c in enumerate(countries)]


def last_change() -> dt.datetime:
    """The latest change of what the files show (a grant, a ledger entry, an accepted report): their
    ``generated-datetime``, so that an unchanged file is byte for byte the same (and its ETag too)."""
    from transparency.publication import fingerprint

    stamps = [db.session.execute(select(func.max(Grant.updated_at))).scalar(),
              db.session.execute(select(func.max(ledger.JournalEntry.posted_at))).scalar()]
    report = fingerprint()[2]
    stamps = [s for s in stamps if s is not None]
    if report not in ("None", ""):
        stamps.append(dt.datetime.fromisoformat(report))
    latest = max((s.replace(tzinfo=None) for s in stamps), default=dt.datetime(2000, 1, 1))
    return latest.replace(microsecond=0)


def activities_document() -> etree._Element:
    grants = db.session.execute(
        select(Grant).where(Grant.status.in_(PUBLIC_STATES)).options(selectinload(Grant.application))
        .order_by(Grant.id)).scalars().all()
    transactions = _transactions([g.id for g in grants]) if grants else {}
    published = publication().results.grants
    now = last_change()
    root = etree.Element("iati-activities", {"version": VERSION, "generated-datetime": now.isoformat()})
    ref = _cfg("IATI_REPORTING_ORG_REF")
    name = _cfg("IATI_REPORTING_ORG_NAME")
    for g in grants:
        a = g.application
        act = _sub(root, "iati-activity", default_currency=g.currency, hierarchy="1",
                   last_updated_datetime=g.updated_at.replace(microsecond=0).isoformat())
        act.set(XML_LANG, "en")
        _sub(act, "iati-identifier", f"{ref}-{g.number}")
        _reporting_org(act)
        _narrative(act, "title", g.title)
        _narrative(act, "description", a.summary or g.title, type="1")
        _narrative(act, "participating-org", name, ref=ref, role="1", type=_cfg("IATI_REPORTING_ORG_TYPE"))
        _narrative(act, "participating-org", name, ref=ref, role="3", type=_cfg("IATI_REPORTING_ORG_TYPE"))
        _narrative(act, "participating-org", g.organisation.name, role="4",
                   type=ORG_TYPES.get(g.organisation.org_type, "22"))
        _sub(act, "activity-status", code=ACTIVITY_STATUS.get(g.status, "2"))
        _sub(act, "activity-date", type="1", iso_date=g.start_date.isoformat())
        if g.countersigned_at is not None:
            _sub(act, "activity-date", type="2", iso_date=g.countersigned_at.date().isoformat())
        _sub(act, "activity-date", type="3", iso_date=g.end_date.isoformat())
        if g.closed_at is not None:
            _sub(act, "activity-date", type="4", iso_date=g.closed_at.date().isoformat())
        for code, percentage in _split(list(a.countries or [])):
            _sub(act, "recipient-country", code=code, percentage=percentage)
        _sub(act, "sector", vocabulary="1", code=SECTOR_TRAFFICKING, percentage="100")
        _sub(act, "default-flow-type", code="10")
        _sub(act, "default-finance-type", code="110")
        _sub(act, "default-aid-type", code="C01", vocabulary="1")
        _sub(act, "default-tied-status", code="5")
        budget = _sub(act, "budget", type="1", status="2")
        _sub(budget, "period-start", iso_date=g.start_date.isoformat())
        _sub(budget, "period-end", iso_date=g.end_date.isoformat())
        _value(budget, "value", g.amount, g.start_date, g.currency)
        for code, day, amount in transactions.get(g.id, []):
            t = _sub(act, "transaction")
            _sub(t, "transaction-type", code=code)
            _sub(t, "transaction-date", iso_date=day.isoformat())
            _value(t, "value", amount, day)
            _narrative(t, "provider-org", name, ref=ref)
            _narrative(t, "receiver-org", g.organisation.name)
        victims = published.get(g.id)
        if victims is not None:
            result = _sub(act, "result", type="1", aggregation_status="1")
            _narrative(result, "title", "Victims of trafficking assisted")
            indicator = _sub(result, "indicator", measure="1", ascending="1")
            _narrative(indicator, "title", "Victims assisted (accepted grantee reports)")
            period = _sub(indicator, "period")
            _sub(period, "period-start", iso_date=g.start_date.isoformat())
            _sub(period, "period-end", iso_date=g.end_date.isoformat())
            if victims in (SMALL, WITHHELD):
                actual = _sub(period, "actual")
                note = ("Fewer than 5 (not published to protect victims)" if victims == SMALL
                        else "Withheld so that no small count can be worked out")
                _narrative(actual, "comment", note)
            else:
                _sub(period, "actual", value=str(victims))
    return root


def organisation_document() -> etree._Element:
    years = figures.by_year()
    now = last_change()
    ref = _cfg("IATI_REPORTING_ORG_REF")
    root = etree.Element("iati-organisations", {"version": VERSION, "generated-datetime": now.isoformat()})
    org = _sub(root, "iati-organisation", default_currency="USD", last_updated_datetime=now.isoformat())
    org.set(XML_LANG, "en")
    _sub(org, "organisation-identifier", ref)
    _narrative(org, "name", _cfg("IATI_REPORTING_ORG_NAME"))
    _reporting_org(org)
    for y in years:
        start, end = dt.date(y.year, 1, 1), dt.date(y.year, 12, 31)
        budget = _sub(org, "total-budget", status="2")
        _sub(budget, "period-start", iso_date=start.isoformat())
        _sub(budget, "period-end", iso_date=end.isoformat())
        _value(budget, "value", y.committed, start)
    for y in years:
        start, end = dt.date(y.year, 1, 1), dt.date(y.year, 12, 31)
        spent = _sub(org, "total-expenditure")
        _sub(spent, "period-start", iso_date=start.isoformat())
        _sub(spent, "period-end", iso_date=end.isoformat())
        _value(spent, "value", y.disbursed - y.refunded + y.psc, start)
        line = _sub(spent, "expense-line", ref="grants")
        _value(line, "value", y.disbursed - y.refunded, start)
        _sub(line, "narrative", "Grants paid to organisations assisting victims, net of refunds")
        line = _sub(spent, "expense-line", ref="psc")
        _value(line, "value", y.psc, start)
        _sub(line, "narrative", "Programme support costs")
    return root


def _xml(root) -> Response:
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    response = Response(body, mimetype="application/xml")
    response.add_etag()
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response.make_conditional(request)


@bp.route("/activities.xml")
@public
def activities():
    root = activities_document()
    if not len(root):  # the standard wants at least one activity: no grant yet, no file
        abort(404)
    return _xml(root)


@bp.route("/organisation.xml")
@public
def organisation():
    return _xml(organisation_document())
