"""The attribution recorded when money moves (fund.accounting.attribution) and the staff matrix that shows it: its
rows are the donors' statements, its columns what the grants were paid, in the portal, its CSV and the API."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from donors import statements as st
from donors.models import Donor
from fund.accounting import attribution, ledger
from fund.accounting.attribution import Attribution, largest_remainder
from fund.db import db
from tests.donors import factories as f
from tests.donors.statement_support import BIG_GRANT, SMALL_GRANT, START, build_year, fake_directory  # noqa: F401

D = Decimal
pytestmark = pytest.mark.usefixtures("fake_directory")


def year_data(app):
    with app.test_request_context():
        return build_year()


def test_largest_remainder_adds_up_to_the_cent_and_breaks_ties_in_order():
    assert largest_remainder(10000, {"a": 1, "b": 1, "c": 1}) == {"a": 3334, "b": 3333, "c": 3333}
    assert largest_remainder(100001, {1: D("30000"), 2: D("10000")}) == {1: 75001, 2: 25000}
    assert largest_remainder(0, {1: 5}) == {1: 0}
    assert largest_remainder(7, {}) == {}


def test_the_matrix_rows_are_the_statements_and_the_columns_what_was_paid(app, login_as, api_as):
    year = year_data(app)
    today = year.today
    with app.test_request_context():
        statements = {d: st.build_statement(db.session.get(Donor, d), START, today, "en")
                      for d in (year.donor_id, year.other_donor_id)}
        m = attribution.matrix(START, today)
    assert m.cells == {(year.donor_id, SMALL_GRANT): D("9248.12"), (year.donor_id, BIG_GRANT): D("10000.00"),
                       (year.other_donor_id, SMALL_GRANT): D("20751.88")}
    for donor_id, s in statements.items():
        assert m.row_total(donor_id) == s.use.attributed and m.psc[donor_id] == s.use.psc
        assert m.received[donor_id] == s.use.received
    assert m.paid == {SMALL_GRANT: D("30000.00"), BIG_GRANT: D("10000.00")}
    assert [m.column_total(g) for g in (SMALL_GRANT, BIG_GRANT)] == [D("30000.00"), D("10000.00")]
    assert m.unattributed(SMALL_GRANT) == 0 and m.psc_charged == D("5200.00") == sum(m.psc.values())

    client = login_as("auditor")
    query = f"from=2026-01-01&to={today.isoformat()}"
    resp = client.get(f"/finance/attribution?{query}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for text in ("Kingdom of Norway", "Other donor", "VTF/2026/SGP1/001", "9,248.12 USD", "20,751.88 USD",
                 "30,000.00 USD", "40,000.00 USD", "5,200.00 USD"):
        assert text in html, text
    norway = re.search(r"<th scope=\"row\">Kingdom of Norway</th>(.*?)</tr>", html).group(1)
    assert re.findall(r"<td class=\"num\">([^<]*)</td>", norway)[:3] == ["9,248.12 USD", "10,000.00 USD",
                                                                          "19,248.12 USD"]

    resp = client.get(f"/finance/attribution?{query}&format=csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["donor_id", "donor", "VTF/2026/SGP1/001", "VTF/2026/SGP2/002", "total", "psc", "received"]
    body = {r[1]: r[2:] for r in rows[1:]}
    assert body["Kingdom of Norway"][:3] == ["9248.12", "10000.00", "19248.12"]
    assert body["Other donor"][:3] == ["20751.88", "0.00", "20751.88"]
    assert body["total"][:3] == body["paid"][:3] == ["30000.00", "10000.00", "40000.00"]
    assert body["unattributed"][:3] == ["0.00", "0.00", "0.00"]

    resp = api_as("fund_manager").get(f"/api/v1/fund/attribution?{query}")
    data = resp.get_json()
    assert resp.status_code == 200, data
    assert data["currency"] == "USD" and data["period"] == {"from": "2026-01-01", "to": today.isoformat()}
    assert [(g["number"], g["attributed"], g["paid"]) for g in data["grants"]] == [
        ("VTF/2026/SGP1/001", "30000.00", "30000.00"), ("VTF/2026/SGP2/002", "10000.00", "10000.00")]
    donors = {d["name"]: d for d in data["donors"]}
    assert donors["Kingdom of Norway"]["cells"] == ["9248.12", "10000.00"]
    assert donors["Kingdom of Norway"]["attributed"] == statements[year.donor_id].use.attributed.to_eng_string()
    assert data["totals"]["attributed"] == data["totals"]["paid"] == "40000.00"


def test_the_matrix_refuses_a_period_that_ends_before_it_starts(app, login_as, api_as):
    resp = login_as("finance_officer").get("/finance/attribution?from=2026-05-01&to=2026-01-01")
    assert resp.status_code == 422 and "The period ends before it starts." in resp.get_data(as_text=True)
    client = api_as("finance_officer")
    resp = client.get("/api/v1/fund/attribution?from=2026-13-01")
    assert resp.status_code == 422 and "from" in resp.get_json()["error"]["fields"]
    resp = client.get("/api/v1/fund/attribution?from=2026-05-01&to=2026-01-01")
    assert resp.status_code == 422 and "to" in resp.get_json()["error"]["fields"]


def test_donors_and_applicants_do_not_see_the_matrix(app, login_as, api_as):
    for role in ("donor", "applicant", "reviewer"):
        assert login_as(role).get("/finance/attribution").status_code == 403
        assert api_as(role).get("/api/v1/fund/attribution").status_code == 403


def test_a_refund_returns_to_the_donors_that_paid_in_proportion(app):
    year = year_data(app)
    with app.test_request_context():
        ledger.record_grant_refund(SMALL_GRANT, D("3000.00"), value_date=year.today)
        db.session.commit()
        m = attribution.matrix(START, year.today)
        # 10 % of grant 101 comes back: each donor gets 10 % of what it paid (9,248.12 and 20,751.88).
        assert m.cells[(year.donor_id, SMALL_GRANT)] == D("8323.31")
        assert m.cells[(year.other_donor_id, SMALL_GRANT)] == D("18676.69")
        assert m.column_total(SMALL_GRANT) == m.paid[SMALL_GRANT] == D("27000.00")
        assert sum(m.psc.values()) == m.psc_charged == D("4810.00")


def test_the_attribution_is_stored_once_per_movement_and_never_recomputed(app):
    year = year_data(app)
    with app.test_request_context():
        rows = db.session.execute(select(func.count()).select_from(Attribution)).scalar_one()
        before = st.as_json(st.build_statement(db.session.get(Donor, year.donor_id), START, year.today))
        # Another donor's big contribution after the payments: the rows and the statement stay as they were.
        f.contribution(f.donor("Latecomer"), "1000000.00", "USD", received_on=year.today, reference="LATE")
        db.session.commit()
        assert db.session.execute(select(func.count()).select_from(Attribution)).scalar_one() == rows + 1
        after = st.as_json(st.build_statement(db.session.get(Donor, year.donor_id), START, year.today))
        assert after["use_of_funds"] == before["use_of_funds"]


def test_a_reversed_contribution_already_spent_is_taken_back_from_the_grants_it_paid(app):
    with app.test_request_context():
        f.currencies()
        day = dt.date(2026, 3, 2)
        a = f.contribution(f.donor("A"), "100.00", "USD", received_on=day, reference="A1")
        b = f.contribution(f.donor("B"), "100.00", "USD", received_on=day, reference="B1")
        ledger.commit_grant(SMALL_GRANT, D("100.00"), value_date=day)
        ledger.pay_disbursement(SMALL_GRANT, D("100.00"), value_date=day)
        db.session.commit()
        ledger.reverse_entry(a.ledger_entry_id, reason="bounced", value_date=day)
        db.session.commit()
        m = attribution.matrix(day, day)
        # A had paid 50.00 and 6.50 of PSC of its 100.00: the reversal takes back the 56.50 spent, pro rata.
        assert (a.donor_id, SMALL_GRANT) not in m.cells and m.cells[(b.donor_id, SMALL_GRANT)] == D("50.00")
        assert m.unattributed(SMALL_GRANT) == D("50.00")
        use = attribution.donor_use(a.donor_id, day, day)
        assert (use.received, use.grants_total, use.psc, use.closing) == (D("0.00"), D("0.00"), D("0.00"),
                                                                         D("0.00"))
