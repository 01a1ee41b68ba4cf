"""Builders for the selection tests and the route matrix: eligible applications, reviewers with their
declarations and scores, money in the fund. They run inside a request context and leave the commit to the
caller."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fund import operations as fund_ops
from fund.accounting import ledger
from fund.db import db
from fund.models import REVIEWER, User
from grants import operations as grant_ops
from grants.models import Application, Call
from grants.review import assignment, operations
from grants.review.models import SCREENING_ITEMS, Review
from tests.grants import factories as f

ALL_PASS = {code: {"result": "pass", "note": None} for code in SCREENING_ITEMS}


def reviewer(name: str = "Reviewer") -> User:
    import uuid

    return fund_ops.create_user(f"reviewer-{uuid.uuid4().hex[:8]}@example.org", REVIEWER, "correct-horse-battery",
                                name=name)


def submitted(applicant: User | None = None, call: Call | None = None, **org) -> Application:
    """A complete application, submitted (a new applicant and organisation unless one is given)."""
    if applicant is None:
        import uuid

        applicant = fund_ops.create_user(f"applicant-{uuid.uuid4().hex[:8]}@example.org", "applicant",
                                         "correct-horse-battery")
        db.session.flush()
        f.organisation_of(applicant, **org)
    application = f.make_application(applicant, call)
    grant_ops.submit_application(application, f.user(applicant))
    db.session.flush()
    return application


def eligible(applicant: User | None = None, call: Call | None = None, **org) -> Application:
    application = submitted(applicant, call, **org)
    operations.save_screening(application, {"items": ALL_PASS, "outcome": "eligible"}, f.manager())
    return application


def assigned(application: Application, *reviewers: User) -> list[Review]:
    return assignment.assign_reviewers(application, [r.id for r in reviewers], f.manager())


def review_of(application: Application, user: User) -> Review:
    from sqlalchemy import select

    return db.session.execute(select(Review).where(Review.application_id == application.id,
                                                   Review.reviewer_id == user.id)).scalar_one()


def scored(application: Application, user: User, scores: list[int], recommendation: str = "fund") -> Review:
    """The reviewer declares no conflict, scores the call's criteria (in their order) and submits."""
    review = review_of(application, user)
    user = db.session.get(User, user.id)
    operations.declare_conflict(review, False, None, user)
    criteria = application.call.criteria
    operations.save_review(review, {"scores": {c.id: s for c, s in zip(criteria, scores, strict=True)},
                                    "comments": {c.id: f"Comment on {c.name_en}" for c in criteria},
                                    "recommendation": recommendation}, user)
    operations.submit_review(review, user)
    return review


def under_review(applicant: User | None = None, call: Call | None = None, *, reviewers: list[User] | None = None,
                 scores: list[list[int]] | None = None, **org) -> Application:
    """An application under review with its reviewers (two new ones by default); with ``scores`` each
    reviewer has scored and submitted."""
    application = eligible(applicant, call, **org)
    reviewers = reviewers or [reviewer("First"), reviewer("Second")]
    db.session.flush()
    assigned(application, *reviewers)
    for user, s in zip(reviewers, scores or [], strict=False):
        scored(application, user, s)
    return application


def fund_cash(amount: str) -> None:
    """Money received in the fund (an unpledged contribution in USD)."""
    from fund.accounting import rates

    rates.seed_currencies()  # the currency table is emptied between tests
    ledger.post_contribution_received(donor_id=1, amount=Decimal(amount), currency="USD",
                                      value_date=dt.date.today())
