"""Benchmark of the API as the fund grows: the same requests at 1x and at BENCH_SCALE x (default 100x) data.

1x is 10 donors with a pledge and 30 contributions each, 100 applications (20 of them grants, countersigned, a
tranche paid), their users and audit events, written through the operations. The larger fund is that one copied
BENCH_SCALE - 1 more times inside PostgreSQL (every row under new ids, references and unique values shifted with
them; the kept ledger balances recomputed from the postings and checked), so it has the same shape at 100 times
the size in seconds rather than the better part of an hour.

Each size is served by gunicorn (4 sync workers) on PostgreSQL, beside a bare Flask + SQLAlchemy Core app that
returns one row from the same database, and loaded from 127.0.0.1 by 20 concurrent clients (each endpoint for at
most BENCH_SECONDS seconds and BENCH_REQUESTS requests). The service is measured twice: as it runs, its heaviest
answers kept in memory until the fund changes (fund.response_cache), and computing every answer, as it does for
the first read after a change. Printed: requests per second, p50/p95/p99, the ratio to the bare app, the
larger/1x ratios, SQL statements per request computed and kept (counted in-process, SQLAlchemy's
before_cursor_execute) and the response size, the RSS of the gunicorn workers after the load; then the time to
record BENCH_CONTRIBUTIONS contributions (default 10,000) one transaction each through donors.operations (audit
chain, fund lock, balances and attribution included), in contributions per second.

Run: ``.venv/bin/python bench/api.py``. It creates (and drops first) the databases fund_bench_api_1x and
fund_bench_api_<scale>x on BENCH_PG (default postgresql+psycopg://postgres@127.0.0.1:5432). The machine's
server runs with autovacuum off, hence the explicit VACUUM ANALYZE after loading: what autovacuum does on a
production server (the planner's statistics, and the visibility map that lets a count read an index only).
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
SCALE = int(os.environ.get("BENCH_SCALE", "100"))
CLIENTS = 20
WORKERS = 4
SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "4000"))
CONTRIBUTIONS = int(os.environ.get("BENCH_CONTRIBUTIONS", "10000"))
CONTRIBUTION_SECONDS = float(os.environ.get("BENCH_CONTRIBUTION_SECONDS", "180"))
DONORS, CONTRIBUTIONS_PER_DONOR, APPLICATIONS, GRANTS = 10, 30, 100, 20
TODAY = dt.date.today()
YEAR_AGO = TODAY - dt.timedelta(days=365)

#: Tables copied as they are (reference data, counters, singletons); every other table is multiplied.
SHARED = {"alembic_version", "currency", "exchange_rate", "role", "ledger_lock", "statement_counter",
          "grant_number_counter", "audit_head", "ledger_balance", "ledger_attribution_pool"}
#: Integer columns that name a row of another table without a foreign key (the ledger knows no domain tables).
SOFT_REFERENCES = {
    ("ledger_posting", "donor_id"): "donor", ("ledger_posting", "pledge_id"): "pledge",
    ("ledger_posting", "grant_id"): "grant_award", ("ledger_attribution", "donor_id"): "donor",
    ("ledger_attribution", "grant_id"): "grant_award",
}


def database_url(name: str) -> str:
    return f"{PG}/{name}"


def admin(sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url("postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


def environment(tmp: Path, name: str) -> dict:
    """What the application reads from the environment, for the in-process app and for gunicorn alike."""
    return {"DATABASE_URL": database_url(name), "FUND_ENV": "development", "SECRET_KEY": "bench-secret-key-0123456789",
            "STORAGE_DIR": str(tmp / "files"), "AUDIT_HMAC_KEY": "bench-audit-key-0123456789abcdef",
            "AUDIT_SIGNING_KEY_FILE": str(tmp / "audit_signing_key.pem"),
            "AUDIT_CHECKPOINT_DIR": str(tmp / "checkpoints"), "MAIL_SERVER": "", "LOG_ACCESS": "0"}


def make_app(env: dict):
    os.environ.update(env)
    from fund import create_app

    return create_app({"SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS": {
        "argon2__rounds": 1, "argon2__memory_cost": 1024, "argon2__parallelism": 1}})


# Seeding 1x through the operations ------------------------------------------------------------------------------


def seed(app) -> dict:
    """The 1x fund, through the operations. Returns the ids and API tokens the requests use."""
    from unittest import mock

    from fund import operations as fund_ops
    from fund.accounting import rates
    from fund.db import db
    from grants.awards import operations as award_ops
    from tests.donors import factories as df
    from tests.grants import factories as gf
    from tests.grants.awards import factories as af
    from tests.grants.review import factories as rf

    with app.test_request_context():
        rates.seed_currencies()
        month = YEAR_AGO.replace(day=1)
        while month <= TODAY:
            rates.set_rate("EUR", month, Decimal("0.92"))
            month = (month + dt.timedelta(days=32)).replace(day=1)
        fm = fund_ops.create_user("fm@bench.example.org", "fund_manager", "correct-horse-battery")
        fo = fund_ops.create_user("fo@bench.example.org", "finance_officer", "correct-horse-battery")
        fo2 = fund_ops.create_user("fo2@bench.example.org", "finance_officer", "correct-horse-battery")
        donors = []
        for d in range(DONORS):
            donor = df.donor(f"Donor {d + 1}")
            pledge = df.pledge(donor, "600000.00", "EUR", pledged_on=YEAR_AGO)
            for c in range(CONTRIBUTIONS_PER_DONOR):
                day = YEAR_AGO + dt.timedelta(days=1 + (c * 12) % 360)
                df.contribution(donor, "10000.00", "EUR" if c % 2 else "USD", pledge_=pledge if c % 2 else None,
                                received_on=day, reference=f"D{d}-C{c}")
            donors.append(donor.id)
        db.session.commit()
        grants = []
        with mock.patch("grants.operations.render_pdf", lambda *a, **k: gf.PDF_BYTES):
            for g in range(GRANTS):
                grant = af.make_grant(cash=None)
                award_ops.upload_signed_agreement(grant, gf.check_bytes(gf.PDF_BYTES, "signed.pdf"), af.member(grant))
                award_ops.countersign(grant, gf.manager())
                d = award_ops.request_disbursement(grant, 1, Decimal("5000.00"), fo)
                award_ops.approve_disbursement(d, fo2)
                award_ops.pay_disbursement(d, f"PAY-{g}", TODAY, fo)
                grants.append(grant.id)
                db.session.commit()
            call = gf.make_call()
            for _a in range(APPLICATIONS - GRANTS):
                rf.submitted(call=call)
                db.session.commit()
        tokens = {}
        for role, user in (("fund_manager", fm), ("finance_officer", fo)):
            _token, secret = fund_ops.create_token(db.session.merge(user), "bench")
            tokens[role] = secret
        db.session.commit()
        return {"donor": donors[0], "grant": grants[len(grants) // 2], "tokens": tokens}


# Copying 1x into the larger fund ------------------------------------------------------------------------------


def multiply(url: str, copies: int) -> None:
    """Every row of every table not in SHARED copied ``copies`` times under new ids (id + k x max id), its
    references shifted with the rows they name and its unique text values suffixed; then sequences moved on, the
    kept balances recomputed from the postings, and VACUUM ANALYZE."""
    from sqlalchemy import Integer, MetaData, String, Text, UniqueConstraint, create_engine, insert, text

    from fund.accounting.balances import LedgerBalance, recomputed_query

    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    with engine.begin() as conn:
        conn.execute(text("SET session_replication_role = replica"))  # no FK triggers: any table order
        offsets = {}
        for table in meta.sorted_tables:
            if table.name in SHARED or "id" not in table.c:
                continue
            offsets[table.name] = conn.execute(text(f'SELECT coalesce(max(id), 0) FROM "{table.name}"')).scalar()
        for table in meta.sorted_tables:
            if table.name in SHARED:
                continue
            references = {}
            for fk in table.foreign_keys:
                target = fk.column.table.name
                if target in offsets and fk.column.name == "id":
                    references[fk.parent.name] = target
            for (t, column), target in SOFT_REFERENCES.items():
                if t == table.name:
                    references[column] = target
            if "id" in table.c and table.name in offsets:
                references.setdefault("id", table.name)
            if not references:
                continue
            unique_columns = set()
            uniques = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
            uniques += [i for i in table.indexes if i.unique]
            for constraint in uniques:
                cols = [c.name for c in constraint.columns]
                if not any(c in references for c in cols):
                    unique_columns.update(cols)
            exprs = []
            for column in table.c:
                name = f'"{column.name}"'
                if column.name in references and offsets.get(references[column.name]):
                    exprs.append(f"{name} + k * {offsets[references[column.name]]}")
                elif column.name in unique_columns and isinstance(column.type, (String, Text)):
                    length = getattr(column.type, "length", None)
                    kept = f"left({name}, {length - 6})" if length else name
                    exprs.append(f"{kept} || '~' || lpad(k::text, 5, '0')")
                elif column.name in unique_columns and isinstance(column.type, Integer):
                    high = conn.execute(text(f'SELECT coalesce(max({name}), 0) FROM "{table.name}"')).scalar()
                    exprs.append(f"{name} + k * {high}")
                else:
                    exprs.append(name)
            columns = ", ".join(f'"{c.name}"' for c in table.c)
            conn.execute(text(f'INSERT INTO "{table.name}" ({columns}) SELECT {", ".join(exprs)} '
                              f'FROM "{table.name}", generate_series(1, {copies}) AS k'))
        for name in offsets:
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
                              f'(SELECT max(id) FROM "{name}"))'))
        conn.execute(text("DELETE FROM ledger_balance"))
        t = LedgerBalance.__table__
        conn.execute(insert(t).from_select(["scope", "ref_id", "account", "kind", "currency", "amount_minor",
                                            "usd_cents"], recomputed_query()))
        conn.execute(text("DELETE FROM ledger_attribution_pool"))  # the donors' pools, from the copied rows
        conn.execute(text(
            "INSERT INTO ledger_attribution_pool (donor_id, earmark_type, earmark_value, usd_cents) "
            "SELECT donor_id, COALESCE(earmark_type, ''), "
            "CASE WHEN earmark_type IS NULL THEN '' ELSE COALESCE(earmark_value, '') END, "
            "SUM(CASE WHEN kind = 'contribution' THEN usd_cents ELSE -usd_cents END) FROM ledger_attribution "
            "GROUP BY 1, 2, 3"))
        conn.execute(text("SET session_replication_role = DEFAULT"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def rechain_audit(app) -> None:
    """Link the copied audit events into one chain again, with the bench's key: a copy keeps its original's hash
    (suffixed to stay unique), which links to nothing. Afterwards `flask audit verify` passes on the larger fund,
    as it would on a fund that had really grown so big."""
    from sqlalchemy import bindparam, select, text, update

    from fund.audit import GENESIS_HASH, AuditEvent, AuditHead, hmac_key, link_hash, link_mac
    from fund.db import db

    with app.app_context():
        key, prev, last_id, changes = hmac_key(), GENESIS_HASH, 0, []
        events = db.session.execute(select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=5000))
        for ev in events.scalars():
            link = link_hash(prev, ev.core())
            if (ev.prev_hash, ev.hash) != (prev, link):
                changes.append({"b_id": ev.id, "b_prev": prev, "b_hash": link, "b_mac": link_mac(key, link)})
            prev, last_id = link, ev.id
        db.session.expunge_all()
        db.session.execute(text("SET LOCAL session_replication_role = replica"))  # past the append-only trigger
        t = AuditEvent.__table__
        if changes:
            db.session.execute(update(t).where(t.c.id == bindparam("b_id")).values(
                prev_hash=bindparam("b_prev"), hash=bindparam("b_hash"), mac=bindparam("b_mac")), changes)
        db.session.execute(update(AuditHead).values(last_id=last_id, last_hash=prev))
        db.session.commit()


def sizes(app) -> dict:
    from sqlalchemy import func, select

    from donors.models import Contribution, Donor
    from fund.accounting.ledger import Posting
    from fund.audit import AuditEvent
    from fund.db import db
    from grants.awards.models import Grant
    from grants.models import Application

    with app.app_context():
        count = {name: db.session.execute(select(func.count()).select_from(model)).scalar_one() for name, model in (
            ("donors", Donor), ("contributions", Contribution), ("postings", Posting),
            ("applications", Application), ("grants", Grant), ("audit events", AuditEvent))}
        db.session.remove()
    return count


def ledger_check(app) -> str:
    from fund.accounting import balances
    from fund.db import db

    with app.app_context():
        diffs = balances.differences()
        db.session.remove()
    return "ledger check: every kept balance agrees with the postings" if not diffs else \
        f"ledger check FAILED: {len(diffs)} balances disagree, e.g. {diffs[0]}"


# Measuring ----------------------------------------------------------------------------------------------------


def endpoints(ids: dict) -> list[tuple[str, str, str]]:
    """(label, role, path) of the requests measured."""
    return [
        ("GET /api/v1/fund/position", "finance_officer", "/api/v1/fund/position"),
        ("GET /api/v1/applications (50 a page)", "fund_manager", "/api/v1/applications?per_page=50"),
        ("GET /api/v1/donors/{id}/statement (JSON, a year)", "finance_officer",
         f"/api/v1/donors/{ids['donor']}/statement?format=json&from={YEAR_AGO}&to={TODAY}"),
        ("GET /api/v1/grants/{id}", "fund_manager", f"/api/v1/grants/{ids['grant']}"),
    ]


def sql_counts(app, ids: dict) -> dict[str, tuple[int, int, int]]:
    """Statements per request computed (the answers kept in memory forgotten first) and kept (the same request
    again), and response bytes, in-process, after one warm-up request."""
    from sqlalchemy import event

    from fund import response_cache
    from fund.db import db

    result = {}
    client = app.test_client()
    with app.app_context():
        engine = db.engine
    for label, role, path in endpoints(ids):
        headers = {"Authorization": f"Bearer {ids['tokens'][role]}"}
        client.get(path, headers=headers)
        counts = []
        for forget in (True, False):
            if forget:
                with app.app_context():
                    response_cache.clear()
            seen = []

            def record(conn, cursor, statement, parameters, context, executemany, seen=seen):
                if statement.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"):
                    seen.append(statement)

            event.listen(engine, "before_cursor_execute", record)
            resp = client.get(path, headers=headers)
            event.remove(engine, "before_cursor_execute", record)
            assert resp.status_code == 200, (path, resp.status_code, resp.get_data(as_text=True)[:300])
            counts.append(len(seen))
        result[label] = (counts[0], counts[1], len(resp.get_data()))
    return result


def load(port: int, path: str, headers: dict) -> dict:
    """CLIENTS threads requesting ``path`` until REQUESTS are done or SECONDS have passed."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    issued = [0]
    deadline = time.perf_counter() + SECONDS

    def client():
        while True:
            with lock:
                if issued[0] >= REQUESTS or time.perf_counter() > deadline:
                    return
                issued[0] += 1
            start = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except OSError:
                ok = False
            finally:
                conn.close()
            with lock:
                if ok:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {"rps": len(latencies) / elapsed, "p50": q[49] * 1000, "p95": q[94] * 1000, "p99": q[98] * 1000,
            "n": len(latencies), "errors": errors[0]}


def serve(env: dict, target: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}",
         "--chdir", str(ROOT), "--log-level", "warning", "--timeout", "120", target],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(600):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz" if target.startswith("wsgi") else "/")
            conn.getresponse().read()
            conn.close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{target} did not start: {proc.stderr.read().decode()[-2000:]}")


def worker_rss_mib(master: int) -> list[float]:
    result = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("PPid", "0").strip()) == master:
            result.append(int(fields["VmRSS"].split()[0]) / 1024)
    return sorted(result)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def make_bare():
    """A bare Flask + SQLAlchemy Core app returning one row of the same database (gunicorn: bench.api:make_bare())."""
    from flask import Flask, jsonify
    from sqlalchemy import create_engine, text

    engine = create_engine(os.environ["DATABASE_URL"])
    bare = Flask("bare")

    @bare.get("/")
    def one_row():
        with engine.connect() as conn:
            row = conn.execute(text("SELECT id, name FROM donor ORDER BY id LIMIT 1")).one()
        return jsonify(id=row.id, name=row.name)

    return bare


def measure_size(env: dict, ids: dict, port: int) -> dict:
    """The bare app, then the service twice: with its answers kept in memory until the fund changes (as it runs),
    and computing every answer (RESPONSE_CACHE_BYTES=0: what a read costs right after a change)."""
    bare = serve(env, "bench.api:make_bare()", port + 1)
    try:
        result = {"bare": load(port + 1, "/", {})}
    finally:
        stop(bare)
    for mode, extra in (("kept", {}), ("computed", {"RESPONSE_CACHE_BYTES": "0"})):
        app_proc = serve({**env, **extra}, "wsgi:app", port)
        try:
            for label, role, path in endpoints(ids):
                headers = {"Authorization": f"Bearer {ids['tokens'][role]}"}
                for _ in range(WORKERS * 3):  # every worker has served the endpoint once before the clock starts
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    conn.request("GET", path, headers=headers)
                    conn.getresponse().read()
                    conn.close()
                result[(mode, label)] = load(port, path, headers)
            result[("rss", mode)] = worker_rss_mib(app_proc.pid)
        finally:
            stop(app_proc)
    return result


def time_contributions(app, count: int) -> tuple[int, float]:
    """(contributions recorded, per second) through donors.operations, one committed transaction each: ``count``
    of them, or as many as CONTRIBUTION_SECONDS allow."""
    from donors import operations
    from donors.models import Donor
    from fund.db import db

    with app.test_request_context():
        donor = db.session.get(Donor, 1)
        start = time.perf_counter()
        done = 0
        for i in range(count):
            if time.perf_counter() - start > CONTRIBUTION_SECONDS:
                break
            done += 1
            operations.record_contribution(donor, {
                "amount": Decimal("25.00") + i % 7, "currency": "EUR" if i % 3 else "USD", "pledge_id": None,
                "received_on": TODAY - dt.timedelta(days=i % 300), "bank_reference": f"BENCH-{i}"})
            db.session.commit()
        elapsed = time.perf_counter() - start
        db.session.remove()
    return done, done / elapsed


# Report -------------------------------------------------------------------------------------------------------


def fmt(m: dict, bare: dict) -> str:
    return (f"{m['rps']:7.0f} ({m['rps'] / bare['rps']:.2f}x)  {m['p50']:6.1f} / {m['p95']:6.1f} / {m['p99']:6.1f} ms"
            + (f"  [{m['errors']} errors]" if m["errors"] else ""))


def main() -> None:
    big = f"fund_bench_api_{SCALE}x"
    small = "fund_bench_api_1x"
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    for name in (big, small):
        admin(f'DROP DATABASE IF EXISTS "{name}"')
    admin(f'CREATE DATABASE "{small}"')
    env1 = environment(tmp, small)
    app1 = make_app(env1)
    with app1.app_context():
        from flask_migrate import upgrade

        upgrade(directory=app1.extensions["migrate"].directory, revision="heads")
    t0 = time.perf_counter()
    ids = seed(app1)
    print(f"1x seeded through the operations in {time.perf_counter() - t0:.0f} s")
    from fund.db import db

    with app1.app_context():
        db.engine.dispose()
    admin(f'CREATE DATABASE "{big}" TEMPLATE "{small}"')
    t0 = time.perf_counter()
    multiply(database_url(big), SCALE - 1)
    print(f"{SCALE}x made from 1x in {time.perf_counter() - t0:.0f} s")
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url(small), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()

    env_big = environment(tmp, big)
    app_big = make_app(env_big)
    t0 = time.perf_counter()
    rechain_audit(app_big)
    print(f"{SCALE}x audit events linked into one chain in {time.perf_counter() - t0:.0f} s")
    print(ledger_check(app1) + " (1x); " + ledger_check(app_big) + f" ({SCALE}x)")
    print("sizes  1x:", sizes(app1))
    print(f"sizes {SCALE}x:", sizes(app_big))
    counts = {1: sql_counts(app1, ids), SCALE: sql_counts(app_big, ids)}

    results = {1: measure_size(env1, ids, 18401), SCALE: measure_size(env_big, ids, 18411)}
    print("\nload average of the machine (1, 5, 15 min): " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    print(f"{CLIENTS} clients, gunicorn {WORKERS} sync workers, PostgreSQL; at most {SECONDS:g} s and {REQUESTS} "
          "requests per endpoint; req/s (ratio to bare), p50 / p95 / p99")
    for size in (1, SCALE):
        bare = results[size]["bare"]
        print(f"  bare Flask + Core one row, {size}x: {bare['rps']:7.0f} req/s, p50 / p95 / p99 "
              f"{bare['p50']:.1f} / {bare['p95']:.1f} / {bare['p99']:.1f} ms")
    for label, _role, _path in endpoints(ids):
        (k1, c1, bytes1), (k2, c2, bytes2) = counts[1][label], counts[SCALE][label]
        print(f"\n{label}: SQL per request computed {k1} -> {k2}, kept {c1} -> {c2};  response {bytes1:,} -> "
              f"{bytes2:,} bytes")
        for mode in ("kept", "computed"):
            a, b = results[1][(mode, label)], results[SCALE][(mode, label)]
            print(f"  {mode:8} 1x    {fmt(a, results[1]['bare'])}")
            print(f"  {mode:8} {SCALE}x  {fmt(b, results[SCALE]['bare'])}")
            print(f"  {mode:8} {SCALE}x/1x: p50 {b['p50'] / a['p50']:.2f}x, p95 {b['p95'] / a['p95']:.2f}x, req/s "
                  f"{b['rps'] / a['rps']:.2f}x")
    for size in (1, SCALE):
        for mode in ("kept", "computed"):
            rss = results[size][("rss", mode)]
            print(f"gunicorn worker RSS after the load, {size}x, answers {mode}: "
                  + ", ".join(f"{r:.0f}" for r in rss) + " MiB")

    done, rate = time_contributions(app1, CONTRIBUTIONS)
    print(f"\n{done:,} contributions through donors.operations.record_contribution (one transaction each, at most "
          f"{CONTRIBUTIONS:,} or {CONTRIBUTION_SECONDS:g} s): {rate:.0f} a second")
    print(ledger_check(app1) + " (1x, after them)")
    print("load average of the machine (1, 5, 15 min): " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    print(f"bench process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
