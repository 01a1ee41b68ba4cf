"""An issued statement is served from the stored file, never rendered again (the portal and the API, with the
renderer broken on purpose), and its public verification page shows the documented fields and nothing else: the
donor's name (or "Anonymous donor" when it was anonymous at issue, or is now), the period, the SHA-256, whether
it is valid or void, and the printed totals."""

from __future__ import annotations

import hashlib
import re

import pytest

from donors.models import Donor
from fund.db import db
from tests.donors.statement_support import build_year, fake_directory  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("fake_directory")

#: What the verification page documents (templates/donors/verify.html), in order.
FIELDS = ["Donor", "Period", "SHA-256 of the issued file"]
TOTALS = ["Outstanding pledges at the start of the period", "Pledges confirmed in the period (net of cancellations)",
          "Paid against pledges", "Written off", "Outstanding pledges at the end of the period",
          "Payments received (at the rates of their months)"]


@pytest.fixture
def year(app):
    with app.test_request_context():
        return build_year(contact_name="Ingrid Solberg", contact_email="ingrid@mfa.example.no")


def issue(api_as, donor_id: int, today) -> dict:
    resp = api_as("finance_officer").post(f"/api/v1/donors/{donor_id}/statements",
                                          json={"from": "2026-01-01", "to": today.isoformat()})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def broken_renderer(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an issued statement must not be rendered again")

    monkeypatch.setattr("donors.statements.render_statement_pdf", refuse)
    monkeypatch.setattr("fund.pdf.html_to_pdf_bounded", refuse)


def test_the_portal_and_the_api_serve_the_stored_file_byte_for_byte(app, api_as, login_as, make_user, year,
                                                                     monkeypatch):
    issued = issue(api_as, year.donor_id, year.today)
    broken_renderer(monkeypatch)
    portal = login_as(make_user("donor", donor_id=year.donor_id)).get(f"/donors/statements/{issued['number']}")
    assert portal.status_code == 200 and portal.mimetype == "application/pdf"
    assert hashlib.sha256(portal.data).hexdigest() == issued["sha256"] and len(portal.data) == issued["size"]
    api = api_as("auditor").get(f"/api/v1/statements/{issued['number']}")
    assert api.status_code == 200 and api.data == portal.data


def main_text(html: str) -> list[str]:
    main = html.split("<main", 1)[1].split(">", 1)[1].split("</main>", 1)[0]
    main = re.sub(r"<[^>]+>", "\n", main)
    return [line.strip() for line in main.splitlines() if line.strip()]


def test_the_verification_page_shows_exactly_the_documented_fields(client, api_as, year):
    issued = issue(api_as, year.donor_id, year.today)
    html = client.get(f"/verify/{issued['verification_code']}").get_data(as_text=True)
    period = f"January 1, 2026 – {year.today:%B} {year.today.day}, {year.today.year}"
    assert main_text(html) == [
        "Verify a donor statement",
        "This statement is valid.", "It was issued by the fund and has not been voided.",
        "Donor", "Kingdom of Norway", "Period", period, "SHA-256 of the issued file", issued["sha256"],
        "Totals (USD)",
        TOTALS[0], "111,111.11 USD", TOTALS[1], "50,000.00 USD", TOTALS[2], "64,444.44 USD",
        TOTALS[3], "11,111.11 USD", TOTALS[4], "85,555.56 USD", TOTALS[5], "64,565.22 USD",
        "To check a file, compute its SHA-256 (for example with sha256sum) and compare it with the fingerprint "
        "above.",
    ]


def test_anonymous_at_issue_stays_anonymous_after_the_donor_becomes_public(app, client, api_as):
    with app.test_request_context():
        y = build_year("A private supporter", anonymous=True)
    issued = issue(api_as, y.donor_id, y.today)
    with app.app_context():
        db.session.get(Donor, y.donor_id).anonymous = False
        db.session.commit()
    text = main_text(client.get(f"/verify/{issued['verification_code']}").get_data(as_text=True))
    assert text[text.index("Donor") + 1] == "Anonymous donor"
    assert "A private supporter" not in " ".join(text)
    # A statement issued now that the donor is public carries its name.
    with app.app_context():
        db.session.get(Donor, y.donor_id).anonymous = False
    api_as("admin").post(f"/api/v1/statements/{issued['number']}/void", json={"reason": "reissued"})
    again = issue(api_as, y.donor_id, y.today)
    text = main_text(client.get(f"/verify/{again['verification_code']}").get_data(as_text=True))
    assert text[text.index("Donor") + 1] == "A private supporter"
