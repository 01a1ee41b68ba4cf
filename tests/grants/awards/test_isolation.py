"""Another organisation's applicant reaches nothing of a grant, through any route of url_map that names a grant,
a disbursement or a report (portal and API): every request is answered 403 or 404 and nothing changes."""

from __future__ import annotations

import io

from flask import url_for
from sqlalchemy import select

from fund.audit import AuditEvent
from fund.db import db
from fund.mail import OutboxMessage
from grants.awards.models import Disbursement, Grant, GrantReport
from tests.grants.awards import factories as af
from tests.grants.awards.conftest import sign_and_countersign

OBJECT_ARGS = {"grant_id", "disbursement_id", "report_id"}
VALUES = {"action": "approve"}


def _value(rule, name):
    """A value the rule's converter accepts (the first of an ``any(...)``)."""
    converter = rule._converters.get(name)
    items = getattr(converter, "items", None)
    return sorted(items)[0] if items else VALUES.get(name)


def snapshot() -> dict:
    return {
        "grants": [(g.id, g.status, g.signed_document_id) for g in db.session.execute(select(Grant)).scalars()],
        "disbursements": [(d.id, d.status, str(d.amount)) for d in db.session.execute(select(Disbursement))
                          .scalars()],
        "reports": [(r.id, r.status, r.activities, r.total_assisted) for r in db.session.execute(
            select(GrantReport)).scalars()],
        "mail": db.session.execute(select(OutboxMessage.id)).scalars().all(),
        "audit": [(e.action, e.entity_id) for e in db.session.execute(
            select(AuditEvent).where(AuditEvent.action != "user.login")).scalars()],
    }


def test_no_route_lets_another_organisation_reach_a_grant(app, world, login_as):
    w = world()
    sign_and_countersign(w)
    d = w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 1, "amount": "100.00"}
                  ).get_json()["id"]
    report_id = w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()["reports"][0]["id"]
    ids = {"grant_id": w.grant_id, "disbursement_id": d, "report_id": report_id}
    portal = login_as(w.other_applicant)
    with app.app_context():
        before = snapshot()
    checked, failures = 0, []
    app.config["WTF_CSRF_ENABLED"] = False  # a refusal must come from the object rules, not from CSRF
    try:
        for rule in app.url_map.iter_rules():
            args = OBJECT_ARGS & set(rule.arguments)
            if not args:
                continue
            with app.test_request_context():
                url = url_for(rule.endpoint, **{a: ids.get(a) or _value(rule, a) for a in rule.arguments})
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                if rule.rule.startswith("/api/"):
                    if method in ("GET",):
                        resp = w.outsider.open(method, url)
                    elif rule.rule.endswith(("agreement", "audit-report")):
                        resp = w.outsider.open(method, url, data={"file": (io.BytesIO(af.gf.PDF_BYTES), "x.pdf")},
                                               content_type="multipart/form-data")
                    else:
                        resp = w.outsider.open(method, url, json={"message": "intruder", "kind": "interim",
                                                                  "activities": "intruder"})
                else:
                    resp = portal.open(url, method=method, data={"message": "intruder", "activities": "intruder",
                                                                 "file": (io.BytesIO(af.gf.PDF_BYTES), "x.pdf")})
                checked += 1
                if resp.status_code not in (403, 404):
                    failures.append(f"{method} {url}: {resp.status_code}")
    finally:
        app.config["WTF_CSRF_ENABLED"] = True
    assert not failures, failures
    assert checked >= 30
    with app.app_context():
        assert snapshot() == before
