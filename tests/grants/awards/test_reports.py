"""Grantee reports: results that must agree across breakdowns, explained expenditure, completeness, review."""

from __future__ import annotations

import copy

from sqlalchemy import func, select

from fund.audit import AuditEvent
from fund.db import db
from grants.awards.models import GrantReport, ReportExpense, ReportResult
from tests.grants.awards.conftest import sign_and_countersign
from tests.grants.awards.reports_data import RESULTS, report_body


def _setup(world):
    w = world()
    sign_and_countersign(w)
    grant = w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()
    reports = {r["kind"]: r["id"] for r in grant["reports"]}
    return w, grant, reports


def _saved(app, report_id):
    with app.app_context():
        report = db.session.get(GrantReport, report_id)
        return {
            "activities": report.activities, "total": report.total_assisted, "spent": report.expenditure,
            "results": db.session.execute(select(func.count()).select_from(ReportResult)
                                          .where(ReportResult.report_id == report_id)).scalar_one(),
            "expenses": db.session.execute(select(func.count()).select_from(ReportExpense)
                                           .where(ReportExpense.report_id == report_id)).scalar_one(),
            "audit": db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one(),
        }


def test_totals_that_disagree_are_kept_as_a_draft_with_a_warning_and_refused_on_submission(app, world):
    w, grant, reports = _setup(world)
    for breakdown, label in (("form", "form of exploitation"), ("assistance", "type of assistance"),
                             ("country", "country")):
        body = report_body("interim", grant, shares={"personnel": "10800.00", "shelter": "7200.00",
                                                     "indirect": "1250.00"})
        body["results"] = copy.deepcopy(RESULTS)
        first = next(iter(body["results"][breakdown]))
        body["results"][breakdown][first] += 1  # one victim too many in this breakdown only
        resp = w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=body)
        assert resp.status_code == 201, resp.get_json()
        warnings = resp.get_json()["warnings"]
        assert list(warnings) == ["results"] and list(warnings["results"]) == [breakdown]
        message = warnings["results"][breakdown][0]
        assert label in message and "16" in message and "15" in message
        saved = _saved(app, reports["interim"])
        assert saved["activities"] == body["activities"] and saved["total"] == 15  # the draft as sent

        resp = w.ngo.post(f"/api/v1/reports/{reports['interim']}/submit")
        assert resp.status_code == 422, resp.get_json()
        error = resp.get_json()["error"]
        assert error["fields"]["results"] == warnings["results"] and "expenditure" not in error["fields"]
        assert label in error["message"]
        assert w.ngo.get(f"/api/v1/reports/{reports['interim']}").get_json()["status"] == "due"


def test_not_recorded_lets_breakdowns_agree(app, world):
    w, grant, reports = _setup(world)
    body = {"kind": "interim", "results": {
        "sex_age": [{"sex": "female", "age_band": "0-11", "count": 3}, {"sex": "male", "age_band": "60+", "count": 1}],
        "form": {"forced_begging": 2, "not_recorded": 2}, "assistance": {"not_recorded": 4},
        "country": {"SN": 3, "not_recorded": 1}}}
    resp = w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=body)
    assert resp.status_code == 201, resp.get_json()
    results = resp.get_json()["results"]
    assert resp.get_json()["total_assisted"] == 4
    assert sorted((c["sex"], c["age_band"], c["count"]) for c in results["sex_age"]) == [
        ("female", "0-11", 3), ("male", "60+", 1)]
    assert results["form"] == {"forced_begging": 2, "not_recorded": 2}


def test_unknown_categories_are_refused_and_missing_breakdowns_warned(app, world):
    w, grant, reports = _setup(world)
    before = _saved(app, reports["interim"])
    bad = {"kind": "interim", "activities": "Not kept.", "results": {**RESULTS, "form": {"witchcraft": 15}}}
    resp = w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=bad)
    assert resp.status_code == 422 and "form" in resp.get_json()["error"]["fields"]["results"]
    assert _saved(app, reports["interim"]) == before  # what cannot be stored refuses the whole request
    partial = {"kind": "interim", "results": {"sex_age": RESULTS["sex_age"], "form": RESULTS["form"]}}
    resp = w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=partial)
    assert resp.status_code == 201
    assert set(resp.get_json()["warnings"]["results"]) == {"assistance", "country"}
    cell = {"kind": "interim", "results": {**RESULTS, "sex_age": [{"sex": "woman", "age_band": "18-24",
                                                                   "count": 15}]}}
    assert w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=cell).status_code == 422


def test_a_line_more_than_ten_percent_off_needs_an_explanation(app, world):
    w, grant, reports = _setup(world)
    lines = {b["category"]: b for b in grant["budget_lines"]}
    body = report_body("final", grant, shares={"shelter": "12900.00"})  # 14,400 budgeted: 10.4 % under
    resp = w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=body)
    assert resp.status_code == 201
    index = [b["category"] for b in grant["budget_lines"]].index("shelter")
    warnings = resp.get_json()["warnings"]["expenditure"]
    assert list(warnings) == [str(index)] and "explanation" in warnings[str(index)]
    assert "Shelter" in warnings[str(index)]["explanation"][0]
    assert _saved(app, reports["final"])["expenses"] == 3  # kept as a draft

    within = report_body("final", grant, shares={"shelter": "13000.00"})  # 9.7 % under: no explanation needed
    resp = w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=within)
    assert resp.status_code == 201 and resp.get_json()["warnings"] == {}
    explained = report_body("final", grant, shares={"shelter": "12900.00"},
                            explanations={"shelter": "Survivors moved to family care earlier."})
    resp = w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=explained)
    assert resp.status_code == 201 and resp.get_json()["warnings"] == {}
    assert resp.get_json()["expenditure"] == "37000.00"  # 21,600 + 12,900 + 2,500
    assert set(lines) == {"personnel", "shelter", "indirect"}


def test_interim_lines_are_compared_with_the_budget_for_the_period(app, world):
    w, grant, reports = _setup(world)
    full = report_body("interim", grant)  # the whole budget spent by mid-term: every line needs a word
    resp = w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=full)
    assert resp.status_code == 201
    assert len(resp.get_json()["warnings"]["expenditure"]) == len(grant["budget_lines"])
    resp = w.ngo.post(f"/api/v1/reports/{reports['interim']}/submit")
    assert resp.status_code == 422
    assert len(resp.get_json()["error"]["fields"]["expenditure"]) == len(grant["budget_lines"])


def test_an_incomplete_report_cannot_be_submitted(app, world):
    w, grant, reports = _setup(world)
    assert w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports",
                      json={"kind": "interim", "activities": "Shelter."}).status_code == 201
    resp = w.ngo.post(f"/api/v1/reports/{reports['interim']}/submit")
    assert resp.status_code == 422
    problems = " ".join(resp.get_json()["error"]["fields"]["_schema"])
    assert "Challenges" in problems and "results" in problems and "budget line" in problems
    assert w.ngo.get(f"/api/v1/reports/{reports['interim']}").get_json()["status"] == "due"


def test_return_with_comments_then_accept(app, world, smtp_server):
    w, grant, reports = _setup(world)
    body = report_body("interim", grant, shares={"personnel": "10800.00", "shelter": "7200.00",
                                                 "indirect": "1250.00"})
    w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=body)
    rid = reports["interim"]
    assert w.ngo.post(f"/api/v1/reports/{rid}/submit").status_code == 200
    # Submitted reports are frozen.
    assert w.ngo.patch(f"/api/v1/reports/{rid}", json={"lessons": "x"}).status_code == 409
    assert w.fm.post(f"/api/v1/reports/{rid}/return", json={}).status_code == 422
    returned = w.fm.post(f"/api/v1/reports/{rid}/return", json={"message": "Add the referral figures."})
    assert returned.get_json()["status"] == "returned"
    from fund.mail import OutboxMessage

    with app.app_context():
        mails = db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "grants:report_returned")
                                   ).scalars().all()
        assert mails and all("Add the referral figures." in m.body_text for m in mails)
    assert w.ngo.patch(f"/api/v1/reports/{rid}", json={"lessons": "Referrals matter."}).status_code == 200
    assert w.ngo.post(f"/api/v1/reports/{rid}/submit").status_code == 200
    assert w.ngo.post(f"/api/v1/reports/{rid}/accept").status_code == 403  # the organisation cannot accept
    assert w.fm.post(f"/api/v1/reports/{rid}/accept").get_json()["status"] == "accepted"


def test_the_final_report_waits_for_the_accepted_interim(app, world):
    w, grant, reports = _setup(world)
    body = report_body("final", grant)
    assert w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=body).status_code == 201
    assert w.ngo.post(f"/api/v1/reports/{reports['final']}/submit").status_code == 200
    resp = w.fm.post(f"/api/v1/reports/{reports['final']}/accept")
    assert resp.status_code == 409 and "interim report" in resp.get_json()["error"]["message"]


def test_the_budget_is_revised_by_agreement_within_the_award(app, world):
    w, grant, reports = _setup(world)
    lines = {b["category"]: b for b in grant["budget_lines"]}
    revised = [{"id": lines["personnel"]["id"], "category": "personnel", "description": "Case workers",
                "amount": "21600.00"},
               {"id": lines["shelter"]["id"], "category": "shelter", "description": "Shelter", "amount": "12400.00"},
               {"id": lines["indirect"]["id"], "category": "indirect", "description": "Administration",
                "amount": "2500.00"},
               {"category": "training", "description": "Vocational training", "amount": "2000.00"}]
    wrong = [dict(line) for line in revised]
    wrong[3]["amount"] = "2000.01"
    resp = w.fm.put(f"/api/v1/grants/{w.grant_id}/budget", json={"lines": wrong})
    assert resp.status_code == 422 and "38500.00" in resp.get_json()["error"]["fields"]["lines"][0]
    resp = w.fm.put(f"/api/v1/grants/{w.grant_id}/budget", json={"lines": revised})
    assert resp.status_code == 200, resp.get_json()
    assert [(b["category"], b["amount"]) for b in resp.get_json()["budget_lines"]] == [
        ("personnel", "21600.00"), ("shelter", "12400.00"), ("indirect", "2500.00"), ("training", "2000.00")]
    assert w.ngo.put(f"/api/v1/grants/{w.grant_id}/budget", json={"lines": revised}).status_code == 403

    # Once expenditure is reported on a line, it stays.
    grant = w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()
    body = {"kind": "interim", "expenditure": [{"budget_line_id": grant["budget_lines"][1]["id"],
                                                "spent": "6200.00"}]}
    assert w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=body).status_code == 201
    without_shelter = [line for line in revised if line["category"] != "shelter"]
    without_shelter[0]["amount"] = "34000.00"
    resp = w.fm.put(f"/api/v1/grants/{w.grant_id}/budget", json={"lines": without_shelter})
    assert resp.status_code == 409 and "Shelter" in resp.get_json()["error"]["message"]
