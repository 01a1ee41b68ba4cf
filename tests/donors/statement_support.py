"""Support of the statement tests: a test double of the grants directory (fund.grant_directory), a year of a
donor's money with known figures, and PDF text extraction."""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import Decimal

import pypdf
import pytest

from fund import disclosure, grant_directory
from fund.accounting import ledger
from fund.db import db
from fund.grant_directory import GrantInfo, Results
from tests.donors import factories as f

START = dt.date(2026, 1, 1)
SMALL_GRANT, BIG_GRANT = 101, 102


def D(value) -> Decimal:  # noqa: N802
    return Decimal(str(value))


class FakeDirectory:
    """Two grants: 101 in Senegal (3 victims assisted: a small count) and 102 in Nigeria (20), the latter for
    child victims."""

    def __init__(self):
        self.calls: list[tuple] = []

    def grants(self, ids):
        info = {
            SMALL_GRANT: GrantInfo(SMALL_GRANT, "VTF/2026/SGP1/001", "Association Espoir", "Shelter in Thiès", ("SN",),
                                   "emergency", ("Africa",), ("forced_labour", "shelter")),
            BIG_GRANT: GrantInfo(BIG_GRANT, "VTF/2026/SGP2/002", "Child Rights Lagos", "Safe homes", ("NG",),
                                 "medium_term", ("Africa",), ("sexual_exploitation", "shelter")),
        }
        return {i: info[i] for i in ids if i in info}

    def grants_matching(self, *, funding_window=None, region=None, theme=None):
        self.calls.append(("matching", funding_window, region, theme))
        if theme and "child" in theme.lower():
            return [BIG_GRANT]
        if region and "africa" in region.lower():
            return [SMALL_GRANT, BIG_GRANT]
        return []

    def results(self, grant_ids, date_from=None, date_to=None):
        self.calls.append(("results", tuple(sorted(grant_ids)), date_from, date_to))
        data = {
            SMALL_GRANT: Results(by_sex_age={("female", "18-24"): 3}, by_form={"forced_labour": 3},
                                 by_assistance={"shelter": 3}, by_country={"SN": 3}),
            BIG_GRANT: Results(by_sex_age={("female", "18-24"): 9, ("male", "25-59"): 11},
                               by_form={"sexual_exploitation": 20},
                               by_assistance={"shelter": 15, "legal_counselling": 5}, by_country={"NG": 20}),
        }
        return {g: data[g] for g in grant_ids if g in data}


@pytest.fixture
def fake_directory():
    """The double as the grants directory, and its two grants' results as the fund's public results (what
    statements show: fund.disclosure.publication)."""
    previous, previous_publication = grant_directory.directory(), disclosure._provider
    double = FakeDirectory()
    grant_directory.register(double)
    published = disclosure.Publication(double.results([SMALL_GRANT, BIG_GRANT]))
    double.calls.clear()
    disclosure.register_publication(lambda: published)
    yield double
    grant_directory.register(previous)
    disclosure.register_publication(previous_publication)


@dataclass
class Year:
    donor_id: int
    other_donor_id: int
    pledge_a: int
    pledge_b: int
    pledge_c: int
    today: dt.date


def build_year(name: str = "Kingdom of Norway", language: str = "en", **donor_fields) -> Year:
    """A donor's money from 2025 to today (call in a request context; commits).

    Pledge A: EUR 100,000 confirmed 2025-06-15 at 0.90 (USD 111,111.11): outstanding at the start of 2026.
    Pledge B: USD 50,000 confirmed 2026-02-01, earmarked for child victims. Pledge C: EUR 5,000 announced only.
    2026: EUR 40,000 paid on A on 5 March at 0.92 (USD 43,478.26; booking value 44,444.44); USD 20,000 paid on B on
    10 April; EUR 1,000 unpledged on 20 March (USD 1,086.96); USD 5,000 unpledged on 21 March, reversed today;
    EUR 10,000 of A written off today (booking value USD 11,111.11). Another donor gives USD 100,000. The fund pays
    grant 101 USD 30,000 on 1 June and grant 102 USD 10,000 on 1 July (of USD 20,000 committed)."""
    from donors import operations

    today = f.today()
    f.rate("EUR", "0.90", dt.date(2025, 6, 1))
    f.rate("EUR", "0.92", dt.date(2026, 3, 1))
    donor = f.donor(name, language=language, **donor_fields)
    other = f.donor("Other donor")
    a = f.pledge(donor, "100000.00", "EUR", pledged_on=dt.date(2025, 6, 15))
    b = f.pledge(donor, "50000.00", "USD", pledged_on=dt.date(2026, 2, 1),
                 earmark={"type": "theme", "value": "Child victims"})
    c = f.pledge(donor, "5000.00", "EUR", status="announced", pledged_on=dt.date(2026, 5, 1))
    f.contribution(donor, "40000.00", "EUR", pledge_=a, received_on=dt.date(2026, 3, 5), reference="NO-2026-001")
    f.contribution(donor, "20000.00", "USD", pledge_=b, received_on=dt.date(2026, 4, 10), reference="NO-2026-002")
    f.contribution(donor, "1000.00", "EUR", received_on=dt.date(2026, 3, 20), reference="NO-2026-003")
    returned = f.contribution(donor, "5000.00", "USD", received_on=dt.date(2026, 3, 21), reference="NO-2026-004")
    ledger.reverse_entry(returned.ledger_entry_id, reason="Returned by the bank")
    operations.write_off_pledge(a, amount=D("10000.00"), reason="Budget cut")
    f.contribution(other, "100000.00", "USD", received_on=dt.date(2026, 2, 10), reference="OT-1")
    ledger.commit_grant(SMALL_GRANT, D("30000.00"), value_date=dt.date(2026, 5, 20))
    ledger.commit_grant(BIG_GRANT, D("20000.00"), value_date=dt.date(2026, 5, 20))
    ledger.pay_disbursement(SMALL_GRANT, D("30000.00"), value_date=dt.date(2026, 6, 1))
    ledger.pay_disbursement(BIG_GRANT, D("10000.00"), value_date=dt.date(2026, 7, 1))
    db.session.commit()
    return Year(donor.id, other.id, a.id, b.id, c.id, today)


def pdf_text(pdf: bytes) -> str:
    """The text of a PDF, spaces normalised (French figures use narrow no-break spaces)."""
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"[ \u00a0\u202f]+", " ", text)


def pdf_attachments(pdf: bytes) -> dict:
    return dict(pypdf.PdfReader(io.BytesIO(pdf)).attachments)
