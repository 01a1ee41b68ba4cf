"""Portal pages of the reviewer: the inbox, the declaration of a conflict of interest, the review form (scores,
comments, recommendation), its submission, and the application's documents once no conflict is declared.

Registered on the ``grants_review`` blueprint (:data:`grants.review.views.bp`).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from fund.db import db
from fund.errors import FundError
from fund.models import REVIEWER
from fund.permissions import access, ensure_edit, ensure_view
from fund.views import refusal_errors
from grants.checklist import budget_totals
from grants.downloads import document_response
from grants.models import Document
from grants.presenters import documents_of, language
from grants.review import operations, ranking
from grants.review.labels import COI_LABELS, RECOMMENDATION_LABELS, REVIEW_STATUS_LABELS, SCORE_LABELS
from grants.review.models import COI_PENDING, Review
from grants.review.schemas import ConflictIn, ReviewIn
from grants.review.views import bp
from grants.taxonomies import AGE_BANDS, SEXES
from grants.views import flatten_errors


@bp.route("/reviews")
@access(REVIEWER)
def inbox():
    """The reviewer's assignments, and only theirs."""
    reviews = db.session.execute(select(Review).where(Review.reviewer_id == current_user.id)
                                 .order_by(Review.submitted_at.is_not(None), Review.id.desc())).scalars().all()
    return render_template("grants/review/inbox.html", reviews=reviews, lang=language(), coi_labels=COI_LABELS,
                           status_labels=REVIEW_STATUS_LABELS)


def _own(review_id: int) -> Review:
    """The caller's review; another reviewer's, or one they declared a conflict on, is a 404."""
    review = ensure_view(db.session.get(Review, review_id))
    if review.reviewer_id != current_user.id:
        abort(404)
    return review


def _scoring(review_id: int) -> Review:
    """The caller's review, to score: 403 before their declaration, or once it may no longer change."""
    review = _own(review_id)
    if review.coi == COI_PENDING:
        abort(403)
    return ensure_edit(review)


def _review_page(review: Review, *, form=None, errors: dict | None = None, status: int = 200):
    a = review.application
    if review.coi == COI_PENDING:
        html = render_template("grants/review/declare.html", review=review, a=a, lang=language(),
                               errors=errors or {}, form=form)
        return html, status
    ensure_view(a)  # the application's own rule: an assigned reviewer without a conflict
    criteria = list(a.call.criteria)
    others = []
    if review.submitted:  # the others' scores, never before one's own are submitted
        rows = ranking.rows_for([a], criteria)[0]
        others = [{"criterion": c, "scores": c.scores} for c in rows.criteria]
    html = render_template(
        "grants/review/review.html", review=review, a=a, criteria=criteria, lang=language(), errors=errors or {},
        form=form, docs=[d for d in documents_of(a)], totals=budget_totals(a), sexes=SEXES, age_bands=AGE_BANDS,
        cells={(b.sex, b.age_band): b.count for b in a.beneficiaries}, recommendations=RECOMMENDATION_LABELS,
        weighted=ranking.weighted_score(review, criteria), others=others,
        editable=not review.submitted and a.status == "under_review", score_labels=SCORE_LABELS,
        score_options=[(n, f"{n} – {label}") for n, label in SCORE_LABELS.items()],
    )
    return html, status


@bp.route("/reviews/<int:review_id>")
@access(REVIEWER)
def review(review_id: int):
    """Before anything of the application is shown: the declaration of conflicts of interest. Then the
    application, its documents and the scoring form."""
    return _review_page(_own(review_id))


@bp.route("/reviews/<int:review_id>/conflict", methods=["POST"])
@access(REVIEWER)
def declare(review_id: int):
    review = _own(review_id)
    choice = request.form.get("conflict")
    raw = {"conflict": {"yes": True, "no": False}.get(choice), "reason": request.form.get("reason") or None}
    try:
        if raw["conflict"] is None:
            raise ValidationError({"conflict": [_("Say whether you have a conflict of interest.")]})
        data = ConflictIn().load(raw)
        operations.declare_conflict(review, data["conflict"], data.get("reason"), current_user)
    except ValidationError as exc:
        return _review_page(review, form=request.form, errors=flatten_errors(exc.messages), status=422)
    except FundError as exc:
        errors = refusal_errors(exc, passes=(403, 404))
        return _review_page(_own(review_id), form=request.form, errors=errors, status=exc.status)
    if data["conflict"]:
        flash(_("Thank you. You are recused from this application; the fund will assign another reviewer."),
              "success")
        return redirect(url_for("grants_review.inbox"))
    flash(_("Thank you. The application is open for your review."), "success")
    return redirect(url_for("grants_review.review", review_id=review.id))


def _review_form_data(review: Review) -> dict:
    criteria = review.application.call.criteria
    data: dict = {"scores": {}, "comments": {}}
    for c in criteria:
        score = (request.form.get(f"score-{c.id}") or "").strip()
        data["scores"][str(c.id)] = int(score) if score.isdigit() else (None if not score else score)
        data["comments"][str(c.id)] = request.form.get(f"comment-{c.id}", "")
    data["recommendation"] = request.form.get("recommendation") or None
    data["general_comment"] = request.form.get("general_comment", "")
    return data


def _review_errors(messages: dict) -> dict:
    errors = {}
    for key, msgs in flatten_errors(messages).items():
        # scores-<id>-value -> score-<id>, the names of the inputs on the page
        parts = key.split("-")
        if parts[0] in ("scores", "comments") and len(parts) >= 2:
            errors[f"{parts[0][:-1]}-{parts[1]}"] = msgs
        else:
            errors[key] = msgs
    return errors


@bp.route("/reviews/<int:review_id>", methods=["POST"])
@access(REVIEWER)
def save_review(review_id: int):
    review = _scoring(review_id)
    submit = request.form.get("action") == "submit"
    try:
        data = ReviewIn().load(_review_form_data(review))
        operations.save_review(review, data, current_user)
        if submit:
            operations.submit_review(review, current_user)
    except ValidationError as exc:
        return _review_page(review, form=request.form, errors=_review_errors(exc.messages), status=422)
    except FundError as exc:
        errors = refusal_errors(exc, passes=(403, 404))
        return _review_page(_own(review_id), form=request.form, errors=errors, status=exc.status)
    flash(_("Your review has been submitted. Thank you.") if submit else _("Your review has been saved."),
          "success")
    return redirect(url_for("grants_review.review", review_id=review.id))


@bp.route("/reviews/<int:review_id>/submit", methods=["POST"])
@access(REVIEWER)
def submit_review(review_id: int):
    """Submit what has been saved (the review form's "Submit" button saves and submits at once)."""
    review = _scoring(review_id)
    try:
        operations.submit_review(review, current_user)
    except FundError as exc:
        errors = refusal_errors(exc, passes=(403, 404))
        return _review_page(_own(review_id), errors=errors, status=exc.status)
    flash(_("Your review has been submitted. Thank you."), "success")
    return redirect(url_for("grants_review.review", review_id=review.id))


@bp.route("/reviewer/documents/<int:document_id>")
@access(REVIEWER)
def review_document(document_id: int):
    """A document of an application the reviewer reviews (after declaring no conflict); audited."""
    doc = ensure_view(db.session.get(Document, document_id))
    return document_response(doc)
