"""Currencies (ISO 4217 minor units in our own table) and UN operational rates of exchange: versions, lookup,
the API, the portal screen and the all-or-nothing CSV import."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from fund import create_app
from fund.accounting import ledger, rates
from fund.accounting.rates import Currency, ExchangeRate
from fund.db import db
from fund.money import ISO_4217_EXPONENTS
from fund.money import exponent as money_exponent

TODAY = dt.datetime.now(dt.UTC).date()
MONTH = TODAY.strftime("%Y-%m")
D = Decimal

pytestmark = pytest.mark.usefixtures("currencies")


def rate_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ExchangeRate))


def test_minor_units_are_iso_4217_not_cldr(ctx):
    units = dict(db.session.execute(select(Currency.code, Currency.minor_units)).all())
    for code in ("JPY", "KRW", "CLP", "ISK", "VND", "UGX"):
        assert units[code] == 0, code
    for code in ("KWD", "BHD", "JOD", "OMR", "TND", "LYD", "IQD"):
        assert units[code] == 3, code
    for code in ("IDR", "HUF", "COP", "USD", "EUR", "GBP", "CHF", "NOK"):  # CLDR says 0 for IDR, HUF, COP
        assert units[code] == 2, code
    assert units["CLF"] == 4
    for code, exponent in ISO_4217_EXPONENTS.items():  # fund.money agrees with the table
        assert units[code] == exponent, code
    for code, places in units.items():  # both ways: a currency fund.money does not list has 2 in the table too
        assert money_exponent(code) == places, code
    assert "XAU" not in units and "XDR" not in units  # no minor units: not money the fund receives


def test_the_migration_seeds_the_currency_table(tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fresh.db'}"})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(directory=app.extensions["migrate"].directory, revision="heads")
        rows = dict(db.session.execute(select(Currency.code, Currency.minor_units)).all())
        assert len(rows) == len(rates.ISO_4217_CURRENCIES)
        assert rows["JPY"] == 0 and rows["KWD"] == 3 and rows["EUR"] == 2
        db.session.remove()
        db.engine.dispose()


def test_a_rate_used_by_a_posting_never_changes_a_correction_is_a_new_version(ctx):
    first = rates.set_rate("EUR", TODAY, D("0.90"))
    assert first.added and first.rate.version == 1
    assert not rates.set_rate("EUR", TODAY, D("0.9000")).added  # the same rate: nothing to do
    early = ledger.post_contribution_received(donor_id=1, amount=D("900.00"), currency="EUR", value_date=TODAY)
    db.session.commit()
    corrected = rates.set_rate("EUR", TODAY.replace(day=1), D("0.80"))
    db.session.commit()
    assert corrected.added and corrected.rate.version == 2 and corrected.rate.id != first.rate.id
    late = ledger.post_contribution_received(donor_id=1, amount=D("900.00"), currency="EUR", value_date=TODAY)
    db.session.commit()
    assert early.postings[0].exchange_rate_id == first.rate.id and early.postings[0].usd == D("1000.00")
    assert late.postings[0].exchange_rate_id == corrected.rate.id and late.postings[0].usd == D("1125.00")
    db.session.expire_all()
    assert db.session.get(ExchangeRate, first.rate.id).units_per_usd == D("0.90")  # stored exactly, unchanged
    assert rates.rate_for("EUR", TODAY).rate.id == corrected.rate.id


def test_lookup_refuses_a_missing_month_and_usd_is_always_one(ctx):
    rates.set_rate("GBP", TODAY, D("0.79"))
    last_month = TODAY.replace(day=1) - dt.timedelta(days=1)
    with pytest.raises(rates.MissingRate) as info:
        rates.rate_for("GBP", last_month, fields=("received_on",))
    assert info.value.status == 422 and list(info.value.fields) == ["received_on"]
    assert f"{last_month:%Y-%m}" in info.value.message
    usd = rates.rate_for("usd", last_month)
    assert usd.units_per_usd == 1 and usd.id is None
    with pytest.raises(rates.UnknownCurrency):
        rates.rate_for("ABC", TODAY)
    assert rates.to_usd(D("1000"), D("3")) == D("333.33") and rates.to_usd(D("2000"), D("3")) == D("666.67")


def test_rates_api(app, api_as):
    fo = api_as("finance_officer")
    resp = fo.post("/api/v1/exchange-rates", json={"currency": "eur", "month": MONTH, "units_per_usd": "0.9235"})
    assert resp.status_code == 201
    assert resp.json["currency"] == "EUR" and resp.json["month"] == MONTH and resp.json["version"] == 1
    assert resp.json["units_per_usd"] == "0.9235"
    again = fo.post("/api/v1/exchange-rates", json={"currency": "EUR", "month": MONTH, "units_per_usd": "0.92350"})
    assert again.status_code == 200 and again.json["id"] == resp.json["id"]
    fixed = fo.post("/api/v1/exchange-rates", json={"currency": "EUR", "month": MONTH, "units_per_usd": "0.93"})
    assert fixed.status_code == 201 and fixed.json["version"] == 2
    current = fo.get("/api/v1/exchange-rates?currency=EUR").json["items"]
    assert [(r["version"], r["units_per_usd"]) for r in current] == [(2, "0.93")]
    history = fo.get("/api/v1/exchange-rates?currency=EUR&all_versions=true").json["items"]
    assert [r["version"] for r in history] == [2, 1]
    manager = api_as("fund_manager")
    assert manager.get("/api/v1/exchange-rates").status_code == 200
    assert manager.post("/api/v1/exchange-rates", json={"currency": "EUR", "month": MONTH,
                                                        "units_per_usd": "1"}).status_code == 403
    assert api_as("donor").get("/api/v1/exchange-rates").status_code == 403


@pytest.mark.parametrize("body, field", [
    ({"currency": "ABC", "month": MONTH, "units_per_usd": "1.2"}, "currency"),
    ({"currency": "USD", "month": MONTH, "units_per_usd": "1"}, "currency"),
    ({"currency": "EUR", "month": "2026-13", "units_per_usd": "1.2"}, "month"),
    ({"currency": "EUR", "month": "November", "units_per_usd": "1.2"}, "month"),
    ({"currency": "EUR", "month": MONTH, "units_per_usd": 0.92}, "units_per_usd"),
    ({"currency": "EUR", "month": MONTH, "units_per_usd": "0"}, "units_per_usd"),
    ({"currency": "EUR", "month": MONTH, "units_per_usd": "-1"}, "units_per_usd"),
    ({"currency": "EUR", "month": MONTH, "units_per_usd": "0.123456789"}, "units_per_usd"),
    ({"currency": "EUR", "month": MONTH}, "units_per_usd"),
])
def test_bad_rates_are_refused_naming_the_field(app, api_as, body, field):
    resp = api_as("finance_officer").post("/api/v1/exchange-rates", json=body)
    assert resp.status_code == 422 and field in resp.json["error"]["fields"], resp.json
    assert rate_count(app) == 0


def test_rates_screen_lists_and_enters(app, login_as):
    client = login_as("finance_officer")
    page = client.get("/finance/rates")
    assert page.status_code == 200 and "Units per USD 1" in page.get_data(as_text=True)
    resp = client.submit("/finance/rates", {"currency": "JPY", "month": MONTH, "units_per_usd": "abc"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="units_per_usd-error"' in html and 'aria-invalid="true"' in html
    resp = client.submit("/finance/rates", {"currency": "JPY", "month": MONTH, "units_per_usd": "151.2"},
                         follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "151.2" in html and "version 1" in html
    assert rate_count(app) == 1
    auditor = login_as("auditor").get("/finance/rates").get_data(as_text=True)
    assert "151.2" in auditor and 'name="units_per_usd"' not in auditor  # reads, cannot enter


# CSV import ---------------------------------------------------------------------------------------------------


def run_import(app, tmp_path, content: str):
    path = tmp_path / "rates.csv"
    path.write_text(content, encoding="utf-8")
    return app.test_cli_runner().invoke(args=["rates", "import", str(path)])


def test_import_adds_then_finds_everything_unchanged(app, tmp_path):
    content = f"currency,month,units_per_usd\nEUR,{MONTH},0.92\nJPY,{MONTH},151.2\nKWD,{MONTH},0.3075\n"
    result = run_import(app, tmp_path, content)
    assert result.exit_code == 0, result.output
    assert "Checking rates" in result.output  # the progress bar
    assert "added 3, unchanged 0, rejected 0" in result.output
    again = run_import(app, tmp_path, content.replace("0.92", "0.9200"))
    assert again.exit_code == 0 and "added 0, unchanged 3, rejected 0" in again.output
    corrected = run_import(app, tmp_path, content.replace("0.92", "0.93"))
    assert "added 1, unchanged 2, rejected 0" in corrected.output and "line 2: EUR" in corrected.output
    with app.app_context():
        assert rates.current_rate("EUR", TODAY).version == 2
        assert db.session.execute(text("SELECT count(*) FROM audit_event WHERE action = 'exchange_rate.import'")
                                  ).scalar() == 2


def test_import_is_all_or_nothing_and_names_the_rejected_lines(app, tmp_path):
    content = (f"currency,month,units_per_usd\nEUR,{MONTH},0.92\nXYZ,{MONTH},1.5\nGBP,2026-13,0.8\n"
               f"CHF,{MONTH},-1\nNOK,{MONTH},10.5\nNOK,{MONTH},10.6\nUSD,{MONTH},1\nSEK,{MONTH}\n")
    result = run_import(app, tmp_path, content)
    assert result.exit_code == 1
    out = result.output
    assert "added 0, unchanged 0, rejected 6" in out
    reasons = {int(row.split(":")[0].split()[1]): row.split(": ", 1)[1]
               for row in out.splitlines() if row.startswith("  line ")}
    assert sorted(reasons) == [3, 4, 5, 7, 8, 9]
    assert "unknown currency" in reasons[3] and "YYYY-MM" in reasons[4] and "greater than zero" in reasons[5]
    assert "also on line 6" in reasons[7] and "base currency" in reasons[8] and "columns" in reasons[9]
    assert rate_count(app) == 0


def test_import_needs_the_header(app, tmp_path):
    result = run_import(app, tmp_path, f"EUR,{MONTH},0.92\n")
    assert result.exit_code == 1 and "currency,month,units_per_usd" in result.output
    assert rate_count(app) == 0


def test_import_refuses_out_of_range_numbers_with_their_line(app, tmp_path):
    content = (f"currency,month,units_per_usd\nEUR,{MONTH},0.92\nGBP,{MONTH},1e999999\nJPY,{MONTH},{'9' * 400}\n"
               f"CHF,{MONTH},1e-999999\nNOK,{MONTH},NaN\nSEK,{MONTH},Infinity\nDKK,{MONTH},1E+30\n")
    result = run_import(app, tmp_path, content)
    assert result.exit_code == 1
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    reasons = {int(row.split(":")[0].split()[1]): row.split(": ", 1)[1]
               for row in result.output.splitlines() if row.startswith("  line ")}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8]
    assert "too large" in reasons[3] and "too large" in reasons[8]
    assert "400 characters" in reasons[4] and len(reasons[4]) < 200
    assert "decimal places" in reasons[5]
    assert "added 0, unchanged 0, rejected 6" in result.output
    assert rate_count(app) == 0
