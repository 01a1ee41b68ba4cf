"""The pools' unspent balances kept beside the attribution rows (fund.accounting.attribution.AttributionPool): after any
sequence of contributions, payments, refunds, reversals and write-offs they equal the rows; `flask ledger check`
finds a pool that disagrees and exits non-zero."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from fund import grant_directory
from fund.accounting import attribution
from fund.accounting.attribution import AttributionPool
from fund.db import db
from tests.donors.statement_support import build_year, fake_directory  # noqa: F401
from tests.donors.test_attribution_properties import Directory, Fund, step


def _kept() -> dict:
    return {row.pool: row.usd_cents for row in db.session.execute(select(AttributionPool)).scalars()}


def test_kept_pools_always_equal_the_attribution_rows(app):
    previous = grant_directory.directory()
    grant_directory.register(Directory())

    @settings(max_examples=int(os.environ.get("ATTRIBUTION_EXAMPLES", "10")), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(steps=st.lists(step, min_size=5, max_size=25))
    def run(steps):
        with app.test_request_context():
            try:
                fund = Fund(app)
                for name, *args in steps:
                    getattr(fund, name)(*args)
                    assert attribution.pool_differences() == [], name
                    for donor in fund.donors:  # and they are what the donor's statement says is unspent
                        use = attribution.donor_use(donor.id, dt.date.min, dt.date.max)
                        kept = {(t, v): c for (d, t, v), c in _kept().items() if d == donor.id}
                        assert {e: int(f["closing"].scaleb(2)) for e, f in use.earmarks.items()} == \
                            {e: kept.get(e, 0) for e in use.earmarks}
            finally:
                db.session.rollback()
                db.session.remove()

    try:
        run()
    finally:
        grant_directory.register(previous)


def test_a_refund_returns_to_one_donor_s_earmarked_and_unearmarked_pools_alike(app):
    """A grant paid from a donor's earmarked pool and its pool without an earmark: a refund returns to both, in
    proportion (the pools are put in a fixed order first, a pool without an earmark having None for its earmark)."""
    previous = grant_directory.directory()
    grant_directory.register(Directory())
    try:
        with app.test_request_context():
            fund = Fund(app)
            donor = fund.donors[0].id
            fund.contribute(0, "USD", 300000, ("region", "Africa"), 0)  # USD 3,000 for Africa (grant 201)
            fund.contribute(0, "USD", 100000, None, 0)  # USD 1,000 without an earmark
            fund.pay(201, 350000)  # the earmarked 3,000 first, then 500 of the 1,000 (and 455 of PSC)
            assert _kept() == {(donor, "region", "Africa"): 0, (donor, None, None): 4500}
            fund.refund(201, 40000, "USD")  # USD 400 back, as 3,000 to 500: 342.86 and 57.14; its PSC, 52.00
            assert _kept() == {(donor, "region", "Africa"): 34286, (donor, None, None): 4500 + 5714 + 5200}
            assert attribution.pool_differences() == []
            db.session.remove()
    finally:
        grant_directory.register(previous)


@pytest.mark.usefixtures("fake_directory")
def test_ledger_check_finds_a_pool_that_disagrees(app):
    with app.test_request_context():
        year = build_year()
        kept = _kept()
    # Norway: EUR 1,000 unpledged (USD 1,086.96) and EUR 40,000 of pledge A (43,478.26) without an earmark, the
    # USD 5,000 returned; USD 20,000 earmarked for child victims, of which 10,000 paid grant 102 (and its PSC).
    assert kept[(year.donor_id, "theme", "Child victims")] == 1000000 - 130000
    assert set(kept) == {(year.donor_id, None, None), (year.donor_id, "theme", "Child victims"),
                         (year.other_donor_id, None, None)}
    runner = app.test_cli_runner()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output
    assert "3 attribution pools agree with the attribution rows" in result.output

    with app.app_context():
        db.session.execute(text("UPDATE ledger_attribution_pool SET usd_cents = usd_cents - 1 "
                                "WHERE earmark_type = 'theme'"))
        db.session.commit()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert (f"attribution pool of donor {year.donor_id} (theme 'Child victims'): kept 869999 US cents unspent, "
            "attribution rows say 870000") in result.output
    assert "1 of 3 attribution pool(s) disagree" in result.output

    with app.app_context():  # a pool row missing altogether is found too
        db.session.execute(text("UPDATE ledger_attribution_pool SET usd_cents = usd_cents + 1 "
                                "WHERE earmark_type = 'theme'"))
        db.session.execute(text(f"DELETE FROM ledger_attribution_pool WHERE donor_id = {year.other_donor_id}"))
        db.session.commit()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert f"attribution pool of donor {year.other_donor_id} (no earmark): kept 0 US cents" in result.output
