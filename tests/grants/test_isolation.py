"""A user of organisation A can neither see nor change anything of organisation B, through the portal or the
API: every route of the application that names an organisation, an application, a document or a member is
answered 403 or 404, and B's data is unchanged. The routes come from app.url_map, so a new route is covered."""

from __future__ import annotations

import io
import json
import re

from flask import url_for
from sqlalchemy import select

from fund.audit import AuditEvent
from fund.db import db
from fund.mail import OutboxMessage
from grants import payee
from grants.models import Application, Document, Invitation, Organisation, OrganisationAdmin
from tests.grants import factories as f

OBJECT_ARGS = {"organisation_id", "application_id", "document_id", "user_id"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def snapshot() -> dict:
    """Everything of the victim organisation that an intruder could try to read out or change."""
    apps = db.session.execute(select(Application).order_by(Application.id)).scalars().all()
    return {
        "applications": [(a.id, a.status, a.reference, a.project_title, a.summary, str(a.requested_amount),
                          [(line.description, str(line.total)) for line in a.budget_lines]) for a in apps],
        "documents": [(d.id, d.filename, d.sha256) for d in db.session.execute(select(Document)).scalars()],
        "organisations": [(o.id, o.name, o.bank_account_number, o.website)
                          for o in db.session.execute(select(Organisation)).scalars()],
        "admins": sorted(db.session.execute(select(OrganisationAdmin.user_id)).scalars()),
        "invitations": db.session.execute(select(Invitation.id)).scalars().all(),
        "mail": db.session.execute(select(OutboxMessage.id)).scalars().all(),
        "audit": [(e.action, e.entity_type, e.entity_id) for e in db.session.execute(
            select(AuditEvent).where(AuditEvent.action != "user.login")).scalars()],
    }


#: The victim's name, its account number in full, or masked (``•••• 5432``, escaped or not in JSON). The last
#: four digits alone are not looked for: an error page's reference (32 random hex digits) can contain them.
LEAKS = re.compile(r"Espoir|GB82WEST|(?:•|\\u2022){4} 5432")


def shows_the_victim(body: str) -> bool:
    return LEAKS.search(body) is not None


def portal_body(rule: str) -> dict:
    return {"project_title": "intruder", "summary": "intruder", "name": "Intruder", "country": "FR",
            "org_type": "ngo", "email": "intruder@example.org", "message": "intruder", "confirm": "yes",
            "kind": "other", "file": (io.BytesIO(f.PDF_BYTES), "intruder.pdf")}


def api_request(client, method, url):
    if url.endswith("/documents") and method == "POST":
        return client.open(method, url, data={"kind": "other", "file": (io.BytesIO(f.PDF_BYTES), "x.pdf")})
    body = {"summary": "intruder", "project_title": "intruder", "message": "intruder"} if method != "GET" else None
    return client.open(method, url, json=body)


def test_no_route_lets_one_organisation_reach_another(app, make_user, build, login_as, api_as):
    victim = make_user("applicant")
    colleague = make_user("applicant")
    with app.test_request_context():
        org = f.organisation_of(victim)
        colleague_row = db.session.get(type(victim), colleague.id)
        colleague_row.organisation_id = org.id
        draft = f.make_application(victim)
        f.add_document(draft, victim)
        submitted = f.make_application(victim, f.make_call(title_en="Second call"))
        from grants import operations

        operations.submit_application(submitted, f.user(victim))
        operations.invite(org, "someone@example.org", f.user(victim))
        db.session.commit()
        ids = {
            "organisation_id": org.id, "user_id": colleague.id,
            "application_id": [draft.id, submitted.id],
            "document_id": db.session.execute(select(Document.id)).scalars().all(),
        }
        db.session.remove()
    assert len(ids["document_id"]) >= 3  # the PSEA policy, an uploaded document, an acknowledgement

    intruder = make_user("applicant")
    with app.test_request_context():
        f.organisation_of(intruder, name="Intruder NGO")
        db.session.commit()
    portal = login_as(intruder)
    api = api_as(intruder)
    with app.app_context():
        before = snapshot()  # including the intruder's own organisation

    app.config["WTF_CSRF_ENABLED"] = False  # the refusal must come from the permission checks, not CSRF
    checked, failures = [], []
    try:
        for rule in app.url_map.iter_rules():
            names = set(rule.arguments) & OBJECT_ARGS
            if not names:
                continue
            for method in sorted((rule.methods or set()) - IGNORED_METHODS):
                for variant in range(2):
                    kwargs = {}
                    for name in rule.arguments:
                        value = ids.get(name)
                        if isinstance(value, list):
                            value = value[variant % len(value)]
                        kwargs[name] = value if value is not None else {"section": "project",
                                                                        "trigger": "open"}.get(name, 1)
                    with app.test_request_context():
                        url = url_for(rule.endpoint, **kwargs)
                    if rule.rule.startswith("/api/"):
                        resp = api_request(api, method, url)
                    else:
                        resp = portal.open(url, method=method, data=portal_body(rule.rule) if method != "GET" else None)
                    checked.append(f"{method} {url}")
                    if resp.status_code not in (403, 404):
                        failures.append(f"{method} {url}: {resp.status_code}")
                    if shows_the_victim(resp.get_data(as_text=True)):
                        failures.append(f"{method} {url}: shows the other organisation's data")
    finally:
        app.config["WTF_CSRF_ENABLED"] = True
    assert not failures, "\n".join(failures)
    # The loop really visited the object routes of the portal and of the API.
    assert len(checked) >= 40, checked
    for expected in ("/grants/applications/", "/grants/documents/", "/grants/organisations/",
                     "/api/v1/applications/", "/api/v1/documents/", "/api/v1/organisations/"):
        assert any(expected in c for c in checked), expected
    with app.app_context():
        after = snapshot()
    assert after == before
    # The same look-out finds the organisation's data where its own member may see it.
    own = f"/grants/organisations/{ids['organisation_id']}"
    assert shows_the_victim(login_as(victim).get(own).get_data(as_text=True))
    assert shows_the_victim(api_as(victim).get(f"/api/v1{own.removeprefix('/grants')}").get_data(as_text=True))
    masked = payee.mask(f.ORG_DATA["bank_account_number"])  # the account as pages and the API show it
    assert shows_the_victim(masked) and shows_the_victim(json.dumps(masked))


def test_lists_show_only_the_callers_organisation(app, make_user, build, login_as, api_as):
    a, b = make_user("applicant"), make_user("applicant")
    with app.test_request_context():
        call = f.make_call()
        app_a = f.make_application(a, call)
        app_a.project_title = "Project of A"
        app_b = f.make_application(b, call)
        app_b.project_title = "Project of B"
        db.session.commit()
        a_id, b_id, call_id = app_a.id, app_b.id, call.id
    listed = api_as(b).get(f"/api/v1/applications?call_id={call_id}").json
    assert [i["id"] for i in listed["items"]] == [b_id] and listed["meta"]["total"] == 1
    home = login_as(b).get("/grants/portal").get_data(as_text=True)
    assert "Project of B" in home and "Project of A" not in home
    manager = api_as("fund_manager").get(f"/api/v1/applications?call_id={call_id}").json
    assert sorted(i["id"] for i in manager["items"]) == sorted([a_id, b_id])


def test_a_member_who_is_not_an_administrator_cannot_change_the_profile(app, make_user, login_as, api_as):
    admin = make_user("applicant")
    with app.test_request_context():
        org = f.organisation_of(admin)
        db.session.commit()
        org_id = org.id
    member = make_user("applicant", organisation_id=org_id)
    client = login_as(member)
    assert client.get(f"/grants/organisations/{org_id}").status_code == 200
    assert client.get(f"/grants/organisations/{org_id}/edit").status_code == 403
    resp = client.submit(f"/grants/organisations/{org_id}/invitations", {"email": "x@example.org"},
                         page=f"/grants/organisations/{org_id}")
    assert resp.status_code == 403
    assert api_as(member).get(f"/api/v1/organisations/{org_id}").status_code == 200
