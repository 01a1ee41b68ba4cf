"""Benchmark of donor statements: a donor with 1,000 contributions.

Prints, measured in one run on this machine:

- the time to render that donor's statement PDF, as the application does it (figures from the ledger, HTML, then
  WeasyPrint in the bounded child process forked from the renderer server), and WeasyPrint's share of it (the same
  HTML laid out in this process);
- the time WeasyPrint takes to render a plain 1,000-row HTML table of four columns, the same two ways;
- their ratios (target: statement / plain table at most 0.4);
- the time to issue the statement (number, QR code, render, store) and to download it again afterwards through
  the API (the stored file, never re-rendered; target: at least 50 times faster than the first render);
- the peak memory (RSS, from getrusage in the rendering child process) for the statement and for the plain table
  (target: under 200 MiB for the statement).

Run: ``.venv/bin/python bench/statements.py`` (a scratch SQLite database in a temporary directory; set
``BENCH_DATABASE_URL`` to use another, e.g. an empty PostgreSQL database).
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONTRIBUTIONS = 1000
YEAR = 2025


def plain_table() -> str:
    rows = "".join(f"<tr><td>{YEAR}-{1 + i % 12:02d}-{1 + i % 28:02d}</td><td>REF-{i:05d}</td>"
                   f"<td>{(i * 137) % 90000 + 100}.00 EUR</td><td>{(i * 151) % 99000 + 110}.50 USD</td></tr>"
                   for i in range(CONTRIBUTIONS))
    return f"<!doctype html><html><body><table>{rows}</table></body></html>"


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    best, result = None, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


class BenchDirectory:
    """Three grants with results, standing in for the grants package's directory (fund.grant_directory)."""

    def grants(self, ids):
        from fund.grant_directory import GrantInfo

        return {i: GrantInfo(i, f"VTF/{YEAR}/SGP1/{i:03d}", f"Partner NGO {i}", "Assistance to survivors", ("SN",),
                             "emergency", ("Africa",), ("forced_labour", "shelter")) for i in ids if i in (1, 2, 3)}

    def grants_matching(self, **earmark):
        return [1, 2]

    def results(self, grant_ids, date_from=None, date_to=None):
        from fund.grant_directory import Results

        counts = {1: 3, 2: 27, 3: 41}
        return {g: Results(by_sex_age={("female", "18-24"): counts[g] - 1, ("male", "25-59"): 1},
                           by_form={"forced_labour": counts[g]}, by_assistance={"shelter": counts[g]},
                           by_country={"SN": counts[g]}) for g in grant_ids if g in counts}


def build(app) -> int:
    """The donor: two pledges (EUR, USD) and 1,000 contributions over the year, half against the pledges."""
    from donors import operations
    from fund.accounting import ledger, rates
    from fund.db import db

    with app.test_request_context():
        rates.seed_currencies()
        for month in range(1, 13):
            rates.set_rate("EUR", dt.date(YEAR, month, 1), Decimal("0.9") + Decimal(month) / 1000)
        donor = operations.create_donor({"name": "Kingdom of the Netherlands", "type": "member_state",
                                         "country": "NL", "language": "en"})
        eur = operations.create_pledge(donor, {"amount": Decimal("2000000.00"), "currency": "EUR",
                                               "pledged_on": dt.date(YEAR, 1, 10), "status": "confirmed"})
        usd = operations.create_pledge(donor, {"amount": Decimal("1500000.00"), "currency": "USD",
                                               "pledged_on": dt.date(YEAR, 1, 12), "status": "confirmed",
                                               "earmark": {"type": "theme", "value": "Child victims"}})
        db.session.commit()
        for i in range(CONTRIBUTIONS):
            pledge = (eur, usd, None, None)[i % 4]
            currency = pledge.currency if pledge is not None else ("EUR" if i % 3 else "USD")
            operations.record_contribution(donor, {
                "amount": Decimal(f"{(i * 37) % 900 + 100}.{i % 100:02d}"), "currency": currency,
                "received_on": dt.date(YEAR, 1 + i % 12, 1 + i % 28), "bank_reference": f"NL-{YEAR}-{i:05d}",
                "pledge_id": pledge.id if pledge is not None else None})
            if i % 100 == 99:
                db.session.commit()
        for grant_id, amount in ((1, "40000.00"), (2, "60000.00"), (3, "50000.00")):
            ledger.commit_grant(grant_id, Decimal(amount), value_date=dt.date(YEAR, 6, 1))
            ledger.pay_disbursement(grant_id, Decimal(amount), value_date=dt.date(YEAR, 7, 1))
        db.session.commit()
        return donor.id


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-statements-"))
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'bench.db'}"
    from fund import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "STORAGE_DIR": str(tmp / "files"), "SERVER_NAME": "localhost",
                      "TESTING": True, "RATELIMIT_ENABLED": False})
    from flask_migrate import upgrade

    from donors import operations
    from donors import statements as st
    from donors.models import Donor
    from fund import grant_directory
    from fund import operations as fund_operations
    from fund.db import db
    from fund.pdf import html_to_pdf, html_to_pdf_bounded, render_html

    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory, revision="heads")
    grant_directory.register(BenchDirectory())
    print(f"Building a donor with {CONTRIBUTIONS:,} contributions ...", flush=True)
    setup, donor_id = timed(lambda: build(app))
    print(f"  built in {setup:.1f} s")

    date_from, date_to = dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31)
    table_html = plain_table()
    with app.test_request_context():
        donor = db.session.get(Donor, donor_id)
        html_to_pdf("<p>warm-up</p>")  # fonts and caches, as in a running worker

        def statement_html():
            statement = st.build_statement(donor, date_from, date_to)
            from flask_babel import force_locale

            with force_locale(statement.language):
                return statement, render_html("pdf/statement.html", st.pdf_context(statement, preview=True))

        build_time, (statement, html) = timed(statement_html, repeat=3)
        assert len(statement.payments) == CONTRIBUTIONS
        statement_layout, statement_pdf = timed(lambda: html_to_pdf(html), repeat=3)
        table_layout, table_pdf = timed(lambda: html_to_pdf(table_html), repeat=3)
        statement_child, _ = timed(lambda: html_to_pdf_bounded(statement_html()[1], 120), repeat=3)
        table_child, _ = timed(lambda: html_to_pdf_bounded(table_html, 120), repeat=3)

        issue_time, issued = timed(lambda: operations.issue_statement(donor, {"date_from": date_from,
                                                                              "date_to": date_to}))
        db.session.commit()
        number, size = issued.number, issued.size
        officer = fund_operations.create_user("bench-fo@example.org", "finance_officer", "correct-horse-battery")
        _token, secret = fund_operations.create_token(officer, "bench")
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    client.get(f"/api/v1/statements/{number}", headers=headers)  # warm-up
    downloads = []
    for _ in range(20):
        start = time.perf_counter()
        resp = client.get(f"/api/v1/statements/{number}", headers=headers)
        downloads.append(time.perf_counter() - start)
        assert resp.status_code == 200 and len(resp.data) == size
    download = statistics.median(downloads)

    with app.app_context():
        statement_stats: dict = {}
        table_stats: dict = {}
        html_to_pdf_bounded(html, 120, stats=statement_stats)
        html_to_pdf_bounded(table_html, 120, stats=table_stats)
    statement_rss, table_rss = statement_stats["peak_rss_mib"], table_stats["peak_rss_mib"]

    import io

    import pypdf

    pages = len(pypdf.PdfReader(io.BytesIO(statement_pdf)).pages)
    table_pages = len(pypdf.PdfReader(io.BytesIO(table_pdf)).pages)
    print()
    print(f"Statement of {CONTRIBUTIONS:,} contributions ({pages} pages, {len(statement_pdf) // 1024} KiB); "
          f"plain table ({table_pages} pages). Best of 3 runs each.")
    print(f"  statement figures and HTML (ledger queries, suppression, template): {build_time:7.3f} s")
    print(f"  statement PDF, WeasyPrint layout in this process:                   {statement_layout:7.3f} s")
    print(f"  plain 1,000-row table, WeasyPrint layout in this process:           {table_layout:7.3f} s")
    ratio = statement_layout / table_layout
    print(f"  ratio statement / plain table (WeasyPrint):                         {ratio:7.2f}   (target <= 0.40)")
    total = build_time + statement_child
    print(f"  statement end to end (figures + HTML + bounded child renderer):     {total:7.3f} s")
    print(f"  plain table through the same bounded child renderer:                {table_child:7.3f} s")
    print(f"  ratio end to end:                                                   {total / table_child:7.2f}"
          "   (target <= 0.40)")
    print(f"  issue the statement (number, QR code, render, store, audit):        {issue_time:7.3f} s")
    print(f"  download the issued statement again (API, median of 20):           {download * 1000:7.2f} ms")
    print(f"  first render / re-download:                                         {issue_time / download:7.0f} x"
          "   (target >= 50)")
    print(f"  peak RSS of the renderer child, statement:                          {statement_rss:7.1f} MiB"
          "   (target < 200)")
    print(f"  peak RSS of the renderer child, plain table:                        {table_rss:7.1f} MiB")
    print(f"  (this process: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
