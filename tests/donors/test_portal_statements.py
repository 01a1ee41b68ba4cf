"""The donor portal: a donor user sees its own pledges, payments and outstanding amounts, the use of its money and
what the grants achieved (small counts suppressed), downloads its statement and issues a verifiable one; the
finance team voids; staff see every donor; nobody sees another donor's statements."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from donors.models import IssuedStatement
from fund.db import db
from tests.donors.statement_support import build_year, fake_directory, pdf_text  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("fake_directory")


@pytest.fixture
def year(app):
    with app.test_request_context():
        return build_year()


def main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def test_a_donor_user_sees_its_money_its_use_and_suppressed_results(app, login_as, make_user, year):
    client = login_as(make_user("donor", donor_id=year.donor_id))
    resp = client.get("/donors/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/donors/{year.donor_id}")
    detail = client.get(f"/donors/{year.donor_id}").get_data(as_text=True)
    assert f"/donors/{year.donor_id}/statement" in detail and f"/donors/{year.donor_id}/statements" in detail

    resp = client.get(f"/donors/{year.donor_id}/statement")
    html = main(resp.get_data(as_text=True))
    assert resp.status_code == 200
    assert 'value="2026-01-01"' in html and f'value="{year.today.isoformat()}"' in html  # this year by default
    for figure in ("111,111.11 USD", "50,000.00 USD", "64,444.44 USD", "11,111.11 USD", "85,555.56 USD",
                   "100,000.00 EUR", "50,000.00 EUR", "64,565.22 USD", "966.18 USD", "NO-2026-001",
                   "VTF/2026/SGP1/001", "30,000.00 USD", "9,248.12 USD", "42,814.84 USD"):
        assert figure in html, figure
    assert "in proportion to its money not yet spent at that moment" in html  # the method, written on the page
    assert "in proportion to its money not yet spent at that moment" in detail  # and on the donor page
    grants = re.search(r"Victims assisted, by grant</caption>(.*?)</table>", html, re.S).group(1)
    assert re.search(r"Association Espoir</td><td class=\"num\">&lt;5</td>", grants)
    assert re.search(r"Child Rights Lagos</td><td class=\"num\">x</td>", grants)
    assert '<td class="num">23</td>' in grants
    assert ">3<" not in grants and ">20<" not in grants
    countries = re.search(r"Countries reached</caption>(.*?)</table>", html, re.S).group(1)
    assert "Senegal</th><td class=\"num\">&lt;5" in countries and "Nigeria</th><td class=\"num\">x" in countries


def test_downloads_from_the_portal(login_as, make_user, year):
    client = login_as(make_user("donor", donor_id=year.donor_id))
    url = f"/donors/{year.donor_id}/statement?from=2026-01-01&to={year.today.isoformat()}&lang=fr"
    pdf = client.get(url + "&format=pdf")
    assert pdf.mimetype == "application/pdf" and "Relevé du donateur" in pdf_text(pdf.data)
    rows = list(csv.DictReader(io.StringIO(client.get(url + "&format=csv").data.decode("utf-8-sig"))))
    assert {r["item"]: r["usd"] for r in rows if r["section"] == "summary"}["closing"] == "85555.56"
    assert client.get(url + "&format=json").get_json()["summary"]["opening"] == "111111.11"


def test_a_bad_period_is_shown_beside_its_field(login_as, make_user, year):
    client = login_as(make_user("donor", donor_id=year.donor_id))
    resp = client.get(f"/donors/{year.donor_id}/statement?from=2026-06-01&to=2026-01-01")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'id="to-error"' in html and "The period ends before it starts." in html
    assert "85,555.56" not in html
    resp = client.get(f"/donors/{year.donor_id}/statement?from=not-a-date")
    assert resp.status_code == 422 and 'id="from-error"' in resp.get_data(as_text=True)


def test_issuing_through_the_form_and_voiding_by_the_finance_team(app, login_as, make_user, year):
    donor = login_as(make_user("donor", donor_id=year.donor_id))
    page = f"/donors/{year.donor_id}/statements"
    future = donor.submit(page, {"from": "2026-01-01", "to": "2099-01-01", "lang": "en"})
    assert future.status_code == 422 and 'id="to-error"' in future.get_data(as_text=True)
    resp = donor.submit(page, {"from": "2026-01-01", "to": year.today.isoformat(), "lang": "en"})
    assert resp.status_code == 302
    listing = donor.get(page).get_data(as_text=True)
    assert "VTF-ST-2026-0001" in listing and "Valid" in listing
    assert "Void the statement" not in listing  # donors do not void
    again = donor.submit(page, {"from": "2026-01-01", "to": year.today.isoformat(), "lang": "en"})
    assert again.status_code == 409 and "already covers this period" in again.get_data(as_text=True)
    with app.app_context():
        issued = db.session.execute(select(IssuedStatement)).scalar_one()
        code, digest = issued.verification_code, issued.sha256
    download = donor.get("/donors/statements/VTF-ST-2026-0001")
    assert download.status_code == 200 and download.headers["ETag"] == f'"{digest}"'
    assert code in pdf_text(download.data)
    assert donor.submit("/donors/statements/VTF-ST-2026-0001/void", {"reason": "x"}, page=page).status_code == 403

    officer = login_as("finance_officer")
    void_url = "/donors/statements/VTF-ST-2026-0001/void"
    empty = officer.submit(void_url, {"reason": ""}, page=page)
    html = empty.get_data(as_text=True)
    assert empty.status_code == 422 and 'id="reason-error"' in html
    assert officer.submit(void_url, {"reason": "Wrong period"}, page=page).status_code == 302
    listing = officer.get(page).get_data(as_text=True)
    assert "Wrong period" in listing and "Void" in listing
    assert "This statement is VOID." in donor.get(f"/verify/{code}").get_data(as_text=True)


def test_another_donors_statements_are_forbidden(app, login_as, make_user, year):
    officer = login_as("finance_officer")
    page = f"/donors/{year.donor_id}/statements"
    assert officer.submit(page, {"from": "2026-01-01", "to": year.today.isoformat(), "lang": "en"}).status_code == 302
    stranger = login_as(make_user("donor", donor_id=year.other_donor_id))
    assert stranger.get(f"/donors/{year.donor_id}/statement").status_code == 403
    assert stranger.get(page).status_code == 403
    assert stranger.get("/donors/statements/VTF-ST-2026-0001").status_code == 403
    token = stranger.csrf_token(f"/donors/{year.other_donor_id}/statements")
    assert stranger.post(page, data={"csrf_token": token, "from": "2026-01-01", "to": "2026-02-01"}).status_code == 403
    assert stranger.get("/donors/statements/VTF-ST-2026-9999").status_code == 404
    assert stranger.get("/donors/999999/statement").status_code == 404
    resp = stranger.get("/donors/statements")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/donors/{year.other_donor_id}/statement")
    assert "VTF-ST-2026-0001" not in stranger.get(f"/donors/{year.other_donor_id}/statements").get_data(as_text=True)


def test_staff_see_every_statement(login_as, year):
    officer = login_as("finance_officer")
    officer.submit(f"/donors/{year.donor_id}/statements",
                   {"from": "2026-01-01", "to": year.today.isoformat(), "lang": "fr"})
    for role in ("fund_manager", "auditor", "admin"):
        client = login_as(role)
        html = client.get("/donors/statements").get_data(as_text=True)
        assert "VTF-ST-2026-0001" in html and "Kingdom of Norway" in html
        assert client.get(f"/donors/{year.donor_id}/statement").status_code == 200
    dashboard = login_as("fund_manager").get("/dashboard").get_data(as_text=True)
    assert "/donors/statements" in dashboard


def test_the_portal_in_french(login_as, make_user, year):
    client = login_as(make_user("donor", donor_id=year.donor_id, language="fr"))
    html = main(client.get(f"/donors/{year.donor_id}/statement").get_data(as_text=True))
    for phrase in ("Relevé et utilisation des fonds", "Utilisation des fonds", "Ce que ces subventions ont permis",
                   "Sénégal", "85 555,56", "pas encore dépensé"):
        assert phrase in html.replace("\u202f", " ").replace("\xa0", " "), phrase
