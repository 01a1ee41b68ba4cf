"""A fund that can be grown: :func:`grow` adds one more of everything the lists show (a grant paid and
reported on, an application under review with its documents, a donor with a pledge and a contribution, one
more pledge and contribution and a statement of the first donor, exchange rates, audit events) through the
operations, so that a page can be measured at two sizes of the same fund."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from unittest import mock

from flask import Flask

from fund import operations as fund_ops
from fund.accounting import rates
from fund.db import db
from fund.models import ROLES, User
from grants.awards import operations as award_ops
from tests.conftest import PASSWORD
from tests.donors import factories as df
from tests.grants import factories as gf
from tests.grants.awards import factories as af
from tests.grants.review import factories as rf


@dataclass
class World:
    users: dict[str, User] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    size: int = 0


def _user(role: str, name: str) -> User:
    return fund_ops.create_user(f"{name}@perf.example.org", role, PASSWORD)


def start(app: Flask, make_user) -> World:
    world = World()
    for role in ROLES:
        world.users[role] = make_user(role)
    with app.test_request_context():
        df.currencies()
        rates.set_rate("EUR", af.today().replace(day=1), Decimal("0.92"))
        db.session.commit()
    return world


def grow(app: Flask, world: World) -> None:
    """One more of everything, committed."""
    n = world.size + 1
    users = world.users
    with app.test_request_context():
        applicant = db.session.get(User, users["applicant"].id)
        fo_a, fo_b = _user("finance_officer", f"fo-a-{n}"), _user("finance_officer", f"fo-b-{n}")
        # A grant of the applicant's organisation: countersigned, a tranche paid, another requested.
        grant = af.make_grant(applicant=applicant)
        award_ops.upload_signed_agreement(grant, gf.check_bytes(gf.PDF_BYTES, "signed.pdf"), applicant)
        award_ops.countersign(grant, gf.manager())
        paid = award_ops.request_disbursement(grant, 1, Decimal("100.00"), fo_a)
        award_ops.approve_disbursement(paid, fo_b)
        award_ops.pay_disbursement(paid, f"PAY-{n}", af.today(), fo_a)
        award_ops.request_disbursement(grant, 1, Decimal("50.00"), fo_a)
        world.ids.setdefault("grant", grant.id)
        if n > 1:
            # The measured grant's own history grows too: one more payment (and its events) at each size.
            first_grant = db.session.get(type(grant), world.ids["grant"])
            more = award_ops.request_disbursement(first_grant, 1, Decimal("10.00"), fo_a)
            award_ops.approve_disbursement(more, fo_b)
            award_ops.pay_disbursement(more, f"PAY-{n}-first", af.today(), fo_a)
        # An application under review in the ranking call, scored by the reviewer and one other.
        if "call" not in world.ids:
            world.ids["call"] = gf.make_call().id
        call = db.session.get(gf.Call, world.ids["call"])
        reviewer = db.session.get(User, users["reviewer"].id)
        application = rf.under_review(call=call, reviewers=[reviewer, rf.reviewer(f"Other {n}")],
                                      scores=[[4, 3]])
        world.ids.setdefault("application", application.id)
        # Donors: a new one, and one more pledge, contribution and statement of the first one.
        other = df.donor()
        df.contribution(other, "300.00", "USD", pledge_=df.pledge(other, "900.00", "USD"))
        if "donor" not in world.ids:
            first = df.donor("First donor")
            df.link(users["donor"], first)
            world.ids["donor"] = first.id
        first = db.session.get(type(other), world.ids["donor"])
        pledge = df.pledge(first, "1000.00", "EUR", pledged_on=af.today())
        world.ids.setdefault("pledge", pledge.id)
        df.contribution(first, "400.00", "EUR", pledge_=pledge)
        contribution = df.contribution(first, "25.00", "USD")
        world.ids.setdefault("contribution", contribution.id)
        from donors import operations as donor_ops

        today = af.today()
        with mock.patch("donors.statements.render_statement_pdf", return_value=b"%PDF-1.7 perf"):
            issued = donor_ops.issue_statement(first, {"date_from": today - dt.timedelta(days=400 + n),
                                                       "date_to": today})
        world.ids.setdefault("statement", issued.id)
        world.ids.setdefault("statement_number", issued.number)
        rates.set_rate("EUR", (today.replace(day=1) - dt.timedelta(days=31 * n)).replace(day=1),
                       Decimal("0.9") + Decimal(n) / 100)
        db.session.commit()
        world.ids.setdefault("organisation", applicant.organisation_id)
        report = grant.report("interim")
        world.ids.setdefault("report", report.id)
        db.session.remove()
    world.size = n
