"""Benchmark of the retention schedule on a generated data set.

Seeds a scratch database with what the schedule purges and what it keeps: unsuccessful applications decided
three years ago with two stored documents each, drafts withdrawn two years ago with their budget lines, old
idempotency keys, delivered mail and unused API tokens, recent records of each kind, applications still under
assessment, and ledger entries (contributions received). Then runs ``retention.run`` twice and prints, for
each run, the time taken and what each class purged, and checks what an auditor would: every due record and
stored file gone, nothing else touched, the ledger balanced, the fund position unchanged, ``audit verify``
passing, and the second run purging nothing.

Run: ``.venv/bin/python bench/retention.py [SCALE]`` (SCALE 1 is about 18,000 rows and 2,400 stored files; a
scratch SQLite database and storage directory in a temporary directory; set ``BENCH_DATABASE_URL`` to use
another database, e.g. an empty PostgreSQL one).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def seed(scale: int) -> dict:
    from sqlalchemy import insert, select

    from fund import storage
    from fund.accounting import ledger, rates
    from fund.db import db, utcnow
    from fund.idempotency import IdempotencyKey
    from fund.mail import OutboxMessage
    from fund.models import ApiToken, User
    from grants.models import Application, ApplicationEvent, BudgetLine, Call, Document, Organisation

    now = utcnow()
    years = lambda n: now - dt.timedelta(days=365 * n + 10)  # noqa: E731
    rates.seed_currencies()
    for i in range(50 * scale):
        ledger.post_contribution_received(donor_id=i + 1, amount=Decimal("1000.00") + i, currency="USD",
                                          value_date=now.date())
    user_id = db.session.execute(insert(User).values(email="bench@example.org", fs_uniquifier="b" * 32,
                                                     active=True, language="en", timezone="UTC")
                                 .returning(User.id)).scalar_one()
    call_id = db.session.execute(insert(Call).values(
        title_en="Bench", title_fr="Banc", description_en="", description_fr="", window="medium_term",
        opens_at=years(4), closes_at=years(3) + dt.timedelta(days=30), envelope=Decimal("1000000.00"),
        min_grant=Decimal("20000.00"), max_grant=Decimal("60000.00"), max_duration_months=24,
        eligible_countries=[], priority_forms=[], required_documents=[], status="decided",
    ).returning(Call.id)).scalar_one()
    store = storage.get_storage()
    counts = {"rejected": 1000 * scale, "withdrawn": 500 * scale, "pending": 200 * scale}
    total = sum(counts.values())
    org_ids = list(db.session.execute(insert(Organisation).returning(Organisation.id), [
        {"name": f"NGO {i}", "country": "SN", "org_type": "ngo"} for i in range(total)]).scalars())
    kinds = ["rejected"] * counts["rejected"] + ["withdrawn"] * counts["withdrawn"] + ["pending"] * counts["pending"]
    apps = list(db.session.execute(insert(Application).returning(Application.id), [
        {"call_id": call_id, "organisation_id": org, "status": {"rejected": "rejected", "withdrawn": "withdrawn",
                                                                 "pending": "under_review"}[kind],
         "submitted_at": None if kind == "withdrawn" else years(3), "countries": [], "forms_of_exploitation": [],
         "assistance_types": [], "currency": "USD", "requested_amount": Decimal("30000.00")}
        for org, kind in zip(org_ids, kinds, strict=True)]).scalars())
    by_kind = dict(zip(apps, kinds, strict=True))
    db.session.execute(insert(ApplicationEvent), [
        {"application_id": a, "trigger": "decide", "from_status": "x",
         "to_status": {"rejected": "rejected", "withdrawn": "withdrawn", "pending": "under_review"}[k],
         "occurred_at": years(3) if k == "rejected" else years(2) if k == "withdrawn" else years(3)}
        for a, k in by_kind.items()])
    db.session.execute(insert(BudgetLine), [
        {"application_id": a, "position": p, "category": "personnel", "description": "Case workers",
         "quantity": Decimal("1"), "unit_cost": Decimal("100.00"), "total": Decimal("100.00")}
        for a, k in by_kind.items() if k == "withdrawn" for p in (1, 2, 3)])
    docs = []
    for org, (a, kind) in zip(org_ids, by_kind.items(), strict=True):
        if kind == "withdrawn":
            continue
        for n in range(2):
            data = f"document {a}-{n}".encode()
            docs.append({"organisation_id": org, "application_id": a, "kind": "letter_of_support",
                         "filename": f"{a}-{n}.pdf", "content_type": "application/pdf", "size": len(data),
                         "sha256": hashlib.sha256(data).hexdigest(), "storage_key": store.put(data)})
    db.session.execute(insert(Document), docs)
    old, recent = 5000 * scale, 100 * scale
    db.session.execute(insert(IdempotencyKey), [
        {"user_id": user_id, "key": f"k{i}", "method": "POST", "path": "/api/v1/x", "fingerprint": "f",
         "created_at": now - dt.timedelta(days=60 if i < old else 1)} for i in range(old + recent)])
    db.session.execute(insert(OutboxMessage), [
        {"message_id": f"<m{i}@bench>", "recipient": "x@example.org", "subject": "s", "body_text": "b",
         "kind": "bench", "status": "sent", "attempts": 1, "created_at": now - dt.timedelta(days=200 if i < old else 1),
         "sent_at": now - dt.timedelta(days=200 if i < old else 1)} for i in range(old + recent)])
    db.session.execute(insert(ApiToken), [
        {"user_id": user_id, "name": f"t{i}", "token_hash": f"{i:064d}", "prefix": "vtf_x",
         "created_at": now - dt.timedelta(days=400 if i < 500 * scale else 1)} for i in range(600 * scale)])
    db.session.commit()
    pending_keys = set(db.session.execute(
        select(Document.storage_key).join(Application).where(Application.status == "under_review")).scalars())
    purged_keys = {d["storage_key"] for d in docs} - pending_keys
    return {"purged_keys": purged_keys, "pending_keys": pending_keys, "rows": len(docs) + total * 2 + 2 * (
        old + recent) + 600 * scale + 3 * counts["withdrawn"], "expected": {
        "unsuccessful_application_documents": 2 * counts["rejected"], "withdrawn_drafts": counts["withdrawn"],
        "idempotency_keys": old, "delivered_mail": old, "api_tokens": 500 * scale}}


def main() -> int:
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    tmp = tempfile.mkdtemp(prefix="bench-retention-")
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
    from flask_migrate import upgrade

    from fund import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "STORAGE_DIR": f"{tmp}/files", "TESTING": True})
    with app.app_context():
        from fund import audit, retention, storage
        from fund.accounting import figures, ledger

        upgrade(directory=app.extensions["migrate"].directory, revision="heads")
        started = time.perf_counter()
        data = seed(scale)
        print(f"seeded {data['rows']:,} rows and {len(data['purged_keys']) + len(data['pending_keys']):,} stored "
              f"files in {time.perf_counter() - started:.1f} s ({url.split(':')[0]})")
        position = figures.fund_position().as_dict()
        problems = []
        for attempt in (1, 2):
            started = time.perf_counter()
            outcomes = retention.run()
            elapsed = time.perf_counter() - started
            purged = {o.name: o.purged for o in outcomes if o.purged}
            print(f"run {attempt}: {elapsed:.2f} s, purged {sum(purged.values()):,}: {purged}")
            expected = data["expected"] if attempt == 1 else {}
            if purged != expected:
                problems.append(f"run {attempt} purged {purged}, expected {expected}")
        store = storage.get_storage()
        if any(store.exists(k) for k in data["purged_keys"]):
            problems.append("stored files of purged documents remain")
        if not all(store.exists(k) for k in data["pending_keys"]):
            problems.append("a stored file that is not due was deleted")
        if ledger.unbalanced_entries():
            problems.append("the ledger is unbalanced")
        if figures.fund_position().as_dict() != position:
            problems.append("the fund position changed")
        result = audit.verify()
        if not result.ok:
            problems.append(f"audit verify failed: {result.reason}")
        print(f"audit verify: {'OK' if result.ok else 'FAILED'} ({result.events} events); ledger balanced: "
              f"{not ledger.unbalanced_entries()}; fund position unchanged: "
              f"{figures.fund_position().as_dict() == position}")
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
