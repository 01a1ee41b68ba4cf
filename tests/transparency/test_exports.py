"""Staff exports: every number of the XLSX files read back with openpyxl equals the ledger's; typed cells, the
currency's decimals, a frozen header and an autofilter; CSV cells that a spreadsheet would run are neutralised."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl
from sqlalchemy import select

from donors.models import Contribution
from fund.accounting import ledger
from fund.accounting.figures import grants_figures
from fund.db import db


def _sheet(resp):
    assert resp.status_code == 200, resp.status_code
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = openpyxl.load_workbook(io.BytesIO(resp.data))
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    return sheet, [dict(zip(header, r, strict=True)) for r in rows[1:]]


def test_ledger_xlsx_reads_back_as_the_ledger(app, login_as, make_user, fund_world):
    client = login_as(make_user("auditor"))
    sheet, rows = _sheet(client.get("/exports/finance/ledger.xlsx"))
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:O{len(rows) + 1}"
    with app.app_context():
        postings = db.session.execute(
            select(ledger.Posting, ledger.JournalEntry).join(ledger.JournalEntry)
            .order_by(ledger.JournalEntry.id, ledger.Posting.line)).all()
        assert len(rows) == len(postings) > 0
        for row, (p, e) in zip(rows, postings, strict=True):
            assert row["entry_id"] == e.id and row["line"] == p.line and row["account"] == p.account
            assert isinstance(row["value_date"], dt.datetime) and row["value_date"].date() == e.value_date
            assert isinstance(row["amount"], (int, float)) and isinstance(row["amount_usd"], (int, float))
            places = 0 if p.currency == "JPY" else 2
            assert Decimal(str(round(row["amount"], places))) == ledger.from_minor(p.amount_minor, p.currency)
            assert Decimal(str(round(row["amount_usd"], 2))) == ledger.from_minor(p.usd_cents, "USD")
            assert row["grant_id"] == p.grant_id and row["donor_id"] == p.donor_id
    # Every entry balances in the export too.
    by_entry: dict = {}
    for row in rows:
        by_entry[row["entry_id"]] = by_entry.get(row["entry_id"], Decimal(0)) + Decimal(str(round(row["amount_usd"],
                                                                                                     2)))
    assert set(by_entry.values()) == {Decimal("0.00")}


def test_money_cells_carry_their_currency_decimals(app, login_as, make_user, fund_world):
    client = login_as(make_user("finance_officer"))
    resp = client.get("/exports/finance/contributions.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(resp.data))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    amount, usd, currency = header.index("amount"), header.index("amount_usd"), header.index("currency")
    formats = {row[currency].value: row[amount].number_format for row in sheet.iter_rows(min_row=2)}
    assert formats == {"USD": "#,##0.00", "JPY": "#,##0"}
    assert {row[usd].number_format for row in sheet.iter_rows(min_row=2)} == {"#,##0.00"}
    with app.app_context():
        received = {c.bank_reference: (ledger.from_minor(c.amount_minor, c.currency), ledger.from_minor(c.usd_cents,
                                                                                                       "USD"))
                    for c in db.session.execute(select(Contribution)).scalars()}
    _sheet_, rows = _sheet(resp)
    assert {r["bank_reference"]: (Decimal(str(round(r["amount"], 2 if r["currency"] == "USD" else 0))),
                                  Decimal(str(round(r["amount_usd"], 2)))) for r in rows} == received


def test_grants_xlsx_matches_the_ledger_figures(app, login_as, make_user, fund_world):
    _sheet_, rows = _sheet(login_as(make_user("fund_manager")).get("/exports/finance/grants.xlsx"))
    with app.app_context():
        figures = grants_figures([fund_world.big, fund_world.small])
    for row in rows:
        f = figures[row["id"]]
        for column, value in (("committed_usd", f.committed), ("paid_usd", f.paid), ("psc_usd", f.psc),
                              ("remaining_usd", f.remaining), ("refunded_usd", f.refunded)):
            assert Decimal(str(round(row[column], 2))) == value, column


def test_csv_is_neutralised_against_formulas(login_as, make_user, fund_world):
    resp = login_as(make_user("auditor")).get("/exports/finance/contributions.csv")
    assert resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    refs = {r["bank_reference"] for r in rows}
    assert "'=HYPERLINK(\"http://x\")" in refs
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    assert {r["amount"] for r in rows} >= {"100000.00", "1500000", "50000.00"}


def test_every_export_opens(login_as, make_user, fund_world):
    from transparency.exports import EXPORTS, FINANCE

    client = login_as(make_user("admin"))
    for name, (roles, _export) in EXPORTS.items():
        area = "finance" if roles == FINANCE else "programme"
        for fmt in ("xlsx", "csv"):
            assert client.get(f"/exports/{area}/{name}.{fmt}").status_code == 200, (name, fmt)
        assert client.get(f"/exports/{'programme' if area == 'finance' else 'finance'}/{name}.xlsx").status_code == 404


def test_programme_exports_are_not_for_finance_officers(login_as, make_user, fund_world):
    client = login_as(make_user("finance_officer"))
    assert client.get("/exports/programme/applications.xlsx").status_code == 403
    index = client.get("/exports/").get_data(as_text=True)
    assert "ledger.xlsx" in index and "applications.xlsx" not in index


def test_attribution_xlsx_adds_up_to_what_the_grants_were_paid(app, login_as, make_user, fund_world):
    _sheet_, rows = _sheet(login_as(make_user("finance_officer")).get("/exports/finance/attribution.xlsx"))
    with app.app_context():
        paid = grants_figures([fund_world.big])[fund_world.big].paid
    to_big = [Decimal(str(round(r["amount_usd"], 2))) for r in rows
              if r["grant_id"] == fund_world.big and r["kind"] in ("grant", "unattributed")]
    assert sum(to_big) == paid == Decimal("10000.00")
    received = {r["donor_id"]: Decimal(str(round(r["amount_usd"], 2))) for r in rows if r["kind"] == "received"}
    assert received[fund_world.named] == Decimal("150000.00")
