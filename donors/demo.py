"""Demonstration money for `make run`: rates for recent months, donors of several types and currencies, pledges
with instalments and earmarks, contributions (pledged and unpledged), and a donor user."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fund.accounting import rates
from fund.db import utcnow
from fund.models import DONOR, FINANCE_OFFICER, User

#: Approximate UN operational rates (units per USD 1) used for the demonstration months.
DEMO_RATES = {"EUR": "0.921", "GBP": "0.786", "JPY": "151.2", "KWD": "0.3075", "NOK": "10.68", "CHF": "0.884",
              "SEK": "10.41", "AUD": "1.512"}


def _months(today: dt.date, n: int) -> list[dt.date]:
    months, month = [], today.replace(day=1)
    for _ in range(n):
        months.append(month)
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return months


def load_demo(users: dict[str, User]) -> list[str]:
    from donors import operations
    from fund import operations as fund_operations
    from fund.demo import DEMO_PASSWORD

    actor = users.get(FINANCE_OFFICER)
    today = utcnow().date()
    months = _months(today, 4)  # this month and the three before
    rates.seed_currencies()
    for i, month in enumerate(months):
        for currency, value in DEMO_RATES.items():
            # A small drift from month to month, so that exchange differences show in the ledger.
            rates.set_rate(currency, month, Decimal(value) * (1 + Decimal(i) / 200), actor=actor, source="demo")
    earliest = months[-1]

    def donor(name, type_, country, language="en", anonymous=False):
        return operations.create_donor({"name": name, "type": type_, "country": country, "language": language,
                                        "contact_name": None, "contact_email": None, "anonymous": anonymous},
                                       actor=actor)

    def day(month: dt.date, d: int) -> dt.date:
        return min(month.replace(day=d), today)

    norway = donor("Norway", "member_state", "NO")
    france = donor("France", "member_state", "FR", "fr")
    japan = donor("Japan", "member_state", "JP")
    kuwait = donor("Kuwait", "member_state", "KW")
    foundation = donor("Fondation Lumière", "foundation", "CH", "fr")
    company = donor("Northwind Traders", "private_sector", "GB")
    individual = donor("A private supporter", "individual", "US", anonymous=True)

    def pledge(d, amount, currency, pledged_on, status="confirmed", instalments=(), earmark=None):
        return operations.create_pledge(d, {
            "amount": Decimal(amount), "currency": currency, "pledged_on": pledged_on, "status": status,
            "instalments": [{"due_on": due, "amount": Decimal(a)} for due, a in instalments], "earmark": earmark,
        }, actor=actor)

    def receive(d, amount, currency, received_on, reference, p=None):
        return operations.record_contribution(d, {
            "amount": Decimal(amount), "currency": currency, "received_on": received_on, "bank_reference": reference,
            "pledge_id": p.id if p else None,
        }, actor=actor)

    year_end = dt.date(today.year, 12, 31)
    p_no = pledge(norway, "5000000.00", "NOK", day(earliest, 10),
                  instalments=[(day(earliest, 28), "2500000.00"), (year_end, "2500000.00")])
    receive(norway, "2500000.00", "NOK", day(months[2], 5), "NO-MFA-2026-0114", p_no)
    pledge(france, "300000.00", "EUR", day(months[1], 3), status="announced",
           earmark={"type": "funding_window", "value": "Sub-grant programme 1 (emergency assistance)"})
    p_jp = pledge(japan, "20000000", "JPY", day(earliest, 15))
    receive(japan, "12000000", "JPY", day(months[1], 20), "JP-MOFA-88213", p_jp)
    p_kw = pledge(kuwait, "50000.000", "KWD", day(months[2], 1))
    receive(kuwait, "50000.000", "KWD", day(months[0], 2), "KW-KFAED-7731", p_kw)
    p_fl = pledge(foundation, "100000.00", "CHF", day(months[2], 12),
                  earmark={"type": "theme", "value": "Child victims"},
                  instalments=[(day(months[2], 28), "40000.00"), (year_end, "60000.00")])
    receive(foundation, "40000.00", "CHF", day(months[1], 2), "CH-LUM-0042", p_fl)
    receive(company, "25000.00", "GBP", day(months[1], 18), "GB-NWT-2026-03")
    receive(individual, "5000.00", "USD", day(months[0], 1), "US-IND-000519")

    fund_operations.create_user("donor@vtf.example.org", DONOR, DEMO_PASSWORD, name="Ingrid Solberg",
                                donor_id=norway.id)
    return [
        f"  {DONOR:16} donor@vtf.example.org  (donor user of {norway.name})",
        f"Money: rates for {len(DEMO_RATES)} currencies over {len(months)} months, 7 donors, 5 pledges, "
        "7 contributions.",
    ]
