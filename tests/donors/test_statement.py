"""A donor's statement for a period: outstanding pledges that reconcile exactly with the ledger (in each currency and
in USD), payments at the rates of their months, use of funds by the written method, suppressed results, fund
totals; the PDF (text read back with pypdf) in English and French, CSV and JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from donors import statements as st
from donors.models import Donor
from fund import grant_directory
from fund.accounting import ledger
from fund.accounting.figures import donors_figures
from fund.accounting.ledger import JournalEntry, Posting
from fund.db import db
from fund.suppression import SMALL, WITHHELD, Line, disclosed
from fund.templating import money
from tests.donors import factories as f
from tests.donors.statement_support import (
    BIG_GRANT,
    SMALL_GRANT,
    START,
    D,
    build_year,
    fake_directory,  # noqa: F401  (fixture)
    pdf_text,
)

pytestmark = pytest.mark.usefixtures("fake_directory")


@pytest.fixture
def year(app):
    with app.test_request_context():
        return build_year()


def statement_of(app, donor_id: int, date_from=START, date_to=None, language=None) -> st.Statement:
    with app.test_request_context():
        donor = db.session.get(Donor, donor_id)
        return st.build_statement(donor, date_from, date_to or f.today(), language)


def receivable_sum(donor_id: int, currency: str | None, *, before: dt.date | None = None,
                   upto: dt.date | None = None, kind: str | None = None, usd: bool = False) -> Decimal:
    """An independent sum of the donor's receivable postings, straight from the ledger."""
    column = Posting.usd_cents if usd else Posting.amount_minor
    query = select(func.coalesce(func.sum(column), 0)).join(JournalEntry).where(
        Posting.account == ledger.RECEIVABLE, Posting.donor_id == donor_id)
    if currency:
        query = query.where(Posting.currency == currency)
    if before:
        query = query.where(JournalEntry.value_date < before)
    if upto:
        query = query.where(JournalEntry.value_date <= upto)
    if kind:
        query = query.where(JournalEntry.kind == kind)
    minor = db.session.execute(query).scalar_one()
    return ledger.from_minor(minor, "USD" if usd else currency)


def test_outstanding_pledges_reconcile_exactly_with_the_ledger(app, year):
    s = statement_of(app, year.donor_id)
    eur, usd = s.currencies
    assert (eur.currency, eur.opening, eur.pledged, eur.received, eur.written_off, eur.closing) == (
        "EUR", D("100000.00"), D("0.00"), D("40000.00"), D("10000.00"), D("50000.00"))
    assert (usd.currency, usd.opening, usd.pledged, usd.received, usd.written_off, usd.closing) == (
        "USD", D("0.00"), D("50000.00"), D("20000.00"), D("0.00"), D("30000.00"))
    # In USD at the pledges' booking rates: A at 0.90 (111,111.11), of which 44,444.44 paid and 11,111.11 written off.
    t = s.usd
    assert (t.opening, t.pledged, t.received, t.written_off, t.closing) == (
        D("111111.11"), D("50000.00"), D("64444.44"), D("11111.11"), D("85555.56"))
    for m in (eur, usd, t):
        assert m.opening + m.pledged - m.received - m.written_off == m.closing
    with app.app_context():
        figures = donors_figures([year.donor_id])[year.donor_id]
        assert t.closing == figures.outstanding
        assert t.opening + t.pledged == figures.pledged
        assert t.written_off == figures.written_off
        assert s.received_usd == figures.received  # every payment of the donor falls in the period
        for currency, m in (("EUR", eur), ("USD", usd)):
            assert m.opening == receivable_sum(year.donor_id, currency, before=START)
            assert m.closing == receivable_sum(year.donor_id, currency, upto=year.today)
            assert m.written_off == -receivable_sum(year.donor_id, currency, kind=ledger.PLEDGE_WRITE_OFF)
        assert t.closing == receivable_sum(year.donor_id, None, usd=True)


def test_payments_at_the_rates_of_their_months_and_the_exchange_difference(app, year):
    s = statement_of(app, year.donor_id)
    rows = [(p.date, p.reference, p.currency, p.amount, p.rate, p.rate_month, p.usd, p.reversal) for p in s.payments]
    assert rows == [
        (dt.date(2026, 3, 5), "NO-2026-001", "EUR", D("40000.00"), D("0.92"), "2026-03", D("43478.26"), False),
        (dt.date(2026, 3, 20), "NO-2026-003", "EUR", D("1000.00"), D("0.92"), "2026-03", D("1086.96"), False),
        (dt.date(2026, 3, 21), "NO-2026-004", "USD", D("5000.00"), D(1), "2026-03", D("5000.00"), False),
        (dt.date(2026, 4, 10), "NO-2026-002", "USD", D("20000.00"), D(1), "2026-04", D("20000.00"), False),
        (year.today, "NO-2026-004", "USD", D("-5000.00"), D(1), "2026-03", D("-5000.00"), True),
    ]
    assert s.received_usd == D("64565.22")
    assert s.unpledged_usd == D("1086.96")
    # Booked at 0.90 (44,444.44), received at 0.92 (43,478.26): the ledger's exchange difference.
    assert s.exchange_difference == D("966.18")
    with app.app_context():
        fx = db.session.execute(select(func.sum(Posting.usd_cents)).where(
            Posting.account == ledger.FX, Posting.donor_id == year.donor_id)).scalar_one()
        assert Decimal(fx).scaleb(-2) == s.exchange_difference
    assert s.payment_totals() == [("EUR", D("41000.00"), D("44565.22")), ("USD", D("20000.00"), D("20000.00"))]


def test_two_halves_of_the_year_chain(app, year):
    first = statement_of(app, year.donor_id, START, dt.date(2026, 3, 31))
    second = statement_of(app, year.donor_id, dt.date(2026, 4, 1))
    whole = statement_of(app, year.donor_id)
    assert [m.closing for m in first.currencies] == [m.opening for m in second.currencies]
    assert first.usd.closing == second.usd.opening and second.usd.closing == whole.usd.closing
    assert first.usd.received + second.usd.received == whole.usd.received


def test_use_of_funds_follows_the_written_method(app, year):
    s = statement_of(app, year.donor_id)
    use = s.use
    # Grant 101 (USD 30,000) is not for child victims: the unearmarked pools paid it pro rata to their unspent
    # balances at the time, Norway's USD 44,565.22 against the other donor's USD 100,000 (9,248.12 + 20,751.88).
    # Grant 102 (USD 10,000) is: Norway's earmarked USD 20,000 paid all of it. PSC of each payment the same way:
    # 1,202.26 of grant 101's USD 3,900 and all of grant 102's USD 1,300 from the earmarked money.
    assert [(g.grant_id, g.paid_in_period, g.earmarked, g.unearmarked, g.total) for g in use.grants] == [
        (SMALL_GRANT, D("30000.00"), D("0.00"), D("9248.12"), D("9248.12")),
        (BIG_GRANT, D("10000.00"), D("10000.00"), D("0.00"), D("10000.00")),
    ]
    assert (use.opening, use.received, use.attributed, use.psc, use.held) == (
        D("0.00"), D("64565.22"), D("19248.12"), D("2502.26"), D("42814.84"))
    assert use.reconciles
    earmarked = next(e for e in use.earmarks if e.type == "theme")
    assert (earmarked.received, earmarked.attributed, earmarked.psc, earmarked.held, earmarked.grants) == (
        D("20000.00"), D("10000.00"), D("1300.00"), D("8700.00"), 1)
    calls = grant_directory.directory().calls  # the test double
    assert ("matching", None, None, "Child victims") in calls
    assert not any(c[0] == "results" for c in calls)  # results are the public ones, not the period's own
    assert str(st.METHOD) in json.loads(st.json_bytes(s))["method"]


def test_the_other_donor_gets_the_rest_and_together_they_claim_what_was_paid(app, year):
    mine, other = statement_of(app, year.donor_id), statement_of(app, year.other_donor_id)
    assert [(g.grant_id, g.total) for g in other.use.grants] == [(SMALL_GRANT, D("20751.88"))]
    per_grant: dict[int, Decimal] = {}
    for s in (mine, other):
        for g in s.use.grants:
            per_grant[g.grant_id] = per_grant.get(g.grant_id, D(0)) + g.total
    assert per_grant == {SMALL_GRANT: D("30000.00"), BIG_GRANT: D("10000.00")}
    assert mine.use.psc + other.use.psc == mine.fund.psc == D("5200.00")


def test_a_later_contribution_does_not_change_an_earlier_statement(app, year):
    before = st.as_json(statement_of(app, year.donor_id))["use_of_funds"]
    with app.test_request_context():
        newcomer = f.donor("Late donor")
        f.contribution(newcomer, "900000.00", "USD", received_on=year.today, reference="LATE-1")
        db.session.commit()
    assert st.as_json(statement_of(app, year.donor_id))["use_of_funds"] == before


def test_results_are_the_public_ones_and_the_small_grant_cannot_be_recomputed(app, year):
    s = statement_of(app, year.donor_id)
    r = s.results
    # Each grant as the public set shows it; both grants are all the fund's grants, so their sum is the public total.
    assert r["grants"] == {SMALL_GRANT: SMALL, BIG_GRANT: WITHHELD}
    assert r["grants_total"] == r["total"] == 23
    assert r["by_country"] == {"NG": WITHHELD, "SN": SMALL}
    assert r["by_form"] == {"forced_labour": SMALL, "sexual_exploitation": WITHHELD}
    # A reader of the grants table knows: small in 1..4, the other at least 5, total 23: four values remain.
    possible = [a for a in range(1, 5) if 23 - a >= 5]
    assert possible == [1, 2, 3, 4]
    grant_line = [Line(((("grant", SMALL_GRANT)), ("grant", BIG_GRANT)), ("total",))]
    values = {("grant", SMALL_GRANT): 3, ("grant", BIG_GRANT): 20, ("total",): 23}
    assert disclosed(values, grant_line, {("grant", SMALL_GRANT)}, {("grant", BIG_GRANT)}) == set()


def test_the_other_donor_sees_its_grant_without_a_total_that_would_single_it_out(app, year):
    other = statement_of(app, year.other_donor_id)
    # Its money paid grant 101 only, shown "<5" on the public pages: a total of that grant alone would give the 3.
    assert other.results["grants"] == {SMALL_GRANT: SMALL}
    assert other.results["grants_total"] is None
    with app.test_request_context():
        rows = list(csv.DictReader(io.StringIO(st.csv_bytes(other).decode("utf-8-sig"))))
    assert [r["value"] for r in rows if r["section"] == "results_grants"] == [""]
    assert not any(r["value"] == "3" for r in rows if r["section"].startswith("results"))


def test_the_pdf_holds_the_name_the_period_and_every_total(app, year):
    s = statement_of(app, year.donor_id)
    with app.test_request_context():
        pdf = st.render_statement_pdf(s, preview=True)
        m = {k: money(v) for k, v in {
            "opening": s.usd.opening, "pledged": s.usd.pledged, "received": s.usd.received,
            "written_off": s.usd.written_off, "closing": s.usd.closing, "payments": s.received_usd,
            "unpledged": s.unpledged_usd, "fx": s.exchange_difference, "attributed": s.use.attributed,
            "held": s.use.held, "fund_received": s.fund.received, "fund_paid": s.fund.disbursed,
            "psc": s.fund.psc, "cash": s.fund.cash_at_end}.items()}
        per_currency = [money(getattr(c, k), c.currency) for c in s.currencies
                        for k in ("opening", "pledged", "received", "written_off", "closing")]
    text = pdf_text(pdf)
    assert pdf.startswith(b"%PDF-")
    assert "Kingdom of Norway" in text and "Donor statement" in text
    assert f"January 1, 2026 to {year.today:%B} {year.today.day}, {year.today.year}" in text
    expected = {"opening": "111,111.11 USD", "pledged": "50,000.00 USD", "received": "64,444.44 USD",
                "written_off": "11,111.11 USD", "closing": "85,555.56 USD", "payments": "64,565.22 USD",
                "fund_cash": "119,365.22 USD"}
    for value in expected.values():
        assert value in text
    for name, value in m.items():
        assert value in text, name
    for value in per_currency:
        assert value in text
    assert "Not an issued statement" in text
    assert "NO-2026-001" in text and "0.92" in text  # payments with their references and rates
    assert "Senegal <5" in text and "Nigeria x" in text
    assert "VTF/2026/SGP1/001 Association Espoir <5" in text


def test_a_french_statement_is_in_french(app):
    with app.test_request_context():
        y = build_year("République française", language="fr", country="FR")
    s = statement_of(app, y.donor_id)
    assert s.language == "fr"
    with app.test_request_context():
        text = pdf_text(st.render_statement_pdf(s, preview=True))
    assert "Relevé du donateur" in text and "République française" in text
    assert "Période" in text and "1 janvier 2026" in text
    for phrase in ("Annonces de contribution", "Taux", "Passée en pertes", "Sénégal <5", "Nigeria x",
                   "Utilisation des fonds", "Ce que ces subventions ont permis", "111 111,11 USD", "85 555,56 USD",
                   "40 000,00 EUR"):
        assert phrase in text, phrase
    for english in ("Donor statement", "Outstanding pledges", "Payments received", "Use of funds", "Written off"):
        assert english not in text, english
    # The same statement on request in English.
    english = statement_of(app, y.donor_id, language="en")
    with app.test_request_context():
        assert "Donor statement" in pdf_text(st.render_statement_pdf(english, preview=True))


def test_csv_and_json_carry_the_same_figures(app, year):
    s = statement_of(app, year.donor_id)
    with app.test_request_context():
        rows = list(csv.DictReader(io.StringIO(st.csv_bytes(s).decode("utf-8-sig"))))
        data = json.loads(st.json_bytes(s))
    summary = {r["item"]: r["usd"] for r in rows if r["section"] == "summary"}
    assert summary == {"opening": "111111.11", "pledged": "50000.00", "received": "64444.44",
                       "written_off": "11111.11", "closing": "85555.56", "payments_received": "64565.22",
                       "exchange_difference": "966.18", "unpledged_received": "1086.96"}
    eur = {r["item"]: r["amount"] for r in rows if r["section"] == "reconciliation" and r["currency"] == "EUR"}
    assert eur == {"opening": "100000.00", "pledged": "0.00", "received": "40000.00", "written_off": "10000.00",
                   "closing": "50000.00"}
    payments = [r for r in rows if r["section"] == "payment"]
    assert [(r["item"], r["amount"], r["rate"], r["usd"]) for r in payments][0] == ("NO-2026-001", "40000.00", "0.92",
                                                                                   "43478.26")
    small = [r for r in rows if r["section"] == "results_grant"]
    assert [(r["item"], r["value"]) for r in small] == [("VTF/2026/SGP1/001", "<5"), ("VTF/2026/SGP2/002", "x")]
    assert data["summary"]["closing"] == "85555.56" and data["currency"] == "USD"
    assert data["period"] == {"from": "2026-01-01", "to": year.today.isoformat()}
    assert data["reconciliation"][0] == {"currency": "EUR", "opening": "100000.00", "pledged": "0.00",
                                         "received": "40000.00", "written_off": "10000.00", "closing": "50000.00"}
    assert data["results"]["grants"] == {str(SMALL_GRANT): "<5", str(BIG_GRANT): "x"}
    assert data["use_of_funds"]["attributed"] == "19248.12" and data["use_of_funds"]["held"] == "42814.84"
    assert data["announced"] == [{"id": year.pledge_c, "pledged_on": "2026-05-01", "amount": "5000.00",
                                  "currency": "EUR", "status": "announced"}]


def test_text_that_would_run_as_a_spreadsheet_formula_is_neutralised(app):
    with app.test_request_context():
        donor = f.donor("=HYPERLINK(\"http://evil.example\")")
        f.contribution(donor, "10.00", "USD", received_on=dt.date(2026, 2, 2), reference="+CMD-1")
        db.session.commit()
        donor_id = donor.id
    s = statement_of(app, donor_id)
    rows = list(csv.reader(io.StringIO(st.csv_bytes(s).decode("utf-8-sig"))))
    assert ["statement", "donor", "'=HYPERLINK(\"http://evil.example\")", "", "", "", "", "", str(donor_id)] in rows
    assert any(r[1] == "'+CMD-1" for r in rows)


def test_a_period_without_activity(app):
    with app.test_request_context():
        donor = f.donor("Quiet donor")
        db.session.commit()
        donor_id = donor.id
    s = statement_of(app, donor_id, dt.date(2020, 1, 1), dt.date(2020, 12, 31))
    assert s.currencies == [] and s.payments == [] and s.use.grants == [] and s.usd.closing == 0
    with app.test_request_context():
        text = pdf_text(st.render_statement_pdf(s, preview=True))
    assert "No payments in the period." in text and "No confirmed pledges." in text
