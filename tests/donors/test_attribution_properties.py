"""Property test of the attribution over the whole fund: random funds (three donors, earmarked and unearmarked money
in USD, EUR and JPY, three grants, payments, grantee refunds, reversals and write-offs over three years) and then
every donor's statement of every year, read together as an auditor would add them up:

* per grant, what all donors' statements attribute to it up to the end of a year is at most what the fund paid it
  net of refunds by then, and, for a grant whose every payment the donors' money could cover when it was made,
  exactly what it was paid in each year;
* per donor, what its money paid (grants and PSC) never exceeds what it gave, cumulatively across years (each
  statement reconciles, the closing of a year is the opening of the next, nothing is ever negative);
* at each payment, the grant is attributed exactly what the eligible money (earmarks that apply, then money without
  an earmark) could cover at that moment, never more than the payment;
* the PSC attributed by all statements is at most the PSC charged;
* a year's statements read when the year has ended stay the same whatever happens afterwards.

``ATTRIBUTION_EXAMPLES`` sets the number of random funds (8 in make test, 15 in make test-full)."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from donors import operations
from donors import statements as stm
from donors.models import Pledge
from fund import grant_directory
from fund.accounting import attribution, ledger, rates
from fund.accounting.figures import grant_figures
from fund.accounting.ledger import JournalEntry, Posting
from fund.db import db
from fund.errors import Conflict, FundError
from fund.grant_directory import GrantInfo
from tests.conftest import _wipe
from tests.live import rounds

D = Decimal
ZERO = D("0.00")
YEARS = (2025, 2026, 2027)
GRANTS = (201, 202, 203)
EARMARKS = (None, ("theme", "Child victims"), ("region", "Africa"))
#: Which grants each earmark applies to (the grants directory of this test).
APPLIES = {("theme", "Child victims"): {202}, ("region", "Africa"): {201, 203}}
RATES = {"EUR": D("0.92"), "JPY": D("150")}


class Directory:
    def grants(self, ids):
        return {g: GrantInfo(g, f"VTF/T/{g}", f"Org {g}", f"Project {g}", ("SN",), "emergency") for g in ids
                if g in GRANTS}

    def grants_matching(self, *, funding_window=None, region=None, theme=None):
        key = ("theme", theme) if theme else ("region", region) if region else None
        return sorted(APPLIES.get(key, ()))

    def results(self, grant_ids, date_from=None, date_to=None):
        return {}


def year_bounds(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def paid_net(grant_id: int, date_from: dt.date, date_to: dt.date) -> Decimal:
    """From the ledger: the grant expense of the period (payments net of refunds)."""
    cents = db.session.execute(
        select(func.coalesce(func.sum(Posting.usd_cents), 0)).join(JournalEntry)
        .where(Posting.account == ledger.GRANT_EXPENSE, Posting.grant_id == grant_id,
               JournalEntry.value_date >= date_from, JournalEntry.value_date <= date_to)).scalar_one()
    return D(cents).scaleb(-2)


def psc_charged(date_from: dt.date, date_to: dt.date) -> Decimal:
    cents = db.session.execute(
        select(func.coalesce(func.sum(Posting.usd_cents), 0)).join(JournalEntry)
        .where(Posting.account == ledger.PSC, JournalEntry.value_date >= date_from,
               JournalEntry.value_date <= date_to)).scalar_one()
    return D(cents).scaleb(-2)


class Fund:
    """Drives the operations in date order and keeps what a step could see at the time."""

    def __init__(self, app):
        _wipe(app)
        rates.seed_currencies()
        for year in YEARS:
            for month in range(1, 13):
                for currency, rate in RATES.items():
                    rates.set_rate(currency, dt.date(year, month, 1), rate + D(month) / 100, audit_event=False)
        self.donors = [operations.create_donor({"name": f"Donor {i}", "type": "other"}) for i in range(3)]
        db.session.commit()
        self.day = dt.date(2025, 1, 2)
        self.references = 0
        self.covered = dict.fromkeys(GRANTS, True)  # every payment of the grant was fully attributed
        self.snapshots: dict[int, dict] = {}  # year -> statements read once it had ended

    def statements(self, year: int) -> dict[int, stm.Statement]:
        start, end = year_bounds(year)
        return {d.id: stm.build_statement(d, start, end, "en") for d in self.donors}

    def advance(self, days: int) -> None:
        target = min(self.day + dt.timedelta(days=days), dt.date(2027, 12, 31))
        for year in YEARS:
            if self.day.year <= year < target.year and year not in self.snapshots:
                self.snapshots[year] = {d: stm.as_json(s) for d, s in self.statements(year).items()}
        self.day = target

    def eligible(self, grant_id: int) -> Decimal:
        """Unspent money that may pay the grant, from the donors' own figures."""
        total = ZERO
        for donor in self.donors:
            for (etype, evalue), f in attribution.donor_use(donor.id, dt.date.min, self.day).earmarks.items():
                if etype is None or grant_id in APPLIES.get((etype, evalue), ()):
                    total += f["closing"]
        return total

    def attributed_to(self, grant_id: int) -> Decimal:
        return sum((attribution.donor_use(d.id, dt.date.min, self.day).grants.get(grant_id, (ZERO, ZERO))[0] +
                    attribution.donor_use(d.id, dt.date.min, self.day).grants.get(grant_id, (ZERO, ZERO))[1]
                    for d in self.donors), ZERO)

    # operations -------------------------------------------------------------------------------------------

    def contribute(self, donor: int, currency: str, units: int, earmark, pledged_extra: int) -> None:
        self.references += 1
        amount = D(units).scaleb(-rates.exponent(currency))
        pledge_id = None
        if earmark is not None:
            pledge = operations.create_pledge(self.donors[donor], {
                "amount": amount + D(pledged_extra).scaleb(-rates.exponent(currency)), "currency": currency,
                "pledged_on": self.day, "status": "confirmed", "confirmed_on": self.day, "instalments": [],
                "earmark": {"type": earmark[0], "value": earmark[1]}})
            pledge_id = pledge.id
        operations.record_contribution(self.donors[donor], {
            "amount": amount, "currency": currency, "pledge_id": pledge_id, "received_on": self.day,
            "bank_reference": f"R{self.references}"})
        db.session.commit()

    def pay(self, grant_id: int, cents: int) -> None:
        amount = D(cents).scaleb(-2)
        eligible, before = self.eligible(grant_id), self.attributed_to(grant_id)
        try:
            if grant_figures(grant_id).remaining < amount:
                ledger.commit_grant(grant_id, amount, value_date=self.day)
            ledger.pay_disbursement(grant_id, amount, value_date=self.day)
        except Conflict:
            db.session.rollback()
            return
        db.session.commit()
        gained = self.attributed_to(grant_id) - before
        assert gained == min(amount, max(eligible, ZERO)), (grant_id, amount, eligible, gained)
        self.covered[grant_id] &= gained == amount

    def refund(self, grant_id: int, cents: int, currency: str) -> None:
        spent = grant_figures(grant_id).expenditure
        if spent <= 0:
            return
        if currency == "USD":
            amount = min(D(cents).scaleb(-2), spent)
        else:
            amount = D(max(1, cents // 10)).scaleb(-rates.exponent(currency))
        try:
            ledger.record_grant_refund(grant_id, amount, currency, value_date=self.day)
        except Conflict:
            db.session.rollback()
            return
        db.session.commit()

    def reverse(self, pick: int) -> None:
        ids = db.session.execute(
            select(JournalEntry.id).where(JournalEntry.reversal_of_id.is_(None),
                                          JournalEntry.kind.in_([ledger.CONTRIBUTION, ledger.DISBURSEMENT,
                                                                 ledger.GRANT_REFUND]),
                                          JournalEntry.id.not_in(select(JournalEntry.reversal_of_id).where(
                                              JournalEntry.reversal_of_id.is_not(None))))
            .order_by(JournalEntry.id)).scalars().all()
        if not ids:
            return
        entry = db.session.get(JournalEntry, ids[pick % len(ids)])
        kind = entry.kind
        repaid = {p.grant_id: -p.usd for p in entry.postings if p.account == ledger.GRANT_EXPENSE and p.usd < 0}
        eligible = {g: self.eligible(g) for g in repaid}
        before = {g: self.attributed_to(g) for g in GRANTS}
        try:
            ledger.reverse_entry(entry.id, reason="property test", value_date=self.day)
        except Conflict:
            db.session.rollback()
            return
        db.session.commit()
        after = {g: self.attributed_to(g) for g in GRANTS}
        if kind == ledger.CONTRIBUTION:  # money already spent is taken back from the grants it paid
            for g in GRANTS:
                assert after[g] <= before[g]
                self.covered[g] &= after[g] == before[g]
        elif kind == ledger.GRANT_REFUND:  # the refund did not happen: the grant is paid again, like a payment
            for g, amount in repaid.items():
                gained = after[g] - before[g]
                assert gained == min(amount, max(eligible[g], ZERO)), (g, amount, eligible[g], gained)
                self.covered[g] &= gained == amount

    def write_off(self, pick: int) -> None:
        pledges = db.session.execute(select(Pledge).where(Pledge.status == "partially_paid").order_by(Pledge.id)
                                     ).scalars().all()
        if not pledges:
            return
        pledge = pledges[pick % len(pledges)]
        try:
            ledger.post_pledge_write_off(donor_id=pledge.donor_id, pledge_id=pledge.id, currency=pledge.currency,
                                         amount=ledger.receivable(pledge.id, pledge.currency).amount,
                                         value_date=self.day)
        except FundError:
            db.session.rollback()
            return
        db.session.commit()

    # the check over all statements ---------------------------------------------------------------------------

    def check(self) -> None:
        all_years = {year: self.statements(year) for year in YEARS}
        cumulative_grants = dict.fromkeys(GRANTS, ZERO)
        cumulative_psc = ZERO
        previous: dict[int, stm.Statement] = {}
        for year in YEARS:
            start, end = year_bounds(year)
            statements = all_years[year]
            for donor_id, s in statements.items():
                use = s.use
                assert use.reconciles, (year, donor_id)
                assert use.held >= 0 and use.opening >= 0, (year, donor_id, use)
                assert all(e.held >= 0 for e in use.earmarks), (year, donor_id, use.earmarks)
                assert use.received == s.received_usd  # the pools are filled by the payments the statement lists
                if donor_id in previous:
                    assert use.opening == previous[donor_id].use.held
                given = sum((st_.use.received for y, yst in all_years.items() if y <= year
                             for d, st_ in yst.items() if d == donor_id), ZERO)
                spent = sum((st_.use.attributed + st_.use.psc for y, yst in all_years.items() if y <= year
                             for d, st_ in yst.items() if d == donor_id), ZERO)
                assert spent <= given, (year, donor_id, spent, given)
                assert sum((g.total for g in use.grants), ZERO) == use.attributed
            per_grant = dict.fromkeys(GRANTS, ZERO)
            for s in statements.values():
                for g in s.use.grants:
                    per_grant[g.grant_id] += g.total
                    assert g.paid_in_period == max(paid_net(g.grant_id, start, end), ZERO)
            for g in GRANTS:
                cumulative_grants[g] += per_grant[g]
                assert cumulative_grants[g] <= paid_net(g, dt.date.min, end), (year, g)
                if self.covered[g]:
                    assert per_grant[g] == paid_net(g, start, end), (year, g, per_grant[g])
            psc = sum((s.use.psc for s in statements.values()), ZERO)
            cumulative_psc += psc
            assert cumulative_psc <= psc_charged(dt.date.min, end)
            if all(self.covered.values()):
                assert psc == psc_charged(start, end), (year, psc)
            # the fund-wide view is the same money: the staff matrix adds up to the statements
            m = attribution.matrix(start, end)
            for donor_id, s in statements.items():
                assert m.row_total(donor_id) == s.use.attributed
                assert m.psc.get(donor_id, ZERO) == s.use.psc
            for g in GRANTS:
                assert m.column_total(g) == per_grant[g]
            previous = statements
        for year, snapshot in self.snapshots.items():
            now = {d: figures(stm.as_json(s)) for d, s in all_years[year].items()}
            then = {d: figures(data) for d, data in snapshot.items()}
            assert now == then, f"the statements of {year} changed after the year ended"


def figures(data: dict) -> dict:
    """A statement's figures: everything but the pledges' status, which is the pledge's status today."""
    return {**data, "pledges": [{k: v for k, v in p.items() if k != "status"} for p in data["pledges"]],
            "announced": [{k: v for k, v in p.items() if k != "status"} for p in data["announced"]]}


step = st.one_of(
    st.tuples(st.just("contribute"), st.integers(0, 2), st.sampled_from(["USD", "EUR", "JPY"]),
              st.integers(1, 10**7), st.sampled_from(EARMARKS), st.integers(0, 10**5)),
    st.tuples(st.just("pay"), st.sampled_from(GRANTS), st.integers(1, 5 * 10**6)),
    st.tuples(st.just("refund"), st.sampled_from(GRANTS), st.integers(1, 10**6), st.sampled_from(["USD", "EUR"])),
    st.tuples(st.just("reverse"), st.integers(0, 50)),
    st.tuples(st.just("write_off"), st.integers(0, 10)),
    st.tuples(st.just("advance"), st.integers(1, 400)),
)


def test_all_donors_statements_add_up_to_what_the_fund_paid(app):
    previous = grant_directory.directory()
    grant_directory.register(Directory())

    @settings(max_examples=int(os.environ.get("ATTRIBUTION_EXAMPLES", rounds(15, 8))), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(steps=st.lists(step, min_size=5, max_size=25))
    def run(steps):
        with app.test_request_context():
            try:
                fund = Fund(app)
                for name, *args in steps:
                    getattr(fund, name)(*args)
                fund.advance(10**4)
                fund.check()
            finally:
                db.session.rollback()
                db.session.remove()

    try:
        run()
    finally:
        grant_directory.register(previous)


def test_the_donors_that_paid_a_grant_share_it_by_unspent_balance(app):
    """A deterministic case of the method: two donors' unearmarked money, USD 300 and 100, pay USD 100.01 pro rata
    (75.01 and 25.00 by the largest remainder), then an earmarked donor's money pays first a grant it applies to."""
    previous = grant_directory.directory()
    grant_directory.register(Directory())
    try:
        with app.test_request_context():
            fund = Fund(app)
            fund.contribute(0, "USD", 30000, None, 0)
            fund.contribute(1, "USD", 10000, None, 0)
            fund.pay(201, 10001)
            use = {d.id: attribution.donor_use(d.id, dt.date.min, fund.day) for d in fund.donors}
            a, b, c = (d.id for d in fund.donors)
            assert use[a].grants == {201: (D("75.01"), ZERO)} and use[b].grants == {201: (D("25.00"), ZERO)}
            assert use[a].psc + use[b].psc == D("13.00")  # 13 % of 100.01, ROUND_HALF_UP
            fund.contribute(2, "USD", 5000, ("theme", "Child victims"), 0)
            fund.pay(202, 5000)
            use = attribution.donor_use(c, dt.date.min, fund.day)
            assert use.grants == {202: (ZERO, D("50.00"))}  # all from the earmarked money
            fund.pay(201, 100)  # the earmark does not apply to 201: the unearmarked money pays
            assert attribution.donor_use(c, dt.date.min, fund.day).grants == {202: (ZERO, D("50.00"))}
            fund.check()
    finally:
        grant_directory.register(previous)
