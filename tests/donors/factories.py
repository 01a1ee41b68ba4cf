"""Factories for money tests (call inside an app context; they flush, the caller commits)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from fund.accounting import rates
from fund.db import db, utcnow
from fund.models import User

_seq = itertools.count(1)


def today() -> dt.date:
    return utcnow().date()


def currencies() -> None:
    """The ISO 4217 table (tests start from empty tables; the migration seeds it in real databases)."""
    rates.seed_currencies()


def rate(currency: str, value: str, month: dt.date | str | None = None):
    currencies()
    return rates.set_rate(currency, month or today(), Decimal(value)).rate


def donor(name: str | None = None, **fields):
    from donors import operations

    currencies()
    data = {"name": name or f"Donor {next(_seq)}", "type": "member_state", "country": "NO", "language": "en",
            "contact_name": None, "contact_email": None, "anonymous": False, **fields}
    return operations.create_donor(data)


def pledge(donor_, amount: str = "1000.00", currency: str = "USD", *, status: str = "confirmed",
           pledged_on: dt.date | None = None, instalments=(), earmark=None):
    from donors import operations

    return operations.create_pledge(donor_, {
        "amount": Decimal(amount), "currency": currency, "pledged_on": pledged_on or today(), "status": status,
        "instalments": [{"due_on": d, "amount": Decimal(a)} for d, a in instalments], "earmark": earmark,
    })


def contribution(donor_, amount: str = "100.00", currency: str = "USD", *, pledge_=None,
                 received_on: dt.date | None = None, reference: str | None = None):
    from donors import operations

    return operations.record_contribution(donor_, {
        "amount": Decimal(amount), "currency": currency, "received_on": received_on or today(),
        "bank_reference": reference or f"REF-{next(_seq)}", "pledge_id": pledge_.id if pledge_ else None,
    })


def link(user, donor_) -> None:
    """Make ``user`` (a donor user) a user of ``donor_``."""
    db.session.get(User, user.id).donor_id = donor_.id
    db.session.flush()
