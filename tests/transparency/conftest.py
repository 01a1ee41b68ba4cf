"""A small fund for the transparency tests, built through the operations: a named and an anonymous donor with
contributions (USD and JPY) and a pledge with instalments; two grants (Senegal, forced labour; Nepal and India,
sexual exploitation) committed, the first one paid; each with an accepted interim report (15 victims, and 3)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import select

from fund.accounting import ledger
from fund.db import db
from grants.awards.models import GrantReport, ReportResult
from tests.donors import factories as f
from tests.grants.awards import factories as af

BIG = {"sex_age": {"female|18-24": 9, "male|25-59": 4, "other_or_not_recorded|not_recorded": 2},
       "form": {"forced_labour": 12, "not_recorded": 3}, "assistance": {"shelter": 10, "legal_counselling": 5},
       "country": {"SN": 15}}
SMALL = {"sex_age": {"female|12-17": 3}, "form": {"sexual_exploitation": 3}, "assistance": {"shelter": 3},
         "country": {"NP": 3}}


@dataclass
class Fund:
    named: int
    anonymous: int
    big: int
    small: int
    big_number: str
    small_number: str


def accept_report(grant_id: int, cells: dict) -> GrantReport:
    """The grant's interim report, accepted with these results (the review workflow has its own tests)."""
    report = db.session.execute(select(GrantReport).where(GrantReport.grant_id == grant_id,
                                                          GrantReport.kind == "interim")).scalar_one()
    report.status = "accepted"
    report.total_assisted = sum(cells["sex_age"].values())
    for breakdown, values in cells.items():
        for key, count in values.items():
            db.session.add(ReportResult(report_id=report.id, breakdown=breakdown, key=key, count=count))
    db.session.flush()
    return report


def build_fund() -> Fund:
    f.currencies()
    f.rate("JPY", "150.00")
    named = f.donor("Kingdom of Norway", type="member_state")
    anonymous = f.donor("Secret Benefactor Foundation", type="foundation", anonymous=True)
    pledge = f.pledge(named, "300000.00", instalments=[(f.today(), "100000.00"),
                                                       (f.today() + dt.timedelta(days=200), "200000.00")])
    f.contribution(named, "100000.00", pledge_=pledge, reference="NO-1")
    f.contribution(anonymous, "1500000", "JPY", reference="ANON-1")
    f.contribution(named, "50000.00", reference="=HYPERLINK(\"http://x\")")
    big = af.make_grant(cash=None)
    small = af.make_grant(cash=None, countries=["NP", "IN"], forms_of_exploitation=["sexual_exploitation"],
                          assistance_types=["shelter", "medical_care"])
    ledger.pay_disbursement(big.id, Decimal("10000.00"), value_date=f.today())
    accept_report(big.id, BIG)
    accept_report(small.id, SMALL)
    return Fund(named.id, anonymous.id, big.id, small.id, big.number, small.number)


@pytest.fixture
def fund_world(app):
    with app.test_request_context():
        world = build_fund()
        db.session.commit()
    return world
