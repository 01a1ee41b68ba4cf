"""Issued statements through the API: numbered, stored with their SHA-256, served as stored (never re-rendered),
voided but never edited; who may reach which donor's statements; downloads as PDF, CSV and JSON."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import threading
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import select

from donors import operations
from donors.models import Donor, IssuedStatement
from fund.audit import AuditEvent
from fund.db import db
from tests.donors import factories as f
from tests.donors.statement_support import build_year, fake_directory, pdf_text  # noqa: F401  (fixture)

CODE = re.compile(r"^[A-HJ-NP-Z2-9]{4}(-[A-HJ-NP-Z2-9]{4}){3}$")

pytestmark = pytest.mark.usefixtures("fake_directory")


@pytest.fixture
def year(app):
    with app.test_request_context():
        return build_year()


def period(year) -> dict:
    return {"from": "2026-01-01", "to": year.today.isoformat()}


def test_a_donor_user_issues_its_statement_and_gets_back_the_stored_file(app, api_as, year):
    donor = api_as("donor", donor_id=year.donor_id)
    resp = donor.post(f"/api/v1/donors/{year.donor_id}/statements", json=period(year))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["number"] == "VTF-ST-2026-0001" and body["status"] == "valid" and body["language"] == "en"
    assert CODE.match(body["verification_code"])
    assert body["verification_url"].endswith(f"/verify/{body['verification_code']}")
    assert (body["from"], body["to"]) == ("2026-01-01", year.today.isoformat())
    assert body["totals"]["closing"] == "85555.56" and body["totals"]["payments_received"] == "64565.22"

    download = donor.get(f"/api/v1/statements/{body['number']}")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    pdf = download.data
    assert hashlib.sha256(pdf).hexdigest() == body["sha256"] and len(pdf) == body["size"]
    assert download.headers["ETag"] == f'"{body["sha256"]}"'
    assert "attachment" in download.headers["Content-Disposition"]
    text = pdf_text(pdf)
    for expected in (body["number"], body["verification_code"], "Kingdom of Norway", "85,555.56 USD",
                     body["verification_url"]):
        assert expected in text
    assert "Not an issued statement" not in text
    with app.app_context():
        issued = db.session.execute(select(IssuedStatement)).scalar_one()
        stored = Path(app.config["STORAGE_DIR"]) / issued.storage_key[:2] / issued.storage_key[2:4] / issued.storage_key
        assert stored.read_bytes() == pdf
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "statement.issue")).scalar_one()
        assert event.entity_id == str(issued.id) and body["sha256"] in str(event.changes)

    # Served again from storage, byte for byte, without rendering anything.
    with mock.patch("donors.statements.render_statement_pdf", side_effect=AssertionError("re-rendered")):
        again = donor.get(f"/api/v1/statements/{body['number']}")
    assert again.status_code == 200 and again.data == pdf


def test_one_valid_statement_per_period_and_language_void_then_issue_anew(app, api_as, year):
    fo = api_as("finance_officer")
    first = fo.post(f"/api/v1/donors/{year.donor_id}/statements", json=period(year)).get_json()
    again = fo.post(f"/api/v1/donors/{year.donor_id}/statements", json=period(year))
    assert again.status_code == 409
    assert first["number"] in again.get_json()["error"]["message"]
    french = fo.post(f"/api/v1/donors/{year.donor_id}/statements", json={**period(year), "lang": "fr"})
    assert french.status_code == 201 and french.get_json()["number"] == "VTF-ST-2026-0002"
    assert "Relevé du donateur" in pdf_text(fo.get("/api/v1/statements/VTF-ST-2026-0002").data)

    assert fo.post(f"/api/v1/statements/{first['number']}/void", json={}).status_code == 422
    assert fo.post(f"/api/v1/statements/{first['number']}/void", json={"reason": " "}).status_code == 422
    for role in ("donor", "fund_manager", "auditor"):
        user = api_as(role, donor_id=year.donor_id) if role == "donor" else api_as(role)
        assert user.post(f"/api/v1/statements/{first['number']}/void", json={"reason": "x"}).status_code == 403
    voided = fo.post(f"/api/v1/statements/{first['number']}/void", json={"reason": "Pledge A was mis-dated"})
    assert voided.status_code == 200
    assert voided.get_json()["status"] == "void" and voided.get_json()["void_reason"] == "Pledge A was mis-dated"
    twice = fo.post(f"/api/v1/statements/{first['number']}/void", json={"reason": "again"})
    assert twice.status_code == 409
    anew = fo.post(f"/api/v1/donors/{year.donor_id}/statements", json=period(year))
    assert anew.status_code == 201 and anew.get_json()["number"] == "VTF-ST-2026-0003"
    # The void statement is still on file, and served as issued.
    old = fo.get(f"/api/v1/statements/{first['number']}")
    assert old.status_code == 200 and hashlib.sha256(old.data).hexdigest() == first["sha256"]
    listed = fo.get(f"/api/v1/donors/{year.donor_id}/statements").get_json()
    assert [(s["number"], s["status"]) for s in listed["items"]] == [
        ("VTF-ST-2026-0003", "valid"), ("VTF-ST-2026-0002", "valid"), ("VTF-ST-2026-0001", "void")]
    with app.app_context():
        actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.action.like("statement.%"))
                                     .order_by(AuditEvent.id)).scalars().all()
    assert actions == ["statement.issue", "statement.issue", "statement.void", "statement.issue"]


def test_a_donor_user_reaches_its_own_donor_only(app, api_as, year, build):
    number = api_as("finance_officer").post(f"/api/v1/donors/{year.donor_id}/statements",
                                            json=period(year)).get_json()["number"]
    stranger = api_as("donor", donor_id=year.other_donor_id)
    query = "from=2026-01-01&to=2026-06-30&format=json"
    assert stranger.get(f"/api/v1/donors/{year.donor_id}/statement?{query}").status_code == 403
    assert stranger.get(f"/api/v1/donors/{year.donor_id}/statement?format=nonsense").status_code == 403
    assert stranger.post(f"/api/v1/donors/{year.donor_id}/statements", json=period(year)).status_code == 403
    assert stranger.post(f"/api/v1/donors/{year.donor_id}/statements", json={"bad": 1}).status_code == 403
    assert stranger.get(f"/api/v1/donors/{year.donor_id}/statements").status_code == 403
    assert stranger.get(f"/api/v1/statements/{number}").status_code == 403
    assert stranger.get(f"/api/v1/donors/{year.other_donor_id}/statement?{query}").status_code == 200
    assert stranger.get("/api/v1/donors/999999/statement?" + query).status_code == 404
    assert stranger.get("/api/v1/statements/VTF-ST-2026-9999").status_code == 404
    unlinked = api_as("donor")
    assert unlinked.get(f"/api/v1/donors/{year.donor_id}/statement?{query}").status_code == 403
    for role in ("fund_manager", "auditor", "admin", "finance_officer"):
        staff = api_as(role)
        assert staff.get(f"/api/v1/donors/{year.donor_id}/statement?{query}").status_code == 200
        assert staff.get(f"/api/v1/statements/{number}").status_code == 200
    for role in ("applicant", "reviewer"):
        assert api_as(role).get(f"/api/v1/donors/{year.donor_id}/statement?{query}").status_code == 403
    assert api_as("fund_manager").post(f"/api/v1/donors/{year.donor_id}/statements",
                                       json=period(year)).status_code == 403


def test_downloads_in_each_format_and_language(api_as, year):
    donor = api_as("donor", donor_id=year.donor_id)
    base = f"/api/v1/donors/{year.donor_id}/statement?from=2026-01-01&to={year.today.isoformat()}"
    data = donor.get(base + "&format=json")
    assert data.status_code == 200 and data.mimetype == "application/json"
    assert data.get_json()["summary"]["closing"] == "85555.56"
    table = donor.get(base + "&format=csv")
    assert table.mimetype == "text/csv" and "attachment" in table.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(table.data.decode("utf-8-sig"))))
    assert {r["item"]: r["usd"] for r in rows if r["section"] == "summary"}["closing"] == "85555.56"
    pdf = donor.get(base)
    assert pdf.mimetype == "application/pdf" and "Not an issued statement" in pdf_text(pdf.data)
    french = donor.get(base + "&lang=fr")
    assert "Relevé du donateur" in pdf_text(french.data)
    assert donor.get(base + "&lang=fr&format=csv").data.decode("utf-8-sig").count("Annonces de contribution") >= 2


@pytest.mark.parametrize("query, field", [
    ("from=2026-05-01&to=2026-01-01", "to"),
    ("to=2026-01-01", "from"),
    ("from=2026-01-01", "to"),
    ("from=2026-01-01&to=2026-02-30", "to"),
    ("from=2026-01-01&to=2026-06-30&format=docx", "format"),
    ("from=2026-01-01&to=2026-06-30&lang=de", "lang"),
    ("from=1990-01-01&to=2026-06-30", "to"),
])
def test_bad_statement_queries_get_field_messages(api_as, year, query, field):
    resp = api_as("donor", donor_id=year.donor_id).get(f"/api/v1/donors/{year.donor_id}/statement?{query}")
    assert resp.status_code == 422
    assert field in str(resp.get_json()["error"]["fields"])


def test_a_statement_is_issued_for_a_period_that_has_ended(api_as, year):
    fo = api_as("finance_officer")
    future = fo.post(f"/api/v1/donors/{year.donor_id}/statements", json={"from": "2026-01-01", "to": "2099-12-31"})
    assert future.status_code == 422 and "to" in future.get_json()["error"]["fields"]
    unknown = fo.post(f"/api/v1/donors/{year.donor_id}/statements", json={**period(year), "extra": 1})
    assert unknown.status_code == 422


def test_an_issued_statement_cannot_be_edited_or_deleted(app, api_as, year):
    number = api_as("finance_officer").post(f"/api/v1/donors/{year.donor_id}/statements",
                                            json=period(year)).get_json()["number"]
    with app.app_context():
        issued = db.session.execute(select(IssuedStatement).where(IssuedStatement.number == number)).scalar_one()
        issued.sha256 = "0" * 64
        with pytest.raises(ValueError, match="cannot change"):
            db.session.flush()
        db.session.rollback()
        issued = db.session.execute(select(IssuedStatement)).scalar_one()
        db.session.delete(issued)
        with pytest.raises(ValueError, match="cannot be deleted"):
            db.session.flush()
        db.session.rollback()
        issued = db.session.execute(select(IssuedStatement)).scalar_one()
        operations.void_statement(issued, reason="Wrong period")
        db.session.commit()
        issued.void_reason = "Another reason"
        with pytest.raises(ValueError, match="already void"):
            db.session.flush()
        db.session.rollback()


def test_a_stored_file_that_no_longer_matches_its_fingerprint_is_not_served(app, api_as, year):
    fo = api_as("finance_officer")
    number = fo.post(f"/api/v1/donors/{year.donor_id}/statements", json=period(year)).get_json()["number"]
    with app.app_context():
        key = db.session.execute(select(IssuedStatement.storage_key)).scalar_one()
    path = Path(app.config["STORAGE_DIR"]) / key[:2] / key[2:4] / key
    data = path.read_bytes()
    path.write_bytes(data[:-20] + b"%% altered afterwards")
    resp = fo.get(f"/api/v1/statements/{number}")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "integrity"


def test_concurrent_issues_get_distinct_consecutive_numbers(app, build):
    donor_ids = [build("donor", f"Donor {i}") for i in range(4)]
    numbers, errors = [], []
    today = f.today()

    def issue(donor_id):
        try:
            with app.app_context():
                donor = db.session.get(Donor, donor_id)
                issued = operations.issue_statement(donor, {"date_from": today.replace(day=1), "date_to": today})
                db.session.commit()
                numbers.append(issued.number)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with mock.patch("donors.statements.render_statement_pdf", return_value=b"%PDF-1.7 stub"):
        threads = [threading.Thread(target=issue, args=(d,)) for d in donor_ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert not errors
    assert sorted(numbers) == [f"VTF-ST-{today.year}-{n:04d}" for n in range(1, 5)]
