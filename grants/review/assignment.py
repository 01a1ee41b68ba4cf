"""Reviewer assignment: one application's reviewers, or a call's applications in bulk, with one set of rules
(``_assignment_problems``): the application is eligible or under review; the call's review deadline has not
passed; the user is an active reviewer; they do not review their own organisation's application; they have not
declared a conflict of interest with the organisation (on any of its applications); a reviewer already assigned
to an application (recused or not) is left as they are, never assigned twice. Each new assignment is audited and
the reviewer e-mailed; like every operation of the selection (:mod:`grants.review.operations`), none commits.
"""

from __future__ import annotations

from flask import render_template, url_for
from flask_babel import force_locale, format_date, ngettext
from flask_babel import gettext as _
from sqlalchemy import select

from fund import audit
from fund.db import db
from fund.errors import Conflict, FundError
from fund.mail import queue_mail
from fund.models import REVIEWER, User
from grants.models import Application, Call
from grants.review.models import (
    COI_CONFLICT,
    COI_PENDING,
    Review,
)
from grants.review.operations import (
    active_reviews,
    deadline_passed,
    fund_manager_only,
    lock_application,
    min_reviewers,
    review_deadline,
    reviews_of,
)
from grants.workflow import APPLICATION_WORKFLOW

ASSIGNABLE = ("eligible", "under_review")


def _reviewers_by_id(user_ids: list[int]) -> tuple[dict[int, User], list[int]]:
    """The users named, and the ids that are not active reviewers."""
    users = {u.id: u for u in db.session.execute(select(User).where(User.id.in_(user_ids))).scalars()}
    bad = [i for i in user_ids if i not in users or not users[i].active or not users[i].has_any_role(REVIEWER)]
    return users, bad


def _conflicted_organisations(user_ids: list[int]) -> set[tuple[int, int]]:
    """(reviewer id, organisation id) pairs where the reviewer has declared a conflict of interest."""
    if not user_ids:
        return set()
    return set(db.session.execute(
        select(Review.reviewer_id, Application.organisation_id).join(Application, Application.id ==
                                                                     Review.application_id)
        .where(Review.reviewer_id.in_(user_ids), Review.coi == COI_CONFLICT)).tuples())


def _who(user: User) -> str:
    return user.name or user.email


def _what(application: Application) -> str:
    return application.reference or f"#{application.id}"


def _assignment_problems(application: Application, users: list[User], conflicted: set[tuple[int, int]],
                         assigned: set[int]) -> list[str]:
    """Why these reviewers may not be assigned to this application (empty when they may). Those already assigned
    (``assigned``: reviewer ids, recused ones included) are left as they are, so they raise no problem."""
    if application.status not in ASSIGNABLE:
        return [_("Reviewers are assigned to eligible applications; %(ref)s is “%(status)s”.",
                  ref=_what(application), status=APPLICATION_WORKFLOW.label(application.status))]
    problems = []
    for user in users:
        if user.id in assigned:
            continue
        if user.organisation_id is not None and user.organisation_id == application.organisation_id \
                or user.id == application.created_by_id:
            problems.append(_("%(name)s belongs to the organisation of %(ref)s and may not review it.",
                              name=_who(user), ref=_what(application)))
        elif (user.id, application.organisation_id) in conflicted:
            problems.append(_("%(name)s has declared a conflict of interest with the organisation of %(ref)s.",
                              name=_who(user), ref=_what(application)))
    return problems


def _deadline_problem(call_id: int) -> str | None:
    if deadline_passed(call_id):
        return _("The review deadline of this call (%(date)s) has passed: no more reviewers are assigned.",
                 date=format_date(review_deadline(call_id)))
    return None


def _assign(application: Application, users: list[User], existing: set[int], actor: User) -> list[Review]:
    """Create the assignments (the checks are done), audit each one; the application moves to "under review"
    with its call's minimum number of reviewers. Returns the new reviews (the caller tells the reviewers)."""
    created = []
    for user in users:
        if user.id in existing:
            continue
        review = Review(application_id=application.id, reviewer_id=user.id, assigned_by_id=actor.id,
                        status="assigned", coi=COI_PENDING)
        db.session.add(review)
        db.session.flush()
        existing.add(user.id)
        created.append(review)
        audit.record("review.assign", review, actor=actor,
                     summary=f"{user.email} assigned to review application {application.id}",
                     changes={"application_id": [None, application.id], "reviewer_id": [None, user.id]})
    if created and application.status == "eligible" \
            and len(active_reviews(reviews_of(application))) >= min_reviewers(application.call_id):
        APPLICATION_WORKFLOW.fire(application, "start_review", actor)
    return created


def assign_reviewers(application: Application, user_ids: list[int], actor: User) -> list[Review]:
    """Assign reviewers (users with the reviewer role) to an eligible application or one under review.
    Reviewers already assigned are left as they are. Once the application has its call's minimum number of
    reviewers (recused ones do not count) it moves to "under review". Each new reviewer is told by e-mail
    (without any content of the application)."""
    fund_manager_only(actor)
    lock_application(application)
    if application.status not in ASSIGNABLE:
        raise Conflict(_("Reviewers are assigned to eligible applications; this one is “%(status)s”.",
                         status=APPLICATION_WORKFLOW.label(application.status)), code="not_assignable")
    late = _deadline_problem(application.call_id)
    if late:
        raise Conflict(late, fields={"user_ids": [late]}, code="review_deadline_passed")
    wanted = list(dict.fromkeys(user_ids))
    users, bad = _reviewers_by_id(wanted)
    if bad:
        message = _("Not a reviewer: %(ids)s.", ids=", ".join(str(i) for i in bad))
        raise FundError(message, fields={"user_ids": [message]})
    existing = {r.reviewer_id for r in reviews_of(application)}
    problems = _assignment_problems(application, [users[i] for i in wanted], _conflicted_organisations(wanted),
                                    existing)
    if problems:
        raise FundError(" ".join(problems), fields={"user_ids": problems}, code="not_assignable")
    for review in _assign(application, [users[i] for i in wanted], existing, actor):
        _mail_reviewer(review, users[review.reviewer_id])
    return reviews_of(application)


def screened_in(call: Call) -> list[Application]:
    """The call's applications that passed the screening and take reviewers: eligible or under review."""
    return list(db.session.execute(
        select(Application).where(Application.call_id == call.id, Application.status.in_(ASSIGNABLE))
        .order_by(Application.reference, Application.id)).scalars())


def assign_in_bulk(call: Call, user_ids: list[int], application_ids: list[int] | None, actor: User) -> dict:
    """Assign every reviewer named to every application named (or, with ``application_ids`` None, to every
    screened-in application of the call: eligible or under review), with the rules of the single assignment.
    All or nothing: one refused pair (a conflict of interest, a reviewer of the applicant organisation, an
    application not assignable or of another call, a user who is not a reviewer, the review deadline passed)
    refuses the whole, with every reason, and nothing is written. Pairs already assigned are left as they are.
    Each assignment is audited, with one summary event on the call; each reviewer gets one e-mail for all their
    new assignments. Returns {"created": [Review], "already": int, "applications": [Application]}."""
    fund_manager_only(actor)
    late = _deadline_problem(call.id)
    if late:
        raise Conflict(late, fields={"_schema": [late]}, code="review_deadline_passed")
    wanted = list(dict.fromkeys(user_ids))
    if not wanted:
        message = _("Choose at least one reviewer.")
        raise FundError(message, fields={"user_ids": [message]})
    users, bad = _reviewers_by_id(wanted)
    if bad:
        message = _("Not a reviewer: %(ids)s.", ids=", ".join(str(i) for i in bad))
        raise FundError(message, fields={"user_ids": [message]})
    if application_ids is None:
        ids = [a.id for a in screened_in(call)]
        if not ids:
            message = _("No application of this call is eligible or under review.")
            raise Conflict(message, fields={"application_ids": [message]}, code="nothing_to_assign")
    else:
        ids = sorted(set(application_ids))
        if not ids:
            message = _("Choose at least one application.")
            raise FundError(message, fields={"application_ids": [message]})
    # Lock the applications in id order (the order every bulk writer takes), then check them as locked.
    db.session.execute(select(Application.id).where(Application.id.in_(ids)).order_by(Application.id)
                       .with_for_update())
    applications = {a.id: a for a in db.session.execute(select(Application).where(Application.id.in_(ids))
                                                        .execution_options(populate_existing=True)).scalars()}
    foreign = [i for i in ids if i not in applications or applications[i].call_id != call.id]
    if foreign:
        message = _("Not an application of this call: %(ids)s.", ids=", ".join(map(str, foreign)))
        raise FundError(message, fields={"application_ids": [message]})
    existing: dict[int, set[int]] = {i: set() for i in ids}
    for app_id, reviewer_id in db.session.execute(select(Review.application_id, Review.reviewer_id)
                                                  .where(Review.application_id.in_(ids))).tuples():
        existing[app_id].add(reviewer_id)
    conflicted = _conflicted_organisations(wanted)
    chosen = [users[i] for i in wanted]
    problems: list[str] = []
    for i in ids:
        problems += _assignment_problems(applications[i], chosen, conflicted, existing[i])
    if problems:
        raise Conflict(_("Nothing has been assigned.") + " " + " ".join(problems),
                       fields={"_schema": problems}, code="not_assignable")
    already = sum(len(existing[i] & set(wanted)) for i in ids)
    created: list[Review] = []
    for i in ids:
        created += _assign(applications[i], chosen, existing[i], actor)
    if created:
        audit.record("call.bulk_assign", call, actor=actor,
                     summary=f"Call {call.id}: {len(created)} reviewer assignments in one action"
                             f" ({already} already in place)",
                     changes={"assignments": [None, [[r.application_id, r.reviewer_id] for r in created]]})
    for uid in wanted:
        mine = [r for r in created if r.reviewer_id == uid]
        if mine:
            _mail_reviewer_many(users[uid], mine)
    return {"created": created, "already": already, "applications": [applications[i] for i in ids]}


def _mail_reviewer(review: Review, reviewer: User) -> None:
    language = reviewer.language if reviewer.language in ("en", "fr") else "en"
    link = url_for("grants_review.review", review_id=review.id, _external=True)
    with force_locale(language):
        subject = _("A new application to review")
        body = render_template("grants/review/mail/assigned.txt", name=reviewer.name or reviewer.email, link=link)
    queue_mail(reviewer.email, subject, body=body, kind="grants:review_assigned")


def _mail_reviewer_many(reviewer: User, reviews: list[Review]) -> None:
    """One e-mail for all of a reviewer's new assignments of a bulk assignment."""
    if len(reviews) == 1:
        _mail_reviewer(reviews[0], reviewer)
        return
    language = reviewer.language if reviewer.language in ("en", "fr") else "en"
    link = url_for("grants_review.inbox", _external=True)
    with force_locale(language):
        subject = ngettext("%(num)d new application to review", "%(num)d new applications to review", len(reviews))
        body = render_template("grants/review/mail/assigned_many.txt", name=reviewer.name or reviewer.email,
                               link=link, count=len(reviews))
    queue_mail(reviewer.email, subject, body=body, kind="grants:review_assigned")
