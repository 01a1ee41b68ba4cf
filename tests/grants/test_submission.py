"""Submission: only while the call is open by server time, only when complete, within the call's budget
limits, one application per organisation per call. Every refusal says why and changes nothing."""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
from decimal import Decimal

import pypdf
import pytest
from sqlalchemy import select

from fund.audit import AuditEvent
from fund.db import db, utcnow
from fund.mail import OutboxMessage
from grants.models import Application, Document
from tests.grants import factories as f
from tests.grants.conftest import counts


@pytest.fixture
def ready(app, applicant_with_org, build, api_as):
    """An applicant (API client) with a complete draft application to an open call."""

    def do(late: bool = False, **call_fields):
        user, org_id = applicant_with_org()
        call_id = build(lambda: f.make_call(**call_fields))
        with app.test_request_context():
            from grants.models import Call

            call = db.session.get(Call, call_id)
            app_id = f.make_application(user, call).id
            if late:  # the clock passes the closing time while the draft is being prepared
                call.closes_at = utcnow() - dt.timedelta(minutes=1)
            db.session.commit()
        return api_as(user), app_id, call_id

    return do


def state(app, app_id) -> dict:
    with app.app_context():
        a = db.session.get(Application, app_id)
        snapshot = {"status": a.status, "reference": a.reference, "submitted_at": a.submitted_at,
                    "requested": a.requested_amount, **counts()}
        db.session.remove()
        return snapshot


def test_a_complete_application_is_submitted_with_reference_mail_and_acknowledgement(app, ready):
    api, app_id, call_id = ready()
    resp = api.post(f"/api/v1/applications/{app_id}/submit")
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert re.fullmatch(r"VTF-\d{4}-SGP2-0001", body["reference"])
    assert body["status"] == "received" and body["status_label"] == "Received"
    with app.app_context():
        a = db.session.get(Application, app_id)
        assert body["reference"] == f"VTF-{a.call.opens_at.year}-SGP2-0001"
        mails = db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "grants:application_submitted")
                                   ).scalars().all()
        assert {m.recipient for m in mails} >= {api.user.email}
        assert all(body["reference"] in m.subject and body["reference"] in m.body_text for m in mails)
        actions = [e.action for e in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]
        assert "application.submit" in actions and "application.reference" in actions
        ack = db.session.execute(select(Document).where(Document.application_id == app_id,
                                                        Document.kind == "acknowledgement")).scalar_one()
        ack_id = ack.id
    pdf = api.get(f"/api/v1/documents/{ack_id}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert body["reference"] in text
    assert "Safe return for survivors of forced labour" in text
    assert "38,500.00 USD" in text  # the requested amount, as submitted


def test_a_late_submission_is_refused_and_nothing_changes(app, ready):
    api, app_id, _ = ready(late=True)
    before = state(app, app_id)
    resp = api.post(f"/api/v1/applications/{app_id}/submit")
    assert resp.status_code == 422
    assert "closed" in resp.json["error"]["message"]
    assert "can no longer be submitted" in resp.json["error"]["message"]
    assert state(app, app_id) == before


def test_an_incomplete_submission_lists_what_is_missing(app, applicant_with_org, build, api_as):
    user, _ = applicant_with_org()
    app_id = build(lambda: f.make_application(user, complete=False))
    api = api_as(user)
    before = state(app, app_id)
    resp = api.post(f"/api/v1/applications/{app_id}/submit")
    assert resp.status_code == 422
    fields = resp.json["error"]["fields"]
    assert fields["_schema"] == ["The application is not complete."]
    for section, missing in (("project", "Missing: Project title."), ("location", "Missing: Countries."),
                             ("beneficiaries", "Missing: Expected beneficiaries."), ("budget", "Add the budget lines."),
                             ("documents", "Missing document: Detailed budget (spreadsheet).")):
        assert any(missing in p for p in fields[section]), (missing, fields)
    assert state(app, app_id) == before


def _lines(*amounts: tuple[str, str]) -> list[dict]:
    return [{"category": cat, "description": cat, "quantity": "1", "unit_cost": amount} for cat, amount in amounts]


@pytest.mark.parametrize(("lines", "message"), [
    (_lines(("personnel", "50000.00"), ("shelter", "15000.00")),
     "The requested amount (65,000.00 USD) is above the call's maximum of 60,000.00 USD."),
    (_lines(("personnel", "15000.00")),
     "The requested amount (15,000.00 USD) is below the call's minimum of 20,000.00 USD."),
    (_lines(("personnel", "30000.00"), ("indirect", "2100.01")),
     "Indirect costs (2,100.01 USD) are more than 7 % of direct costs (at most 2,100.00 USD)."),
])
def test_budget_rules_are_checked_at_submission(app, ready, lines, message):
    api, app_id, _ = ready()
    saved = api.patch(f"/api/v1/applications/{app_id}", json={"budget_lines": lines})
    assert saved.status_code == 200, saved.json  # a draft may be saved while it is still out of bounds
    assert message in saved.json["missing"]
    before = state(app, app_id)
    resp = api.post(f"/api/v1/applications/{app_id}/submit")
    assert resp.status_code == 422
    assert message in resp.json["error"]["message"]
    assert state(app, app_id) == before


def test_indirect_costs_of_exactly_7_percent_are_accepted(app, ready):
    api, app_id, _ = ready()
    resp = api.patch(f"/api/v1/applications/{app_id}",
                     json={"budget_lines": _lines(("personnel", "30000.00"), ("indirect", "2100.00"))})
    assert resp.json["requested_amount"] == "32100.00" and resp.json["indirect_costs"] == "2100.00"
    assert api.post(f"/api/v1/applications/{app_id}/submit").status_code == 200


def test_a_second_application_to_the_same_call_is_refused(app, ready, make_user, api_as):
    api, app_id, call_id = ready()
    before = state(app, app_id)
    resp = api.post("/api/v1/applications", json={"call_id": call_id, "project_title": "Another"})
    assert resp.status_code == 409
    assert "only one is allowed" in resp.json["error"]["message"]
    with app.app_context():
        assert len(db.session.execute(select(Application.id)).all()) == 1
    assert state(app, app_id) == before
    # A colleague of the same organisation cannot start another one either.
    with app.app_context():
        org_id = db.session.get(Application, app_id).organisation_id
    colleague = api_as("applicant", organisation_id=org_id)
    assert colleague.post("/api/v1/applications", json={"call_id": call_id}).status_code == 409


def test_the_database_refuses_two_applications_of_one_organisation_to_a_call(app, ready):
    from sqlalchemy.exc import IntegrityError

    _api, app_id, call_id = ready()
    with app.app_context():
        first = db.session.get(Application, app_id)
        db.session.add(Application(call_id=call_id, organisation_id=first.organisation_id, status="draft",
                                   currency="USD", requested_amount=Decimal("0"), countries=[],
                                   forms_of_exploitation=[], assistance_types=[]))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_after_submission_the_application_is_read_only_until_returned(app, ready, api_as, make_user):
    api, app_id, _ = ready()
    reference = api.post(f"/api/v1/applications/{app_id}/submit").json["reference"]
    refused = api.patch(f"/api/v1/applications/{app_id}", json={"summary": "changed"})
    assert refused.status_code == 409 and "can no longer be changed" in refused.json["error"]["message"]
    upload = api.post(f"/api/v1/applications/{app_id}/documents",
                      data={"kind": "other", "file": (io.BytesIO(f.PDF_BYTES), "late.pdf")})
    assert upload.status_code == 409
    assert api.post(f"/api/v1/applications/{app_id}/submit").status_code == 409

    manager = api_as("fund_manager")
    assert manager.get(f"/api/v1/applications/{app_id}").json["status"] == "submitted"
    no_message = manager.post(f"/api/v1/applications/{app_id}/return", json={"message": ""})
    assert no_message.status_code == 422
    returned = manager.post(f"/api/v1/applications/{app_id}/return",
                            json={"message": "Please add the partner agreement."})
    assert returned.status_code == 200 and returned.json["status"] == "returned"
    with app.app_context():
        mail = db.session.execute(select(OutboxMessage).where(
            OutboxMessage.kind == "grants:application_returned")).scalars().first()
        assert "Please add the partner agreement." in mail.body_text

    seen = api.get(f"/api/v1/applications/{app_id}").json
    assert seen["status"] == "returned"
    assert api.patch(f"/api/v1/applications/{app_id}", json={"summary": "Revised."}).status_code == 200
    again = api.post(f"/api/v1/applications/{app_id}/submit")
    assert again.status_code == 200 and again.json["reference"] == reference
    with app.app_context():
        acks = db.session.execute(select(Document).where(Document.application_id == app_id,
                                                         Document.kind == "acknowledgement")).scalars().all()
        assert len(acks) == 2, "each submission has its own acknowledgement of what was submitted"


def test_the_applicant_may_withdraw_before_a_decision(app, ready, api_as):
    api, app_id, _ = ready()
    api.post(f"/api/v1/applications/{app_id}/submit")
    resp = api.post(f"/api/v1/applications/{app_id}/withdraw", json={"message": "Funded elsewhere."})
    assert resp.status_code == 200 and resp.json["status"] == "withdrawn"
    assert api.post(f"/api/v1/applications/{app_id}/withdraw").status_code == 409


def test_concurrent_submissions_get_distinct_consecutive_references(app, make_user, build, api_as):
    call_id = build(lambda: f.make_call())
    clients, ids = [], []
    for _ in range(5):
        user = make_user("applicant")
        with app.test_request_context():
            from grants.models import Call

            ids.append(f.make_application(user, db.session.get(Call, call_id)).id)
            db.session.commit()
        clients.append(api_as(user))
    results: list = [None] * 5
    barrier = threading.Barrier(5)

    def submit(i):
        barrier.wait()
        results[i] = clients[i].post(f"/api/v1/applications/{ids[i]}/submit")

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(r is not None and r.status_code == 200 for r in results), [r and r.status_code for r in results]
    sequences = sorted(int(r.json["reference"].rsplit("-", 1)[1]) for r in results)
    assert sequences == [1, 2, 3, 4, 5]
