"""A grant in the API shows its most recent disbursements and how many it has (the full list is paginated at
``/disbursements?grant_id=``), while its tranches add up every payment, shown or not; a grant in a list carries
neither its tranches, its budget nor its disbursements."""

from __future__ import annotations

from decimal import Decimal

from fund.db import db
from grants.awards import operations as award_ops
from grants.awards import reads
from tests.grants import factories as gf
from tests.grants.awards import factories as af


def test_a_grant_shows_its_latest_payments_and_counts_them_all(app, api_as, make_user, monkeypatch):
    with app.test_request_context():
        grant = af.make_grant()
        award_ops.upload_signed_agreement(grant, gf.check_bytes(gf.PDF_BYTES, "signed.pdf"), af.member(grant))
        award_ops.countersign(grant, gf.manager())
        fo_a, fo_b = af.staff("finance_officer", "Officer A"), af.staff("finance_officer", "Officer B")
        if fo_b.id == fo_a.id:
            from fund import operations as fund_ops

            fo_b = fund_ops.create_user("officer-b@perf.example.org", "finance_officer", "correct-horse-battery")
        ids = []
        for n in range(3):
            d = award_ops.request_disbursement(grant, 1, Decimal("10.00"), fo_a)
            award_ops.approve_disbursement(d, fo_b)
            award_ops.pay_disbursement(d, f"PAY-RECENT-{n}", af.today(), fo_a)
            ids.append(d.id)
        db.session.commit()
        grant_id = grant.id
    monkeypatch.setattr(reads, "RECENT", 2)
    client = api_as(make_user("fund_manager"))
    body = client.get(f"/api/v1/grants/{grant_id}").get_json()
    listed = client.get(f"/api/v1/disbursements?grant_id={grant_id}&per_page=10").get_json()
    every = [d["id"] for d in listed["items"]]
    assert set(ids) <= set(every) and len(every) >= 3
    assert [d["id"] for d in body["disbursements"]] == every[-2:]
    assert body["disbursements_total"] == listed["meta"]["total"] == len(every)
    first = next(t for t in body["tranches"] if t["number"] == 1)
    assert Decimal(first["paid"]) == Decimal("30.00") and first["status"] == "partly_paid"
    item = next(g for g in client.get("/api/v1/grants").get_json()["items"] if g["id"] == grant_id)
    assert not {"tranches", "budget_lines", "disbursements"} & set(item)
    assert Decimal(item["paid"]) == Decimal(body["paid"])
