"""The approved budget agrees with the Board: when the Board approves another amount than was requested, the budget
lines are scaled to the award (largest-remainder cents), so the agreement, the grant page, the tranches and the
reports use one budget; an agreement whose budget does not add up to its amount is never produced."""

from __future__ import annotations

import io
import re
from decimal import Decimal

from pypdf import PdfReader

from fund.db import db
from grants.awards import operations as ops
from grants.awards.models import Grant
from grants.awards.operations import approved_budget
from tests.grants.awards import factories as af

D = Decimal
ASKED = [  # USD 42,500 requested
    {"category": "personnel", "description": "Case workers", "quantity": D("1"), "unit_cost": D("25000.00")},
    {"category": "shelter", "description": "Shelter", "quantity": D("1"), "unit_cost": D("15000.00")},
    {"category": "indirect", "description": "Administration", "quantity": D("1"), "unit_cost": D("2500.00")},
]


def _pdf_text(data: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


def test_the_budget_is_scaled_to_the_award_by_the_largest_remainder():
    # 40,000 / 42,500 of each line: 23,529.4117.., 14,117.6470.., 2,352.9411..: the left-over cent goes to the
    # largest remainder (the shelter line), and the lines add up to the award exactly.
    assert approved_budget(D("40000.00"), [D("25000.00"), D("15000.00"), D("2500.00")]) == [
        D("23529.41"), D("14117.65"), D("2352.94")]
    assert approved_budget(D("100.00"), [D("1.00"), D("1.00"), D("1.00")]) == [D("33.34"), D("33.33"), D("33.33")]
    assert approved_budget(D("50.00"), [D("30.00"), D("0.00"), D("70.00")]) == [D("15.00"), D("0.00"), D("35.00")]
    assert approved_budget(D("38500.00"), [D("21600.00"), D("14400.00"), D("2500.00")]) == [
        D("21600.00"), D("14400.00"), D("2500.00")]


def test_approving_less_than_requested_gives_one_budget_everywhere(app, make_user, login_as):
    applicant = make_user("applicant")
    with app.test_request_context():
        grant = af.make_grant("40000.00", applicant=applicant, budget_lines=ASKED)
        assert grant.application.requested_amount == D("42500.00")
        assert [b.amount for b in grant.budget_lines] == [D("23529.41"), D("14117.65"), D("2352.94")]
        assert grant.budget_total == grant.amount == D("40000.00")
        assert [t.amount for t in grant.tranches] == [D("28000.00"), D("12000.00")]
        db.session.commit()
        grant_id = grant.id
    client = login_as(applicant)
    page = client.get(f"/grants/awards/{grant_id}").get_data(as_text=True)
    budget = re.search(r"Approved budget</h2>(.*?)</table>", page, re.S).group(1)
    for text in ("23,529.41 USD", "14,117.65 USD", "2,352.94 USD", "40,000.00 USD"):
        assert text in budget, text
    assert "42,500.00" not in budget
    resp = client.get(f"/grants/awards/{grant_id}/agreement.pdf?lang=en")
    assert resp.status_code == 200
    text = _pdf_text(resp.data)
    assert "40,000.00 USD" in text and "42,500.00" not in text
    for amount, share in (("23,529.41 USD", "58.8%"), ("14,117.65 USD", "35.3%"), ("2,352.94 USD", "5.9%")):
        assert f"{amount} {share}" in text, (amount, share)
    assert "28,000.00 USD 70%" in text and "12,000.00 USD 30%" in text  # shares as the language writes them


def test_an_agreement_whose_budget_differs_from_its_amount_is_not_produced(app, make_user, login_as, api_as):
    applicant = make_user("applicant")
    with app.test_request_context():
        grant = af.make_grant(applicant=applicant)
        line = grant.budget_lines[0]
        line.amount += D("2500.00")  # a budget that no longer adds up to the award (as before the Board's revision)
        db.session.commit()
        grant_id, lines = grant.id, [{"id": b.id, "category": b.category, "description": b.description,
                                      "amount": b.amount} for b in grant.budget_lines]
    client = login_as(applicant)
    resp = client.get(f"/grants/awards/{grant_id}/agreement.pdf?lang=en")
    assert resp.status_code == 409 and resp.mimetype != "application/pdf"
    assert "revise the budget" in resp.get_data(as_text=True)
    page = client.get(f"/grants/awards/{grant_id}").get_data(as_text=True)
    assert "agreement.pdf" not in page and "the budget must be revised to the award" in page
    signed = api_as(applicant).post(f"/api/v1/grants/{grant_id}/agreement",
                                    data={"file": (io.BytesIO(af.gf.PDF_BYTES), "signed.pdf")},
                                    content_type="multipart/form-data")
    assert signed.status_code == 409 and signed.get_json()["error"]["code"] == "budget_differs"
    with app.test_request_context():
        grant = db.session.get(Grant, grant_id)
        assert grant.signed_document_id is None
        lines[0]["amount"] -= D("2500.00")
        ops.revise_budget(grant, lines, af.gf.manager())
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(Grant, grant_id).budget_total == D("38500.00")
    assert client.get(f"/grants/awards/{grant_id}/agreement.pdf?lang=en").status_code == 200
