"""Benchmark of the public transparency pages with a fund 100 times its present size.

The present fund, per year of operation: about 40 grants, 50 donors and 400 contributions. The benchmark seeds
``SCALE`` (default 100) times that over five years with bulk inserts: 5,000 donors (one in ten anonymous),
40,000 contributions, 4,000 grants with their applications, commitments, two payments and programme support costs
each (balanced ledger entries, about 200,000 postings), and one accepted report per grant with about 20 result
cells (80,000 rows).

Then it requests every public page (the fund in figures, the grants list unfiltered, by region and by text, a
grant's page, the results, how to contribute) ``REQUESTS`` times each through the application, after one warm-up
request, and prints the 50th and 90th percentiles per page (target: 90th under 100 ms) and the time of the first
request, which computes what later requests reuse.

How the pages stay fast: the figures are two aggregate queries over the ledger, kept per process until the ledger
changes (append-only: the id of its latest entry names its state); the results are one suppressed table computed
from one aggregate query and kept until an accepted report changes; a grants page is one page of grants and one
aggregate query of their payments. Each page then costs a handful of indexed queries.

Run: ``.venv/bin/python bench/transparency.py`` (a scratch SQLite database in a temporary directory; set
``BENCH_DATABASE_URL`` to use another, e.g. an empty PostgreSQL database; ``BENCH_SCALE`` and
``BENCH_REQUESTS`` change the size and the number of requests).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCALE = int(os.environ.get("BENCH_SCALE", "100"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "50"))
YEARS = (2022, 2023, 2024, 2025, 2026)
COUNTRIES = ("SN", "NG", "KE", "NP", "IN", "PH", "BR", "MX", "UA", "MD", "TH", "GH")
FORMS = ("sexual_exploitation", "forced_labour", "domestic_servitude", "forced_marriage", "forced_begging")
ASSISTANCE = ("shelter", "medical_care", "psychosocial_support", "legal_counselling", "cash_assistance")
SEXES = ("female", "male", "other_or_not_recorded")
AGES = ("0-11", "12-17", "18-24", "25-59", "60+")
BATCH = 5000


def chunks(rows: list, size: int = BATCH):
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def seed(app, scale: int) -> dict:
    """Bulk inserts, with explicit ids so that rows refer to each other; every ledger entry balances."""
    from sqlalchemy import insert

    from donors.models import Donor
    from fund.accounting import ledger, rates
    from fund.db import db
    from grants.awards.models import Grant, GrantReport, ReportResult
    from grants.models import Application, Call, Organisation

    rng = random.Random(7)
    n_donors, n_contributions, n_grants = 50 * scale, 400 * scale, 40 * scale
    counts = {"donors": n_donors, "contributions": n_contributions, "grants": n_grants}
    with app.app_context():
        rates.seed_currencies()
        db.session.execute(insert(Donor), [
            {"id": i, "name": f"Donor {i}", "type": rng.choice(("member_state", "foundation", "private_sector",
                                                                 "individual", "intergovernmental")),
             "country": rng.choice(COUNTRIES), "language": "en", "anonymous": i % 10 == 0}
            for i in range(1, n_donors + 1)])
        entries, postings = [], []

        def entry(kind: str, day: dt.date, lines: list[tuple]):
            entry_id = len(entries) + 1
            entries.append({"id": entry_id, "kind": kind, "value_date": day, "description": kind})
            assert sum(cents for _a, cents, _d, _g in lines) == 0
            for i, (account, cents, donor, grant) in enumerate(lines, start=1):
                postings.append({"id": len(postings) + 1, "entry_id": entry_id, "line": i, "account": account,
                                 "currency": "USD", "amount_minor": cents, "usd_cents": cents, "donor_id": donor,
                                 "grant_id": grant})

        for _i in range(n_contributions):
            day = dt.date(rng.choice(YEARS), rng.randint(1, 12), rng.randint(1, 28))
            cents, donor = rng.randint(1_000, 500_000) * 100, rng.randint(1, n_donors)
            entry(ledger.CONTRIBUTION, day, [(ledger.CASH, cents, donor, None), (ledger.REVENUE, -cents, donor, None)])
        db.session.execute(insert(Organisation), [
            {"id": i, "name": f"Association {i}", "country": COUNTRIES[i % len(COUNTRIES)], "org_type": "ngo"}
            for i in range(1, n_grants + 1)])
        db.session.execute(insert(Call), [
            {"id": i + 1, "title_en": f"Call {y}", "title_fr": f"Appel {y}", "window": "emergency",
             "opens_at": dt.datetime(y, 1, 1), "closes_at": dt.datetime(y, 3, 1), "envelope": Decimal("2000000"),
             "min_grant": Decimal("20000"), "max_grant": Decimal("60000"), "max_duration_months": 24,
             "status": "decided"} for i, y in enumerate(YEARS)])
        applications, grants, reports, results = [], [], [], []
        for g in range(1, n_grants + 1):
            year = YEARS[g % len(YEARS)]
            start = dt.date(year, rng.randint(1, 6), 1)
            amount = Decimal(rng.randint(200, 600) * 100)
            countries = rng.sample(COUNTRIES, rng.randint(1, 2))
            applications.append({
                "id": g, "call_id": YEARS.index(year) + 1, "organisation_id": g, "status": "approved",
                "reference": f"APP-{g}", "project_title": f"Project {g}", "summary": "Shelter and legal aid.",
                "countries": countries, "forms_of_exploitation": rng.sample(FORMS, 2),
                "assistance_types": rng.sample(ASSISTANCE, 2), "requested_amount": amount})
            grants.append({"id": g, "number": f"VTF/{year}/{g:05d}", "application_id": g, "organisation_id": g,
                           "title": f"Project {g}", "amount": amount, "start_date": start,
                           "end_date": start + dt.timedelta(days=540), "status": rng.choice(("active", "closed"))})
            cents = int(amount * 100)
            psc_total = cents * 13 // 100
            entry(ledger.COMMITMENT, start, [(ledger.COMMITMENTS, cents + psc_total, None, g),
                                             (ledger.GRANTS_PAYABLE, -cents, None, g),
                                             (ledger.PSC_RESERVE, -psc_total, None, g)])
            for share, day in ((cents // 2, start), (cents - cents // 2, start + dt.timedelta(days=270))):
                psc = share * 13 // 100
                entry(ledger.DISBURSEMENT, day, [(ledger.GRANTS_PAYABLE, share, None, g),
                                                 (ledger.CASH, -share, None, g),
                                                 (ledger.GRANT_EXPENSE, share, None, g),
                                                 (ledger.COMMITMENTS, -share, None, g)])
                entry(ledger.PSC_CHARGE, day, [(ledger.PSC, psc, None, g), (ledger.CASH, -psc, None, g),
                                               (ledger.PSC_RESERVE, psc, None, g), (ledger.COMMITMENTS, -psc, None, g)])
            reports.append({"id": g, "grant_id": g, "kind": "interim", "status": "accepted", "period_start": start,
                            "period_end": start + dt.timedelta(days=269), "due_on": start + dt.timedelta(days=300),
                            "total_assisted": 0})
            people = {(rng.choice(SEXES), rng.choice(AGES)): 0 for _k in range(4)}
            for key in people:
                people[key] = rng.randint(1, 25)
            total = sum(people.values())
            reports[-1]["total_assisted"] = total
            for (sex, age), count in people.items():
                results.append({"report_id": g, "breakdown": "sex_age", "key": f"{sex}|{age}", "count": count})
            for breakdown, codes in (("form", applications[-1]["forms_of_exploitation"]),
                                     ("assistance", applications[-1]["assistance_types"]), ("country", countries)):
                first = rng.randint(0, total)
                for code, count in zip(codes, (first, total - first), strict=False):
                    if count:
                        results.append({"report_id": g, "breakdown": breakdown, "key": code, "count": count})
        for model, rows in ((Application, applications), (Grant, grants), (ledger.JournalEntry, entries),
                            (ledger.Posting, postings), (GrantReport, reports), (ReportResult, results)):
            for part in chunks(rows):
                db.session.execute(insert(model), part)
        db.session.commit()
        counts |= {"postings": len(postings), "result rows": len(results)}
    return counts


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-transparency-"))
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'bench.db'}"
    from fund import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "STORAGE_DIR": str(tmp / "files"), "TESTING": True,
                      "RATELIMIT_ENABLED": False})
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory, revision="heads")
    print(f"Seeding {SCALE}x the fund ...", flush=True)
    start = time.perf_counter()
    counts = seed(app, SCALE)
    print(f"  seeded in {time.perf_counter() - start:.1f} s: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    client = app.test_client()
    pages = {
        "figures": "/transparency/",
        "grants": "/transparency/grants",
        "grants by region": "/transparency/grants?region=Africa&page=3",
        "grants by text": "/transparency/grants?q=association%2012",
        "grant": "/transparency/grants/VTF/2022/00005",
        "results": "/transparency/results",
        "results (fr)": "/transparency/results?lang=fr",
        "contribute": "/transparency/contribute",
    }
    print(f"{'page':<18} {'first ms':>9} {'p50 ms':>8} {'p90 ms':>8}")
    worst = 0.0
    for name, path in pages.items():
        t0 = time.perf_counter()
        resp = client.get(path)
        first = (time.perf_counter() - t0) * 1000
        assert resp.status_code == 200, (path, resp.status_code)
        times = []
        for _i in range(REQUESTS):
            t0 = time.perf_counter()
            resp = client.get(path)
            times.append((time.perf_counter() - t0) * 1000)
            assert resp.status_code == 200
        p90 = statistics.quantiles(times, n=10)[-1]
        worst = max(worst, p90)
        print(f"{name:<18} {first:>9.1f} {statistics.median(times):>8.1f} {p90:>8.1f}", flush=True)
    print(f"worst p90: {worst:.1f} ms (target: under 100 ms) -> {'OK' if worst < 100 else 'TOO SLOW'}")


if __name__ == "__main__":
    main()
