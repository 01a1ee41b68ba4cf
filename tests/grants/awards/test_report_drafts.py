"""The report form keeps what was typed: saving always stores the draft (the rules of submission become
warnings beside their fields), submitting from the form submits what is in it, and a refused submission shows
the page again as typed with the messages beside the fields. The API the same: warnings on save, 422 on
submission."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import func, select

from fund.audit import AuditEvent
from fund.db import db
from grants.awards.models import GrantReport
from tests.grants.awards.conftest import sign_and_countersign
from tests.grants.awards.reports_data import NARRATIVE, RESULTS, report_body


def _setup(app, world, login_as):
    w = world()
    sign_and_countersign(w)
    grant = w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()
    report_id = {r["kind"]: r["id"] for r in grant["reports"]}["interim"]
    return w, grant, report_id, login_as(w.applicant), f"/grants/awards/reports/{report_id}"


def _form(grant: dict, *, extra_form_victims: int = 0, explain: bool = True, **narrative) -> dict:
    """The whole report form as a grantee types it: RESULTS in the four tables, half of each line spent (what
    the interim period expects) or, for shelter, well under it (explained unless ``explain`` is false)."""
    form = {**NARRATIVE, **narrative}
    for cell in RESULTS["sex_age"]:
        form[f"sa-{cell['sex']}-{cell['age_band']}"] = str(cell["count"])
    for code, n in RESULTS["form"].items():
        form[f"form-{code}"] = str(n + (extra_form_victims if code == "forced_labour" else 0))
    for code, n in RESULTS["assistance"].items():
        form[f"as-{code}"] = str(n)
    for i, (code, n) in enumerate(RESULTS["country"].items()):
        form[f"country-{i}-code"], form[f"country-{i}-count"] = code, str(n)
    for line in grant["budget_lines"]:
        half = f"{float(line['amount']) / 2:.2f}"
        if line["category"] == "shelter":
            form[f"spent-{line['id']}"] = "1000.00"
            if explain:
                form[f"explain-{line['id']}"] = "Survivors moved to family care earlier than planned."
        else:
            form[f"spent-{line['id']}"] = half
    return form


def _stored(app, report_id):
    with app.app_context():
        r = db.session.get(GrantReport, report_id)
        return {"status": r.status, "activities": r.activities, "total": r.total_assisted,
                "form": r.breakdown("form"), "spent": r.expenditure,
                "audit": db.session.execute(select(func.count()).select_from(AuditEvent)
                                            .where(AuditEvent.action == "grant_report.update")).scalar_one()}


def _boxes(html: str) -> int:
    return len(re.findall(r'class="(?:error-summary|notice)"', html))


def test_saving_an_inconsistent_report_keeps_the_draft_and_warns_beside_the_fields(app, world, login_as):
    w, grant, report_id, client, url = _setup(app, world, login_as)
    shelter = next(b for b in grant["budget_lines"] if b["category"] == "shelter")
    form = _form(grant, extra_form_victims=1, explain=False, activities="Typed narrative: shelter for 15.")
    resp = client.submit(url, {**form, "action": "save"})
    assert resp.status_code == 302
    stored = _stored(app, report_id)
    assert stored["status"] == "due" and stored["activities"] == "Typed narrative: shelter for 15."
    assert stored["total"] == 15 and stored["form"] == {"forced_labour": 13, "not_recorded": 3}
    assert stored["audit"] == 1

    html = client.get(url).get_data(as_text=True)
    assert "Typed narrative: shelter for 15." in html
    assert 'id="results-form-warning"' in html and "add up to 16" in html
    assert f'id="explain-{shelter["id"]}-warning"' in html
    assert _boxes(html) == 1 and "error-summary" not in html  # one summary box, a notice: nothing was refused
    assert 'value="13"' in html  # the count as typed


def test_submitting_an_inconsistent_report_is_refused_with_what_was_typed_shown_again(app, world, login_as):
    w, grant, report_id, client, url = _setup(app, world, login_as)
    form = _form(grant, extra_form_victims=1, activities="Typed just before submitting.")
    resp = client.submit(url, {**form, "action": "submit"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Typed just before submitting." in html and 'value="13"' in html
    assert 'id="results-form-error"' in html and "add up to 16" in html
    assert _boxes(html) == 1
    stored = _stored(app, report_id)
    assert stored["status"] == "due"
    assert stored["activities"] == "Typed just before submitting."  # the draft is kept all the same


def test_submitting_from_the_form_submits_what_is_typed_not_the_stored_draft(app, world, login_as):
    w, grant, report_id, client, url = _setup(app, world, login_as)
    assert client.submit(url, {"activities": "An older draft.", "action": "save"}).status_code == 302
    form = _form(grant, activities="The final text, typed now.")
    resp = client.submit(url, {**form, "action": "submit"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    stored = _stored(app, report_id)
    assert stored["status"] == "submitted"
    assert stored["activities"] == "The final text, typed now."
    assert stored["total"] == 15 and stored["form"] == {"forced_labour": 12, "not_recorded": 3}
    expected = sum(float(b["amount"]) / 2 for b in grant["budget_lines"] if b["category"] != "shelter") + 1000
    assert stored["spent"] == Decimal(f"{expected:.2f}")


def test_a_count_that_is_not_a_number_names_its_cell_and_the_rest_is_saved(app, world, login_as):
    w, grant, report_id, client, url = _setup(app, world, login_as)
    form = _form(grant, activities="Kept although a count is wrong.")
    form["sa-female-18-24"] = "nine"
    resp = client.submit(url, {**form, "action": "save"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="sa-female-18-24-error"' in html and "Female, 18–24: Enter a whole number." in html
    assert 'value="nine"' in html and "Kept although a count is wrong." in html
    assert _stored(app, report_id)["activities"] == "Kept although a count is wrong."


def test_the_api_saves_an_inconsistent_draft_with_warnings_and_refuses_its_submission(app, world):
    w = world()
    sign_and_countersign(w)
    grant = w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()
    report_id = {r["kind"]: r["id"] for r in grant["reports"]}["final"]
    body = report_body("final", grant, shares={"shelter": "12900.00"})  # 10.4 % under, not explained
    body["results"] = {**RESULTS, "country": {"SN": 14}}
    resp = w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=body)
    assert resp.status_code == 201, resp.get_json()
    out = resp.get_json()
    index = [b["category"] for b in grant["budget_lines"]].index("shelter")
    assert out["activities"] == body["activities"] and out["total_assisted"] == 15
    assert list(out["warnings"]["results"]) == ["country"]
    assert list(out["warnings"]["expenditure"]) == [str(index)]
    assert w.ngo.get(f"/api/v1/reports/{report_id}").get_json()["warnings"] == out["warnings"]

    resp = w.ngo.post(f"/api/v1/reports/{report_id}/submit")
    assert resp.status_code == 422
    fields = resp.get_json()["error"]["fields"]
    assert fields["results"] == out["warnings"]["results"] and fields["expenditure"] == out["warnings"]["expenditure"]
    assert w.ngo.get(f"/api/v1/reports/{report_id}").get_json()["status"] == "due"


def test_the_audit_report_is_attached_with_the_form_without_dropping_what_was_typed(app, world, login_as):
    import io

    from tests.grants.factories import HTML_BYTES, PDF_BYTES

    w, grant, report_id, client, url = _setup(app, world, login_as)
    form = {"activities": "Typed before choosing the audit file.", "action": "save"}
    resp = client.submit(url, {**form, "audit_file": (io.BytesIO(HTML_BYTES), "audit.pdf")},
                         content_type="multipart/form-data")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="audit_file-error"' in html and "Typed before choosing the audit file." in html
    assert _stored(app, report_id)["activities"] == "Typed before choosing the audit file."  # kept all the same
    resp = client.submit(url, {**form, "audit_file": (io.BytesIO(PDF_BYTES), "audit.pdf")},
                         content_type="multipart/form-data")
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(GrantReport, report_id).audit_document_id is not None


def test_expenditure_is_typed_and_shown_as_french_writes_it(app, world, login_as):
    w, grant, report_id, client, url = _setup(app, world, login_as)
    client.submit("/language", {"lang": "fr", "next": "/"}, page="/")
    personnel = next(b for b in grant["budget_lines"] if b["category"] == "personnel")
    assert client.submit(url, {f"spent-{personnel['id']}": "10 800,00", "action": "save"}).status_code == 302
    with app.app_context():
        expense = db.session.get(GrantReport, report_id).expenses[0]
        assert expense.spent == Decimal("10800.00")
    page = client.get(url).get_data(as_text=True)
    assert f'name="spent-{personnel["id"]}"' in page and 'value="10\u202f800,00"' in page
