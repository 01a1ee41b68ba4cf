"""A payment's attribution costs the same whatever the fund's history: the SQL statements of ``pay_disbursement``
(the ledger entries, the PSC true-up and the attribution to donors' pools, with the real grants directory) are
the same in number with 5 donors and a few payments as with 50 donors and many, and none of them adds up the
attribution rows."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import event, func, select

from donors.models import Donor
from fund.accounting import attribution, ledger
from fund.accounting.attribution import Attribution, AttributionPool
from fund.db import db
from tests.donors import factories as f

D = Decimal


def _donors(first: int, last: int) -> None:
    """Donors ``first`` to ``last - 1``: each gives money without an earmark and money earmarked for a region of
    its own wording (every other one for Africa, where the grant works; the others for Europe)."""
    for i in range(first, last):
        donor = f.donor(f"Donor {i}")
        f.contribution(donor, f"{1000 + i}.00")
        region = f"Africa, programme {i}" if i % 2 else f"Europe, programme {i}"
        pledge = f.pledge(donor, "5000.00", earmark={"type": "region", "value": region})
        f.contribution(donor, f"{500 + i}.00", pledge_=pledge)


def _statements_of_a_payment(grant_id: int) -> list[str]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith(("BEGIN", "SAVEPOINT", "RELEASE SAVEPOINT")):
            seen.append(statement)

    db.session.expire_all()
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        ledger.pay_disbursement(grant_id, D("100.00"))
        db.session.flush()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    db.session.commit()
    return seen


def test_a_payment_costs_the_same_number_of_statements_as_the_fund_grows(app, world):
    w = world()
    with app.test_request_context():
        _donors(0, 5)
        for _ in range(3):
            ledger.pay_disbursement(w.grant_id, D("100.00"))
        db.session.commit()
        small = _statements_of_a_payment(w.grant_id)

        _donors(5, 50)
        for _ in range(20):
            ledger.pay_disbursement(w.grant_id, D("100.00"))
        db.session.commit()
        big = _statements_of_a_payment(w.grant_id)

        assert len(big) == len(small), "\n\n".join(big)
        reading_rows = [s for s in big
                        if re.search(r"\bledger_attribution\b(?!_pool)", s) and not s.startswith("INSERT")]
        assert not reading_rows, reading_rows

        # The last payment was paid by the 25 pools earmarked for Africa (earmarked money first, and it sufficed),
        # none of those for Europe or without an earmark; and the kept balances of the 100 pools are the rows' sums.
        last = db.session.execute(select(func.max(Attribution.entry_id))
                                  .where(Attribution.kind == attribution.GRANT)).scalar_one()
        rows = db.session.execute(select(Attribution).where(Attribution.entry_id == last)).scalars().all()
        assert sum(r.usd_cents for r in rows) == 10000
        assert {r.earmark_value for r in rows if r.earmark_type} <= {f"Africa, programme {i}" for i in range(1, 50, 2)}
        assert rows and all(r.earmark_type == "region" for r in rows)
        assert len(rows) == 25
        assert attribution.pool_differences() == []
        # Two pools of each of the 50 donors (the fund's cash of the grant's world came from a donor of its own).
        donors = select(Donor.id).where(Donor.name.like("Donor %"))
        assert db.session.execute(select(func.count()).select_from(AttributionPool)
                                  .where(AttributionPool.donor_id.in_(donors))).scalar_one() == 100
