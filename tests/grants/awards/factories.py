"""Builders for the grants-awarded tests and the route matrix: money in the fund, an application brought to
the Board's recommendation through its workflow, a grant created by :func:`create_grant`, and the steps of a
grant's life through the operations. They run in a request context and leave the commit to the caller."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from unittest import mock

from sqlalchemy import select

from fund.accounting import ledger, rates
from fund.db import db, utcnow
from fund.models import User
from grants import operations as grant_ops
from grants.awards import operations as ops
from grants.awards.models import Grant
from tests.grants import factories as gf

_seq = itertools.count(1)


def today() -> dt.date:
    return utcnow().date()


def staff(role: str, name: str | None = None) -> User:
    """A staff user of ``role`` (the first one found, or a new one named ``name``)."""
    from fund import operations as fund_ops
    from fund.models import Role

    if name is None:
        found = db.session.execute(select(User).join(User.roles).where(Role.name == role)
                                   .order_by(User.id)).scalars().first()
        if found:
            return found
        name = f"{role}-{next(_seq)}"
    return fund_ops.create_user(f"{name}@vtf.example.org", role, "correct-horse-battery")


#: The donor of :func:`fund_cash`: an id no test's donor reaches (the ledger names donors without a foreign key),
#: the same in every test whatever ran before it in the process.
CASH_DONOR_ID = 999_999


def fund_cash(amount: str = "500000.00") -> None:
    """Money in the fund: an unpledged contribution in USD, from a donor of its own."""
    rates.seed_currencies()
    ledger.post_contribution_received(donor_id=CASH_DONOR_ID, amount=Decimal(amount), currency="USD",
                                      value_date=today())


def _quick_acknowledgement(template: str, context: dict, **kwargs) -> bytes:
    return gf.PDF_BYTES


def recommended_application(applicant: User | None = None, **answers):
    """An application submitted, screened and recommended, through the application workflow. (The PDF
    acknowledgement of submission is stubbed: these tests are about what follows, and WeasyPrint takes a
    second per document.)"""
    if applicant is None:
        from fund import operations as fund_ops

        applicant = fund_ops.create_user(f"ngo-{next(_seq)}@example.org", "applicant", "correct-horse-battery")
    applicant = db.session.get(User, applicant.id)
    application = gf.make_application(applicant)
    if answers:
        grant_ops.update_application(application, answers, applicant)
    with mock.patch("grants.operations.render_pdf", _quick_acknowledgement):
        grant_ops.submit_application(application, applicant)
    fm = gf.manager()
    for trigger in ("declare_eligible", "start_review", "recommend"):
        grant_ops.transition(application, trigger, fm)
    return application


def make_grant(amount: str | None = None, *, applicant: User | None = None, cash: str | None = "500000.00",
               schedule=None, **answers) -> Grant:
    """A grant "pending_signature" created by create_grant (the application approved as the Board does), for
    ``amount`` or, by default, the amount the application requested (USD 38,500.00)."""
    if cash:
        fund_cash(cash)
    application = recommended_application(applicant, **answers)
    fm = gf.manager()
    amount = Decimal(amount) if amount is not None else application.requested_amount
    grant = ops.create_grant(application, amount, actor=fm, schedule=schedule)
    grant_ops.transition(application, "approve", fm)
    return grant


def member(grant: Grant) -> User:
    return db.session.execute(select(User).where(User.organisation_id == grant.organisation_id)
                              .order_by(User.id)).scalars().first()
