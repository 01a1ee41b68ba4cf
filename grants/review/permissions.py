"""Who may see reviews, and the reviewer's access to an application's content.

A reviewer sees their own assignments only. Until they have declared that they have no conflict of interest,
the application's content, its documents and the scoring stay closed; a declared conflict closes them for
good (the review itself becomes invisible to them: 404). Fund managers see every review and declaration;
admins and auditors see everything (fund.permissions) and auditors change nothing. Applicants never see
reviews.
"""

from __future__ import annotations

from sqlalchemy import select

from fund.db import db
from fund.models import FUND_MANAGER, REVIEWER, User
from fund.permissions import rule
from grants.review.models import COI_CONFLICT, COI_NONE, Review


def reviewer_may_read(user: User, application_id: int | None) -> bool:
    """The user is a reviewer assigned to the application who has declared no conflict of interest."""
    if application_id is None or not user.has_any_role(REVIEWER):
        return False
    return db.session.execute(
        select(Review.id).where(Review.application_id == application_id, Review.reviewer_id == user.id,
                                Review.coi == COI_NONE)
    ).first() is not None


def _view_review(user: User, review: Review) -> bool:
    if user.has_any_role(FUND_MANAGER):
        return True
    return review.reviewer_id == user.id and user.has_any_role(REVIEWER) and review.coi != COI_CONFLICT


def _edit_review(user: User, review: Review) -> bool:
    return review.reviewer_id == user.id and user.has_any_role(REVIEWER) and review.coi == COI_NONE


rule(Review, view=_view_review, edit=_edit_review)
