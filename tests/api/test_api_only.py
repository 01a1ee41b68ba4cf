"""What an integrator can do with the API alone: an applicant registers an organisation, edits it, uploads its
PSEA policy, applies and submits; a fund manager finds a reviewer's id and assigns them; the reviewer reads
nothing of the application before declaring no conflict, then reads it in full with its documents, and scores."""

from __future__ import annotations

import io

from fund.db import db
from tests.grants import factories as gf

ORGANISATION = {
    "name": "Association Espoir", "acronym": "AE", "country": "SN", "org_type": "ngo",
    "registration_number": "SN-2012-1234", "registration_date": "2012-05-14", "address": "12 rue des Jardins",
    "year_established": 2012, "contact_name": "Awa", "contact_email": "contact@espoir.example.org",
    "years_direct_assistance": 5, "bank_account_holder": "Association Espoir", "bank_name": "Banque de Dakar",
    "bank_account_number": "GB82WEST12345698765432", "bank_swift": "BDAKSNDA",
}
ANSWERS = {
    "project_title": "Safe return for survivors of forced labour", "summary": "Shelter, legal aid and training.",
    "objectives": "120 survivors assisted.", "countries": ["SN"], "locations": "Dakar", "start_date": "2027-09-01",
    "duration_months": 18, "forms_of_exploitation": ["forced_labour"],
    "assistance_types": ["shelter", "legal_counselling"],
    "beneficiaries": [{"sex": "female", "age_band": "18-24", "count": 40}],
    "identification_referral": "Labour inspectorate referrals.", "partners": "Ministry of Labour.",
    "risks_safeguarding": "PSEA training.", "monitoring_plan": "Quarterly follow-up.",
    "budget_lines": [{"category": "personnel", "description": "Case workers", "quantity": "36",
                      "unit_cost": "600.00"},
                     {"category": "shelter", "description": "Shelter", "quantity": "18", "unit_cost": "800.00"},
                     {"category": "indirect", "description": "Administration", "quantity": "1",
                      "unit_cost": "2500.00"}],
}


def upload(client, url, name="policy.pdf", content=gf.PDF_BYTES, **form):
    return client.post(url, data={**form, "file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def open_call(app) -> int:
    with app.test_request_context():
        call_id = gf.make_call().id
        db.session.commit()
        return call_id


def test_an_api_only_applicant_registers_uploads_its_policy_applies_and_submits(app, api_as):
    call_id = open_call(app)
    ngo = api_as("applicant")
    assert ngo.get(f"/api/v1/calls/{call_id}").get_json()["id"] == call_id

    created = ngo.post("/api/v1/organisations", json=ORGANISATION)
    assert created.status_code == 201, created.get_json()
    org = created.get_json()
    assert org["psea_policy_document_id"] is None and not org["complete"]

    # an empty change is refused; a real one goes through the portal's operation
    assert ngo.patch(f"/api/v1/organisations/{org['id']}", json={}).status_code == 422
    edited = ngo.patch(f"/api/v1/organisations/{org['id']}", json={"contact_phone": "+221 33 800 00 00"})
    assert edited.status_code == 200 and edited.get_json()["contact_phone"] == "+221 33 800 00 00"

    refused = upload(ngo, f"/api/v1/organisations/{org['id']}/psea-policy", content=gf.HTML_BYTES)
    assert refused.status_code == 422 and "file" in refused.get_json()["error"]["fields"]
    assert ngo.post(f"/api/v1/organisations/{org['id']}/psea-policy", data={},
                    content_type="multipart/form-data").get_json()["error"]["fields"]["file"]
    policy = upload(ngo, f"/api/v1/organisations/{org['id']}/psea-policy")
    assert policy.status_code == 200, policy.get_json()
    assert policy.get_json()["psea_policy_document_id"] and policy.get_json()["complete"]

    application = ngo.post("/api/v1/applications", json={"call_id": call_id, **ANSWERS})
    assert application.status_code == 201, application.get_json()
    application_id = application.get_json()["id"]
    assert ngo.patch(f"/api/v1/applications/{application_id}", json={}).status_code == 422
    not_a_workbook = upload(ngo, f"/api/v1/applications/{application_id}/documents", name="budget.pdf",
                            kind="budget_workbook")
    assert not_a_workbook.status_code == 422
    assert "spreadsheet" in not_a_workbook.get_json()["error"]["fields"]["file"][0]
    workbook = upload(ngo, f"/api/v1/applications/{application_id}/documents", name="budget.xlsx",
                      content=gf.office_bytes("xl"), kind="budget_workbook")
    assert workbook.status_code == 201, workbook.get_json()

    submitted = ngo.post(f"/api/v1/applications/{application_id}/submit")
    assert submitted.status_code == 200, submitted.get_json()
    assert submitted.get_json()["status"] == "received" and submitted.get_json()["reference"]


def test_an_api_only_reviewer_reads_after_declaring_no_conflict_and_scores(app, api_as, make_user):
    from tests.grants.review import factories as rf

    fm, reviewer, other = api_as("fund_manager"), api_as("reviewer", name="Rita Reviewer"), api_as("reviewer")
    with app.test_request_context():
        application_id = rf.eligible().id
        db.session.commit()

    found = fm.get("/api/v1/users", query_string={"role": "reviewer", "q": "rita"}).get_json()["items"]
    assert [u["id"] for u in found] == [reviewer.user.id]
    assert fm.get(f"/api/v1/users/{reviewer.user.id}").get_json()["name"] == "Rita Reviewer"
    assigned = fm.post(f"/api/v1/applications/{application_id}/reviewers",
                       json={"user_ids": [reviewer.user.id, other.user.id]})
    assert assigned.status_code == 200, assigned.get_json()
    assert fm.get(f"/api/v1/applications/{application_id}/screening").get_json()["outcome"] == "eligible"

    review = reviewer.get("/api/v1/reviews").get_json()["items"][0]
    assert reviewer.get(f"/api/v1/reviews/{review['id']}").get_json()["id"] == review["id"]
    assert other.get(f"/api/v1/reviews/{review['id']}").status_code == 404
    # before the declaration: nothing of the application
    assert reviewer.get(f"/api/v1/applications/{application_id}").status_code == 404
    documents = fm.get(f"/api/v1/applications/{application_id}").get_json()["documents"]
    assert documents
    assert reviewer.get(documents[0]["url"]).status_code == 404

    declared = reviewer.post(f"/api/v1/reviews/{review['id']}/conflict", json={"conflict": False})
    assert declared.status_code == 200, declared.get_json()
    full = reviewer.get(f"/api/v1/applications/{application_id}")
    assert full.status_code == 200
    assert full.get_json()["summary"] and full.get_json()["budget_lines"] and full.get_json()["beneficiaries"]
    download = reviewer.get(documents[0]["url"])
    assert download.status_code == 200 and download.get_data() == fm.get(documents[0]["url"]).get_data()
    # the other reviewer, who declared a conflict, still reads nothing
    other_review = other.get("/api/v1/reviews").get_json()["items"][0]
    other.post(f"/api/v1/reviews/{other_review['id']}/conflict", json={"conflict": True, "reason": "Former staff"})
    assert other.get(f"/api/v1/applications/{application_id}").status_code == 404

    criteria = [s["criterion_id"] for s in reviewer.get(f"/api/v1/reviews/{review['id']}").get_json()["scores"]]
    saved = reviewer.put(f"/api/v1/reviews/{review['id']}", json={
        "scores": {str(c): 4 for c in criteria}, "comments": {str(c): "Sound." for c in criteria},
        "recommendation": "fund"})
    assert saved.status_code == 200, saved.get_json()
    assert reviewer.post(f"/api/v1/reviews/{review['id']}/submit").status_code == 200
