"""The public verification page /verify/<code>: only the donor's name (or "anonymous donor"), the period, the
totals, the hash and whether the statement is valid or void; an unknown code says so and nothing else. The code
is printed on the statement, with a QR code of the page's address."""

from __future__ import annotations

import hashlib
import io

import pypdf
import pytest

from fund.db import db
from tests.donors import factories as f
from tests.donors.statement_support import build_year, fake_directory, pdf_text  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("fake_directory")


@pytest.fixture
def year(app):
    with app.test_request_context():
        return build_year(contact_name="Ingrid Solberg", contact_email="ingrid@mfa.example.no")


def issue(api_as, year, **extra) -> dict:
    resp = api_as("finance_officer").post(f"/api/v1/donors/{year.donor_id}/statements",
                                          json={"from": "2026-01-01", "to": year.today.isoformat(), **extra})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_a_valid_statement_shows_only_what_it_should(client, api_as, year):
    s = issue(api_as, year)
    resp = client.get(f"/verify/{s['verification_code']}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "This statement is valid." in html and "VOID" not in html
    assert "Kingdom of Norway" in html
    assert "January 1, 2026" in html
    assert s["sha256"] in html
    for total in ("111,111.11 USD", "50,000.00 USD", "64,444.44 USD", "11,111.11 USD", "85,555.56 USD",
                  "64,565.22 USD"):
        assert total in html
    # Nothing else about the donor or its money: no contact, no payments, no grants, no number.
    for private in ("Ingrid Solberg", "ingrid@mfa.example.no", "NO-2026-001", "Association Espoir", "40,000.00",
                    s["number"], "Child victims"):
        assert private not in html


def test_the_code_is_found_however_it_is_typed(client, api_as, year):
    code = issue(api_as, year)["verification_code"]
    typed = code.lower().replace("-", " ")
    resp = client.get(f"/verify/?code={typed}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/verify/{code}")
    assert client.get(f"/verify/{code.replace('-', '').lower()}").status_code == 200


def test_a_void_statement_says_it_is_void(client, api_as, year):
    s = issue(api_as, year)
    api_as("admin").post(f"/api/v1/statements/{s['number']}/void", json={"reason": "Issued in error"})
    html = client.get(f"/verify/{s['verification_code']}").get_data(as_text=True)
    assert "This statement is VOID." in html and "This statement is valid." not in html
    assert "Issued in error" not in html  # the reason is the fund's own business


def test_an_unknown_code_says_so_with_no_other_data(client, api_as, year):
    issue(api_as, year)
    for code in ("ABCD-EFGH-JKLM-NPQR", "not-a-code", "A" * 200):
        resp = client.get(f"/verify/{code}")
        html = resp.get_data(as_text=True)
        assert resp.status_code == 404
        assert "No statement has this verification code." in html
        for data in ("Kingdom of Norway", "USD", "SHA-256", "valid", "VOID", "2026"):
            assert data not in html.split("<main", 1)[1].split("</main>", 1)[0]


def test_an_anonymous_donor_stays_anonymous(app, client, api_as):
    with app.test_request_context():
        y = build_year("A private supporter", anonymous=True)
    s = issue(api_as, y)
    html = client.get(f"/verify/{s['verification_code']}").get_data(as_text=True)
    assert "Anonymous donor" in html and "A private supporter" not in html
    # A donor who asks for anonymity later is anonymous on statements issued before.
    with app.test_request_context():
        named = f.donor("Named later anonymous")
        f.contribution(named, "100.00", "USD", received_on=y.today.replace(day=1))
        db.session.commit()
        named_id = named.id
    later = api_as("finance_officer").post(f"/api/v1/donors/{named_id}/statements",
                                           json={"from": "2026-01-01", "to": y.today.isoformat()}).get_json()
    with app.app_context():
        from donors.models import Donor

        db.session.get(Donor, named_id).anonymous = True
        db.session.commit()
    html = client.get(f"/verify/{later['verification_code']}").get_data(as_text=True)
    assert "Anonymous donor" in html and "Named later anonymous" not in html


def test_the_statement_carries_the_code_and_a_qr_code_of_the_verification_address(api_as, year):
    s = issue(api_as, year, lang="fr")
    pdf = api_as("finance_officer").get(f"/api/v1/statements/{s['number']}").data
    assert hashlib.sha256(pdf).hexdigest() == s["sha256"]
    text = pdf_text(pdf)
    assert s["verification_code"] in text and s["verification_url"] in text and "Code de vérification" in text
    images = [image for page in pypdf.PdfReader(io.BytesIO(pdf)).pages for image in page.images]
    qr = [i for i in images if i.name.lower().endswith(".png") or i.image.mode in ("1", "L", "RGB", "P")]
    assert qr, "no QR code image in the statement"
    # The QR code is square and made of black and white modules only.
    image = qr[0].image.convert("L")
    assert image.width == image.height
    histogram = image.histogram()
    assert histogram[0] and histogram[255] and not any(histogram[1:255])


def test_verification_is_public_and_rate_limited(app, client, api_as, year):
    code = issue(api_as, year)["verification_code"]
    statuses = [client.get(f"/verify/{code}").status_code for _ in range(61)]
    assert statuses[:60] == [200] * 60 and statuses[60] == 429
