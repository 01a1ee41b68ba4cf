"""The grants API: organisations, calls, applications, with validation errors as 422 field messages."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from fund.audit import AuditEvent
from fund.db import db, utcnow
from tests.grants import factories as f

CALL = {
    "title_en": "Emergency assistance 2028", "title_fr": "Assistance d'urgence 2028", "window": "emergency",
    "opens_at": "2027-01-01T00:00:00+00:00", "closes_at": "2099-03-31T23:59:00+02:00", "envelope": "300000.00",
    "min_grant": "10000.00", "max_grant": "30000.00", "max_duration_months": 9, "eligible_countries": ["sn", "CI"],
    "priority_forms": ["sexual_exploitation"], "required_documents": ["psea_policy"],
    "criteria": [{"name_en": "Relevance", "name_fr": "Pertinence", "weight": 50},
                 {"name_en": "Capacity", "name_fr": "Capacités", "weight": 50}],
}


def test_a_fund_manager_creates_opens_and_closes_a_call(app, api_as):
    fm = api_as("fund_manager")
    resp = fm.post("/api/v1/calls", json=CALL)
    assert resp.status_code == 201, resp.json
    call = resp.json
    assert call["status"] == "draft" and call["window_code"] == "SGP1" and call["eligible_countries"] == ["SN", "CI"]
    assert call["closes_at"] == "2099-03-31T21:59:00+00:00"  # stored in UTC
    assert call["max_grant"] == "30000.00" and call["currency"] == "USD"
    applicant = api_as("applicant")
    assert [c["id"] for c in applicant.get("/api/v1/calls").json["items"]] == []  # drafts are not listed
    assert fm.post(f"/api/v1/calls/{call['id']}/open").json["status"] == "open"
    assert [c["id"] for c in applicant.get("/api/v1/calls").json["items"]] == [call["id"]]
    again = fm.post(f"/api/v1/calls/{call['id']}/open")
    assert again.status_code == 409 and again.json["error"]["code"] == "invalid_transition"
    assert fm.post(f"/api/v1/calls/{call['id']}/close").json["status"] == "closed"
    with app.app_context():
        actions = [e.action for e in db.session.execute(select(AuditEvent)).scalars()]
    assert {"call.create", "call.open", "call.close"} <= set(actions)


def test_call_validation_gives_field_messages(api_as):
    fm = api_as("fund_manager")
    bad = {**CALL, "criteria": [{"name_en": "A", "name_fr": "A", "weight": 60}], "min_grant": "50000.00",
           "envelope": "12.345", "closes_at": "2026-12-31T00:00:00Z", "eligible_countries": ["XX"], "extra": 1}
    resp = fm.post("/api/v1/calls", json=bad)
    assert resp.status_code == 422
    fields = resp.json["error"]["fields"]
    assert "extra" in fields and "eligible_countries" in fields
    resp = fm.post("/api/v1/calls", json={**CALL, "criteria": [{"name_en": "A", "name_fr": "A", "weight": 60}],
                                          "min_grant": "50000.00", "envelope": "12.345",
                                          "closes_at": "2026-12-31T00:00:00Z"})
    fields = resp.json["error"]["fields"]
    assert fields["criteria"] == ["The weights of the assessment criteria must add up to 100."]
    assert fields["closes_at"] == ["The call must close after it opens."]
    assert any("at most 2 decimal places" in m for m in fields["envelope"])
    assert "max_grant" in fields


def test_organisations_through_the_api_with_bank_details_masked(app, api_as):
    applicant = api_as("applicant")
    body = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in f.ORG_DATA.items()}
    body["bank_account_number"] = "GB82 WEST 1234 5698 7654 32"
    resp = applicant.post("/api/v1/organisations", json=body)
    assert resp.status_code == 201, resp.json
    org = resp.json
    assert org["bank"] == {"bank_account_holder": "Association Espoir", "bank_name": "Banque de Dakar",
                           "bank_account_number": "•••• 5432", "bank_swift": "•••• NDA", "masked": True}
    assert org["complete"] is False and "Safeguarding / PSEA policy" in org["missing"]
    assert applicant.post("/api/v1/organisations", json=body).status_code == 409  # one organisation per account
    assert applicant.get(f"/api/v1/organisations/{org['id']}?bank_details=full").status_code == 403
    fm = api_as("fund_manager")
    assert fm.get(f"/api/v1/organisations/{org['id']}").json["bank"]["masked"] is True
    fo = api_as("finance_officer")
    full = fo.get(f"/api/v1/organisations/{org['id']}?bank_details=full").json["bank"]
    assert full["bank_account_number"] == "GB82WEST12345698765432" and full["masked"] is False
    with app.app_context():
        views = db.session.execute(select(AuditEvent).where(
            AuditEvent.action == "organisation.bank_details_viewed")).scalars().all()
        assert [(v.actor, v.entity_id) for v in views] == [(fo.user.email, str(org["id"]))]
        create = db.session.execute(select(AuditEvent).where(AuditEvent.action == "organisation.create")).scalar_one()
        assert "GB82WEST12345698765432" not in str(create.changes)  # never in clear in the audit trail


def test_organisation_validation(api_as):
    resp = api_as("applicant").post("/api/v1/organisations", json={
        "name": "X", "country": "ZZ", "org_type": "company", "bank_swift": "123", "website": "javascript:alert(1)",
        "bank_account_number": "GB00WEST12345698765432", "registration_date": "2999-01-01"})
    assert resp.status_code == 422
    fields = resp.json["error"]["fields"]
    for name in ("name", "country", "org_type", "bank_swift", "website", "bank_account_number",
                 "registration_date"):
        assert name in fields, name


def test_applications_create_patch_get_and_list(app, make_user, api_as):
    user = make_user("applicant")
    with app.test_request_context():
        f.organisation_of(user)
        call = f.make_call()
        other_call = f.make_call(title_en="Other")
        db.session.commit()
        call_id, other_id = call.id, other_call.id
    api = api_as(user)
    created = api.post("/api/v1/applications", json={"call_id": call_id, "project_title": "Shelter",
                                                      "countries": ["sn"]})
    assert created.status_code == 201, created.json
    a = created.json
    assert a["status"] == "draft" and a["countries"] == ["SN"] and a["requested_amount"] == "0.00"
    assert a["currency"] == "USD" and a["complete"] is False
    patched = api.patch(f"/api/v1/applications/{a['id']}", json={
        "budget_lines": [{"category": "shelter", "description": "Rent", "quantity": "12", "unit_cost": "1250.50"},
                         {"category": "indirect", "description": "Admin", "quantity": "1", "unit_cost": "1000"}],
        "beneficiaries": [{"sex": "female", "age_band": "0-11", "count": 7}],
    })
    assert patched.status_code == 200, patched.json
    body = patched.json
    assert body["requested_amount"] == "16006.00" and body["direct_costs"] == "15006.00"
    assert body["budget_lines"][0] == {"id": body["budget_lines"][0]["id"], "category": "shelter",
                                       "description": "Rent", "quantity": "12.00", "unit_cost": "1250.50",
                                       "total": "15006.00", "currency": "USD"}
    assert body["beneficiaries"] == [{"sex": "female", "age_band": "0-11", "count": 7}]
    bad = api.patch(f"/api/v1/applications/{a['id']}", json={
        "duration_months": 30, "budget_lines": [{"category": "cars", "description": "", "quantity": "0.001",
                                                 "unit_cost": 12.5}]})
    assert bad.status_code == 422
    lines = bad.json["error"]["fields"]["budget_lines"]["0"]
    assert set(lines) == {"category", "description", "quantity", "unit_cost"}
    too_long = api.patch(f"/api/v1/applications/{a['id']}", json={"duration_months": 30})
    assert too_long.status_code == 422
    assert too_long.json["error"]["fields"]["duration_months"] == ["At most 24 months for this call."]
    assert api.get(f"/api/v1/applications/{a['id']}").json["requested_amount"] == "16006.00"  # unchanged
    api.post("/api/v1/applications", json={"call_id": other_id})
    page = api.get("/api/v1/applications?per_page=1").json
    assert page["meta"] == {"page": 1, "per_page": 1, "total": 2, "pages": 2} and len(page["items"]) == 1
    assert [i["call_id"] for i in api.get(f"/api/v1/applications?call_id={call_id}").json["items"]] == [call_id]
    assert api.get("/api/v1/applications?status=draft").json["meta"]["total"] == 2
    assert api.get("/api/v1/applications?status=received").json["meta"]["total"] == 0
    assert api.get("/api/v1/applications?status=recommended").status_code == 422  # not an applicant's status


def test_applying_needs_an_organisation_and_an_open_call(app, api_as, make_user):
    lonely = api_as("applicant")
    with app.test_request_context():
        call = f.make_call()
        draft_call = f.make_call(status="draft")
        db.session.commit()
        call_id, draft_id = call.id, draft_call.id
    resp = lonely.post("/api/v1/applications", json={"call_id": call_id})
    assert resp.status_code == 409 and resp.json["error"]["code"] == "organisation_required"
    user = make_user("applicant")
    with app.test_request_context():
        f.organisation_of(user)
        db.session.commit()
    api = api_as(user)
    assert api.post("/api/v1/applications", json={"call_id": draft_id}).status_code == 422
    assert api.post("/api/v1/applications", json={"call_id": 999999}).status_code == 422


def test_times_are_shown_in_the_users_time_zone(app, make_user, login_as):
    user = make_user("applicant")
    with app.test_request_context():
        from fund.models import User

        db.session.get(User, user.id).timezone = "Africa/Nairobi"  # UTC+3
        call = f.make_call()
        call.closes_at = utcnow().replace(year=2099, month=1, day=15, hour=9, minute=0, second=0, microsecond=0)
        db.session.commit()
        call_id = call.id
    page = login_as(user).get(f"/grants/calls/{call_id}").get_data(as_text=True)
    assert "January 15, 2099" in page and "12:00" in page and "12:00:00" not in page  # 09:00 UTC: noon in Nairobi
