"""The portal: the agreement PDF in English and French, the grantee's dashboard, the report form, the finance
screens."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from fund.db import db
from grants.awards.models import Disbursement, GrantReport
from tests.grants.awards.conftest import sign_and_countersign


def _pdf_text(data: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


def test_the_agreement_pdf_in_english_and_french(app, world, login_as):
    w = world()
    client = login_as(w.applicant)
    number = w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()["number"]
    en = client.get(f"/grants/awards/{w.grant_id}/agreement.pdf?lang=en")
    assert en.status_code == 200 and en.mimetype == "application/pdf"
    assert "attachment" in en.headers["Content-Disposition"]
    text = _pdf_text(en.data)
    for expected in ("Grant agreement", number, "Association Espoir", "Safe return for survivors of forced labour",
                     "38,500.00 USD", "26,950.00 USD", "11,550.00 USD", "Budget summary", "Standard conditions",
                     "Interim report", "Final report", "After the interim report is accepted"):
        assert expected in text, expected
    fr = _pdf_text(client.get(f"/grants/awards/{w.grant_id}/agreement.pdf?lang=fr").data)
    for expected in ("Accord de subvention", number, "Conditions générales", "Rapport intermédiaire",
                     "Après l'acceptation du rapport intermédiaire", "Sénégal"):
        assert expected in fr, expected
    assert "Standard conditions" not in fr
    assert re.search(r"38\s500,00\s\$US|38\s500,00\sUSD", fr)
    # Another organisation cannot read it.
    assert login_as(w.other_applicant).get(f"/grants/awards/{w.grant_id}/agreement.pdf").status_code == 404


def test_a_disguised_file_is_not_accepted_as_the_signed_agreement(app, world):
    w = world()
    html = b"<!doctype html><html><script>alert(1)</script></html>"
    resp = w.ngo.post(f"/api/v1/grants/{w.grant_id}/agreement", data={"file": (io.BytesIO(html), "signed.pdf")},
                      content_type="multipart/form-data")
    assert resp.status_code == 422 and "file" in resp.get_json()["error"]["fields"]
    assert w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()["signed_document_id"] is None


def test_the_grantee_dashboard_shows_tranches_reports_and_messages(app, world, login_as):
    w = world()
    sign_and_countersign(w)
    assert w.fm.post(f"/api/v1/grants/{w.grant_id}/suspend", json={"message": "Please send the bank letter."}
                     ).status_code == 200
    page = login_as(w.applicant).get("/grants/awards/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    number = w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()["number"]
    assert number in html and "26,950.00" in html and "11,550.00" in html
    assert "Interim report" in html and "Reports to submit" in html
    assert "Please send the bank letter." in html
    # Another organisation's applicant sees none of it.
    other = login_as(w.other_applicant).get("/grants/awards/").get_data(as_text=True)
    assert number not in other


def test_the_report_form_keeps_totals_that_disagree_as_a_draft(app, world, login_as):
    w = world()
    sign_and_countersign(w)
    with app.app_context():
        report_id = db.session.execute(db.select(GrantReport.id).where(GrantReport.grant_id == w.grant_id,
                                                                        GrantReport.kind == "interim")).scalar_one()
    client = login_as(w.applicant)
    url = f"/grants/awards/reports/{report_id}"
    form = {"activities": "Shelter", "sa-female-18-24": "10", "form-forced_labour": "9", "as-shelter": "10",
            "country-0-code": "SN", "country-0-count": "10"}
    assert client.submit(url, form).status_code == 302
    html = client.get(url).get_data(as_text=True)
    assert "form of exploitation add up to 9" in html and 'id="results-form-warning"' in html
    assert ">Shelter</textarea>" in html  # what was typed is kept
    with app.app_context():
        report = db.session.get(GrantReport, report_id)
        assert (report.activities, report.total_assisted, report.breakdown("form")) == ("Shelter", 10,
                                                                                        {"forced_labour": 9})
    form["form-forced_labour"] = "10"
    assert client.submit(url, form).status_code == 302
    assert 'id="results-form-warning"' not in client.get(url).get_data(as_text=True)


def test_finance_screens_queue_payments_and_forecast(app, world, login_as):
    w = world()
    sign_and_countersign(w)
    d = w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 1, "amount": "26950.00"}
                  ).get_json()["id"]
    own = login_as(w.officer)
    queue = own.get("/grants/awards/finance/approvals").get_data(as_text=True)
    assert "Nothing to approve." in queue and "Your own requests" in queue
    colleague = login_as(w.officer2)
    queue = colleague.get("/grants/awards/finance/approvals").get_data(as_text=True)
    assert f"disbursements/{d}/approve" in queue
    resp = colleague.submit(f"/grants/awards/disbursements/{d}/approve",
                            {"next": "/grants/awards/finance/approvals"}, page="/grants/awards/finance/approvals")
    assert resp.status_code == 302
    payments = own.get("/grants/awards/finance/payments").get_data(as_text=True)
    assert f"disbursements/{d}/pay" in payments
    resp = own.submit(f"/grants/awards/disbursements/{d}/pay", {"payment_reference": "BANK-9",
                                                                 "paid_on": "2026-01-05"},
                      page="/grants/awards/finance/payments")
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(Disbursement, d).status == "paid"
    forecast = login_as(w.manager).get("/grants/awards/finance/forecast")
    assert forecast.status_code == 200
    html = forecast.get_data(as_text=True)
    assert "11,550.00" in html and "26,950.00" not in html  # tranche 1 is paid; tranche 2 is still to come


def test_a_refused_approval_is_explained_on_the_page(app, world, login_as):
    w = world()
    sign_and_countersign(w)
    d = w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 2, "amount": "11550.00"}
                  ).get_json()["id"]
    colleague = login_as(w.officer2)
    resp = colleague.submit(f"/grants/awards/disbursements/{d}/approve", {}, page=f"/grants/awards/{w.grant_id}")
    assert resp.status_code == 409
    assert "the interim report has not been accepted" in resp.get_data(as_text=True)


def test_pages_in_french(app, world, login_as):
    w = world()
    client = login_as(w.applicant)
    client.submit("/language", {"lang": "fr", "next": "/grants/awards/"}, page="/grants/awards/")
    html = client.get("/grants/awards/").get_data(as_text=True)
    assert "Vos subventions" in html and "À la signature de l&#39;accord" in html
    html = client.get(f"/grants/awards/{w.grant_id}").get_data(as_text=True)
    assert "Accord de subvention" in html and "en attente de votre signature" in html
    sign_and_countersign(w)
    report_id = w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()["reports"][0]["id"]
    html = client.get(f"/grants/awards/reports/{report_id}").get_data(as_text=True)
    assert "Rapport intermédiaire" in html and "plus de 10 % du budget prévu" in html
