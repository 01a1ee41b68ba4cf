"""JSON API of the selection: screening, reviewer assignment, the reviewer's own reviews (declaration, scores,
submission), the ranking of a call, and the Board's decisions.

The object rule is checked before the body is validated (:func:`fund.openapi.action`; a reviewer's own review by
its ``guard``, ``own_review``), so another reviewer's review, or an application a reviewer may not read, is always
a 403/404, never a 422.
"""

from __future__ import annotations

import functools

from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import defaultload, lazyload

from fund.db import db
from fund.errors import FundError
from fund.listing import list_page, list_rows
from fund.models import ADMIN, AUDITOR, FUND_MANAGER, REVIEWER
from fund.openapi import action
from fund.permissions import access, ensure_edit, ensure_view
from fund.schemas import paged
from grants.models import Application, Call
from grants.review import assignment, operations, presenters, ranking, schemas
from grants.review.models import COI_PENDING, Review
from grants.review.screening import facts

blp = Blueprint("grants_review_api", __name__, url_prefix="/api/v1",
                description="Screening, reviews with conflict-of-interest declarations, Board decisions")

RANKING_READERS = (FUND_MANAGER, ADMIN, AUDITOR)


def own_review(*, scoring: bool = False):
    """Load the review named by ``review_id`` and check it before the body is validated: another reviewer's
    review or a recused one is a 404; scoring before the declaration is a 403."""

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            review = ensure_view(db.session.get(Review, kwargs["review_id"]))
            if review.reviewer_id != current_user.id:
                raise FundError(_("This is not your review."), status=404, code="not_found")
            if scoring and review.coi == COI_PENDING:
                raise FundError(_("Declare whether you have a conflict of interest first."), status=403,
                                code="declaration_required")
            if scoring:
                ensure_edit(review)
            return fn(*args, **kwargs)

        return wrapper

    return decorator


# Screening ----------------------------------------------------------------------------------------------------

@action(blp, "/applications/<int:application_id>/screening", roles=(FUND_MANAGER,), model=Application,
        arg="application_id", edit=False, body=schemas.ScreeningIn, response=schemas.ScreeningOut)
def screen_application(data, application_id):
    """Record the eligibility checklist (all seven items: ``pass``, ``fail`` or ``needs_info``, with a note) and
    optionally the outcome: ``eligible``, ``ineligible`` or ``returned`` (the last two with a ``message`` to
    the organisation). Possible sanctions matches are returned; passing that item then needs a note."""
    application = db.session.get(Application, application_id)  # permission checked by @action
    screening = operations.save_screening(application, data, current_user)
    return presenters.screening_dict(application, screening, facts(application))


@blp.route("/applications/<int:application_id>/screening")
@access(*RANKING_READERS)
@blp.response(200, schemas.ScreeningOut)
def get_screening(application_id):
    """The eligibility checklist of an application as recorded so far (items without a result yet are
    ``null``), with the facts and possible sanctions matches the screening shows."""
    application = ensure_view(db.session.get(Application, application_id))
    return presenters.screening_dict(application, operations.screening_of(application), facts(application))


# Reviewers ----------------------------------------------------------------------------------------------------

@action(blp, "/applications/<int:application_id>/reviewers", roles=(FUND_MANAGER,), model=Application,
        arg="application_id", edit=False, body=schemas.ReviewersIn, response=schemas.AssignmentsOut)
def assign_reviewers(data, application_id):
    """Assign reviewers (``user_ids`` of users with the reviewer role; those already assigned are kept). With
    the call's minimum number of reviewers the application moves to "under review"."""
    application = db.session.get(Application, application_id)  # permission checked by @action
    reviews = assignment.assign_reviewers(application, data["user_ids"], current_user)
    return presenters.assignments_dict(application, reviews)


def _settings_dict(call: Call) -> dict:
    return {"call_id": call.id, "min_reviewers": operations.min_reviewers(call.id),
            "review_deadline": operations.review_deadline(call.id),
            "deadline_passed": operations.deadline_passed(call.id)}


@blp.route("/calls/<int:call_id>/review-settings")
@access(*RANKING_READERS)
@blp.response(200, schemas.ReviewSettingsOut)
def get_review_settings(call_id):
    """A call's review settings: the minimum number of reviewers per application (default 2) and the review
    deadline, the last day reviewers may be assigned (null: none)."""
    return _settings_dict(ensure_view(db.session.get(Call, call_id)))


@action(blp, "/calls/<int:call_id>/review-settings", roles=(FUND_MANAGER,), model=Call, arg="call_id", edit=False,
        body=schemas.ReviewSettingsApiIn, response=schemas.ReviewSettingsOut, methods=("PUT",))
def put_review_settings(data, call_id):
    """Replace a call's review settings (``review_deadline`` absent or null: no deadline). Audited when something
    changes. After the deadline, assigning reviewers (one by one or in bulk) is refused with 409."""
    call = db.session.get(Call, call_id)  # permission checked by @action
    operations.save_review_settings(call, data, current_user)
    return _settings_dict(call)


@action(blp, "/calls/<int:call_id>/assignments", roles=(FUND_MANAGER,), model=Call, arg="call_id", edit=False,
        body=schemas.BulkAssignmentIn, response=schemas.BulkAssignmentOut)
def assign_in_bulk(data, call_id):
    """Assign reviewers (``user_ids``) to several applications of the call in one action: the
    ``application_ids`` named, or with ``all_screened_in: true`` every application of the call that is eligible
    or under review. The rules of the single assignment apply to every pair; all or nothing: 409 when one pair
    is refused (a conflict of interest declared with the organisation, a reviewer of the applicant
    organisation, an application not eligible or under review, the call's review deadline passed), with every
    reason in ``fields._schema``; 422 for a user who is not a reviewer or an application of another call.
    Pairs already assigned are left as they are (``already_assigned``); each new assignment is audited."""
    call = db.session.get(Call, call_id)  # permission checked by @action
    result = assignment.assign_in_bulk(call, data["user_ids"],
                                       None if data["all_screened_in"] else data["application_ids"], current_user)
    return presenters.bulk_assignment_dict(call, result)


@blp.route("/reviews")
@access(REVIEWER)
@blp.arguments(schemas.ReviewQuery, location="query")
@blp.response(200, paged(schemas.ReviewOut))
def list_reviews(args):
    """The caller's own review assignments. Application content appears once no conflict is declared."""
    query = (select(Review).where(Review.reviewer_id == current_user.id)
             .options(lazyload(Review.reviewer),  # the caller; the items show neither the budget nor beneficiaries
                      defaultload(Review.application).lazyload(Application.budget_lines),
                      defaultload(Review.application).lazyload(Application.beneficiaries)))
    return list_page(query, args, filters={"status": Review.status},
                     present=lambda reviews: map(presenters.review_dict, reviews))


@blp.route("/reviews/<int:review_id>")
@access(REVIEWER)
@own_review()
@blp.response(200, schemas.ReviewOut)
def get_review(review_id):
    """One of the caller's reviews; the application's content appears once no conflict is declared (its full text
    and documents: ``GET /applications/{application_id}``)."""
    return presenters.review_dict(db.session.get(Review, review_id))  # permission checked by @own_review


@action(blp, "/reviews/<int:review_id>/conflict", roles=(REVIEWER,), guard=own_review(), body=schemas.ConflictIn,
        response=schemas.ReviewOut)
def declare_conflict(data, review_id):
    """Declare ``{"conflict": false}`` (the application opens) or ``{"conflict": true, "reason": "..."}``
    (recused: the application, its documents and the scoring stay closed)."""
    review = db.session.get(Review, review_id)  # permission checked by @own_review
    operations.declare_conflict(review, data["conflict"], data.get("reason"), current_user)
    return presenters.review_dict(review)


@blp.route("/reviews/<int:review_id>", methods=["PUT"])
@access(REVIEWER)
@own_review(scoring=True)
@blp.arguments(schemas.ReviewIn)
@blp.response(200, schemas.ReviewOut)
def save_review(data, review_id):
    """Save scores (``{criterion_id: 1..5}``), ``comments`` (``{criterion_id: text}``), the ``recommendation``
    (fund, fund_with_changes, reserve, do_not_fund) and a ``general_comment``; until the review is submitted."""
    review = db.session.get(Review, review_id)  # permission checked by @own_review
    operations.save_review(review, data, current_user)
    return presenters.review_dict(review)


@action(blp, "/reviews/<int:review_id>/submit", roles=(REVIEWER,), guard=own_review(scoring=True),
        response=schemas.ReviewOut)
def submit_review(review_id):
    """Submit the review (every criterion scored and commented, a recommendation): it is then locked."""
    review = db.session.get(Review, review_id)  # permission checked by @own_review
    operations.submit_review(review, current_user)
    return presenters.review_dict(review)


# Ranking and decisions ----------------------------------------------------------------------------------------

@blp.route("/calls/<int:call_id>/ranking")
@access(*RANKING_READERS)
@blp.arguments(schemas.RankingListQuery, location="query")
@blp.response(200, schemas.RankingOut)
def call_ranking(args, call_id):
    """The applications of a call ranked by weighted score (mean of the submitted reviews' weighted scores),
    with criterion means and disagreement flags; ``status``, ``disagreement``, ``min_score`` and ``q`` filter as in
    the portal's ranking table, ``sort`` orders as in every list (``sort=-score``; ranks are kept)."""
    call = ensure_view(db.session.get(Call, call_id))
    rows = ranking.filter_and_sort(ranking.call_ranking(call), status=args["status"],
                                   disagreement=args["disagreement"], min_score=args["min_score"], q=args["q"])
    return {"call_id": call.id, **list_rows(rows, args, present=lambda page: map(presenters.ranking_row_dict, page))}


@action(blp, "/applications/<int:application_id>/decision", roles=(FUND_MANAGER,), model=Application,
        arg="application_id", edit=False, idempotent=True, body=schemas.DecisionIn, response=schemas.DecisionOut,
        status=201)
def decide(data, application_id):
    """Record the Board's decision: ``approved`` with ``amount`` (creates the grant "pending signature" and
    commits the money; 409 when it exceeds the available balance), ``reserve``, or ``rejected`` with
    ``reason``. Approving a reserve-list application before a better-ranked one needs ``reason``."""
    application = db.session.get(Application, application_id)  # permission checked by @action
    decision = operations.decide(application, data, current_user)
    return presenters.decision_dict(decision, application)
