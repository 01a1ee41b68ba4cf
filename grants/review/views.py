"""Portal pages of the selection: call dashboard (with the review settings: minimum reviewers, review deadline),
screening queue and form, reviewer assignment (one application, or many of a call at once), the reviewer's inbox
and review form, the ranking table (and its CSV), the Board's decision form (recorded only once confirmed: the
organisation is told at once) and decision sheet (a portal page and a PDF sharing one body).

Plain HTML forms that work without JavaScript, parsed with marshmallow; forms are re-shown with the messages
beside the fields (422, or 409 when the fund cannot afford an approval). Permission is checked once per view.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import func, select

from fund.accounting.figures import fund_position
from fund.db import db
from fund.errors import FundError
from fund.models import FUND_MANAGER, REVIEWER, Role, User
from fund.pdf import render_pdf
from fund.permissions import access, ensure_edit, ensure_view
from grants.checklist import budget_totals
from grants.downloads import document_response
from grants.models import Application, Call, Document
from grants.presenters import documents_of, language
from grants.review import operations, ranking
from grants.review.labels import (
    COI_LABELS,
    DECISION_LABELS,
    ITEM_LABELS,
    OUTCOME_LABELS,
    RECOMMENDATION_LABELS,
    RESULT_LABELS,
    REVIEW_STATUS_LABELS,
    SANCTIONS_FIELDS,
    SCORE_LABELS,
)
from grants.review.models import COI_CONFLICT, COI_PENDING, SCREENING_ITEMS, Decision, Review, Screening
from grants.review.presenters import decision_sheet
from grants.review.schemas import (
    BulkAssignmentIn,
    ConflictIn,
    DecisionIn,
    RankingQuery,
    ReviewersIn,
    ReviewIn,
    ReviewSettingsIn,
    ScreeningIn,
)
from grants.review.screening import facts
from grants.taxonomies import AGE_BANDS, SEXES
from grants.views import STAFF_READERS, flatten_errors, number
from grants.workflow import APPLICATION_WORKFLOW

bp = Blueprint("grants_review", __name__, url_prefix="/grants")


def _call(call_id: int) -> Call:
    call = ensure_view(db.session.get(Call, call_id))
    if call.status == "draft":
        abort(404)
    return call


def _fund_errors(exc: FundError) -> dict:
    if exc.fields:
        return {k: v if isinstance(v, list) else [str(v)] for k, v in exc.fields.items()}
    return {"_schema": [exc.message]}


# The fund's overview --------------------------------------------------------------------------------------------

@bp.route("/selection")
@access(*STAFF_READERS)
def selection():
    """Every call past its draft, with the number of applications at each step of the selection."""
    calls = db.session.execute(select(Call).where(Call.status != "draft")
                               .order_by(Call.opens_at.desc(), Call.id.desc())).scalars().all()
    counts: dict[int, dict[str, int]] = {}
    for call_id, status, n in db.session.execute(
            select(Application.call_id, Application.status, func.count()).group_by(Application.call_id,
                                                                                   Application.status)):
        counts.setdefault(call_id, {})[status] = n
    return render_template("grants/review/selection.html", calls=calls, counts=counts, lang=language(),
                           workflow=APPLICATION_WORKFLOW)


def _dashboard_page(call: Call, errors: dict | None = None, status: int = 200, form=None):
    by_status = dict(db.session.execute(
        select(Application.status, func.count()).where(Application.call_id == call.id)
        .group_by(Application.status)).all())
    requested = db.session.execute(
        select(func.coalesce(func.sum(Application.requested_amount), 0))
        .where(Application.call_id == call.id, Application.status.not_in(("draft", "withdrawn")))).scalar_one()
    shortlisted = db.session.execute(
        select(func.coalesce(func.sum(Application.requested_amount), 0))
        .where(Application.call_id == call.id, Application.status.in_(ranking.REVIEWED_STATES[:4]))).scalar_one()
    approved = db.session.execute(
        select(func.coalesce(func.sum(Decision.amount), 0)).join(Application, Application.id == Decision.application_id)
        .where(Decision.call_id == call.id, Decision.outcome == "approved", Application.status == "approved")
    ).scalar_one()
    conflicts = db.session.execute(
        select(func.count()).select_from(Review).join(Application, Application.id == Review.application_id)
        .where(Application.call_id == call.id, Review.coi == "conflict")).scalar_one()
    pending_reviews = db.session.execute(
        select(func.count()).select_from(Review).join(Application, Application.id == Review.application_id)
        .where(Application.call_id == call.id, Review.status.in_(("assigned", "draft")))).scalar_one()
    html = render_template(
        "grants/review/call_dashboard.html", call=call, by_status=by_status, workflow=APPLICATION_WORKFLOW,
        requested=Decimal(requested), shortlisted=Decimal(shortlisted), approved=Decimal(approved),
        position=fund_position(), min_reviewers=operations.min_reviewers(call.id), conflicts=conflicts,
        pending_reviews=pending_reviews, lang=language(), errors=errors or {}, reserve=operations.reserve_list(call),
        can_manage=current_user.has_any_role(FUND_MANAGER), review_deadline=operations.review_deadline(call.id),
        deadline_passed=operations.deadline_passed(call.id), form=form)
    return html, status


@bp.route("/selection/calls/<int:call_id>")
@access(*STAFF_READERS)
def call_dashboard(call_id: int):
    """A call's selection at a glance: applications by status; money requested against the call's envelope
    and the fund's available balance; reviews pending and conflicts declared."""
    return _dashboard_page(_call(call_id))


@bp.route("/selection/calls/<int:call_id>/settings", methods=["POST"])
@access(FUND_MANAGER)
def call_settings(call_id: int):
    call = ensure_edit(_call(call_id))
    raw = {k: v for k, v in request.form.to_dict().items() if k in ("min_reviewers", "review_deadline", "csrf_token")}
    raw["review_deadline"] = (raw.get("review_deadline") or "").strip() or None
    try:
        data = ReviewSettingsIn().load(raw)
    except ValidationError as exc:
        errors = {}
        if "min_reviewers" in exc.messages:
            errors["min_reviewers"] = [_("Give a whole number from 1 to 10.")]
        if "review_deadline" in exc.messages:
            errors["review_deadline"] = [_("Give a date such as 2027-03-31, or leave it empty.")]
        return _dashboard_page(call, errors, 422, form=request.form)
    operations.save_review_settings(call, {"min_reviewers": data["min_reviewers"],
                                           "review_deadline": data["review_deadline"]}, current_user)
    flash(ngettext("Each application of this call now needs at least %(num)d reviewer.",
                   "Each application of this call now needs at least %(num)d reviewers.", data["min_reviewers"]),
          "success")
    return redirect(url_for("grants_review.call_dashboard", call_id=call.id))


# Screening ----------------------------------------------------------------------------------------------------

@bp.route("/selection/screening")
@access(*STAFF_READERS)
def screening_queue():
    """Submitted applications waiting for their eligibility screening, oldest first."""
    call_id = request.args.get("call_id", type=int)
    query = select(Application).where(Application.status == "submitted").order_by(Application.submitted_at,
                                                                                    Application.id)
    if call_id:
        query = query.where(Application.call_id == call_id)
    applications = db.session.execute(query).scalars().all()
    screenings = {s.application_id: s for s in db.session.execute(
        select(Screening).where(Screening.application_id.in_([a.id for a in applications]))).scalars()}
    calls = db.session.execute(select(Call).where(Call.status != "draft").order_by(Call.opens_at.desc())
                               ).scalars().all()
    return render_template("grants/review/screening_queue.html", applications=applications, screenings=screenings,
                           calls=calls, call_id=call_id, lang=language())


def _screening_page(application: Application, *, form=None, errors: dict | None = None, status: int = 200):
    screening = operations.screening_of(application)
    found = facts(application)
    values = {}
    for code in SCREENING_ITEMS:
        if form is not None:
            values[code] = {"result": form.get(f"{code}-result"), "note": form.get(f"{code}-note", "")}
        elif screening and screening.item(code):
            row = screening.item(code)
            values[code] = {"result": row.result, "note": row.note or ""}
        else:
            s = found.suggestions.get(code)
            values[code] = {"result": s.result if s else None, "note": ""}
    html = render_template(
        "grants/review/screening.html", a=application, screening=screening, facts=found, values=values,
        items=SCREENING_ITEMS, item_labels=ITEM_LABELS, results=RESULT_LABELS, outcomes=OUTCOME_LABELS,
        sanctions_fields=SANCTIONS_FIELDS, errors=errors or {}, form=form, lang=language(),
        workflow=APPLICATION_WORKFLOW, can_screen=current_user.has_any_role(FUND_MANAGER)
        and application.status == "submitted", totals=budget_totals(application))
    return html, status


@bp.route("/applications/<int:application_id>/screening")
@access(*STAFF_READERS)
def screening(application_id: int):
    application = ensure_view(db.session.get(Application, application_id))
    return _screening_page(application)


@bp.route("/applications/<int:application_id>/screening", methods=["POST"])
@access(FUND_MANAGER)
def save_screening(application_id: int):
    application = ensure_view(db.session.get(Application, application_id))
    form = request.form
    raw = {"items": {code: {"result": form.get(f"{code}-result") or None, "note": form.get(f"{code}-note") or None}
                     for code in SCREENING_ITEMS},
           "outcome": form.get("outcome") or None, "message": form.get("message") or None}
    raw["items"] = {code: {k: v for k, v in item.items() if v is not None} for code, item in raw["items"].items()
                    if item["result"]}
    try:
        data = ScreeningIn().load(raw)
        operations.save_screening(application, data, current_user)
    except ValidationError as exc:
        errors = {}
        for key, msgs in flatten_errors(exc.messages).items():
            # items-<code>-result -> <code>-result, the names of the inputs on the page
            errors[key.removeprefix("items-")] = msgs
        return _screening_page(application, form=form, errors=errors, status=422)
    except FundError as exc:
        if exc.status == 403:
            raise
        db.session.rollback()
        application = db.session.get(Application, application_id)
        return _screening_page(application, form=form, errors=_fund_errors(exc),
                               status=409 if exc.status == 409 else 422)
    outcome = data.get("outcome")
    flash({None: _("The screening has been saved."),
           "eligible": _("The application has been declared eligible."),
           "ineligible": _("The application has been declared ineligible; the organisation has been told."),
           "returned": _("The application has been returned to the organisation for information.")}[outcome],
          "success")
    if outcome == "eligible":
        return redirect(url_for("grants_review.assignment", application_id=application.id))
    if outcome:
        return redirect(url_for("grants_review.screening_queue", call_id=application.call_id))
    return redirect(url_for("grants_review.screening", application_id=application.id))


# Reviewer assignment ------------------------------------------------------------------------------------------

def _reviewers() -> list[User]:
    return list(db.session.execute(
        select(User).join(User.roles).where(Role.name == REVIEWER, User.active.is_(True)).order_by(User.name,
                                                                                                    User.email)
    ).scalars())


def _assignment_page(application: Application, errors: dict | None = None, status: int = 200):
    reviews = operations.reviews_of(application)
    assigned = {r.reviewer_id for r in reviews}
    html = render_template(
        "grants/review/assignment.html", a=application, reviews=reviews, errors=errors or {},
        candidates=[u for u in _reviewers() if u.id not in assigned], lang=language(),
        min_reviewers=operations.min_reviewers(application.call_id),
        active=len(operations.active_reviews(reviews)), workflow=APPLICATION_WORKFLOW, coi_labels=COI_LABELS,
        status_labels=REVIEW_STATUS_LABELS, recommendations=RECOMMENDATION_LABELS,
        review_deadline=operations.review_deadline(application.call_id),
        deadline_passed=operations.deadline_passed(application.call_id),
        chosen={int(v) for v in request.form.getlist("user_ids") if v.isdigit()} if request.method == "POST" else set(),
        can_assign=current_user.has_any_role(FUND_MANAGER) and application.status in operations.ASSIGNABLE)
    return html, status


@bp.route("/applications/<int:application_id>/reviewers")
@access(*STAFF_READERS)
def assignment(application_id: int):
    """The reviewers of an application, their declarations (conflicts with their reasons) and progress."""
    application = ensure_view(db.session.get(Application, application_id))
    return _assignment_page(application)


@bp.route("/applications/<int:application_id>/reviewers", methods=["POST"])
@access(FUND_MANAGER)
def assign(application_id: int):
    application = ensure_view(db.session.get(Application, application_id))
    try:
        data = ReviewersIn().load({"user_ids": [int(v) for v in request.form.getlist("user_ids") if v.isdigit()]})
        operations.assign_reviewers(application, data["user_ids"], current_user)
    except ValidationError:
        return _assignment_page(application, {"user_ids": [_("Choose at least one reviewer.")]}, 422)
    except FundError as exc:
        if exc.status == 403:
            raise
        db.session.rollback()
        application = db.session.get(Application, application_id)
        return _assignment_page(application, {"user_ids": [exc.message]}, 409 if exc.status == 409 else 422)
    flash(_("The reviewers have been assigned and told by e-mail."), "success")
    return redirect(url_for("grants_review.assignment", application_id=application.id))


def _bulk_page(call: Call, *, form=None, errors: dict | None = None, status: int = 200):
    applications = operations.screened_in(call)
    counts: dict[int, list[int]] = {a.id: [] for a in applications}
    for app_id, reviewer_id, coi in db.session.execute(
            select(Review.application_id, Review.reviewer_id, Review.coi)
            .where(Review.application_id.in_(list(counts)))).tuples():
        if coi != COI_CONFLICT:
            counts[app_id].append(reviewer_id)
    chosen_users = {int(v) for v in form.getlist("user_ids") if v.isdigit()} if form else set()
    chosen_apps = {int(v) for v in form.getlist("application_ids") if v.isdigit()} if form else set()
    html = render_template(
        "grants/review/bulk_assignment.html", call=call, applications=applications, counts=counts,
        reviewers=_reviewers(), errors=errors or {}, lang=language(), workflow=APPLICATION_WORKFLOW,
        min_reviewers=operations.min_reviewers(call.id), review_deadline=operations.review_deadline(call.id),
        deadline_passed=operations.deadline_passed(call.id), chosen_users=chosen_users, chosen_apps=chosen_apps,
        scope=(form.get("scope") if form else None) or "all",
        can_assign=current_user.has_any_role(FUND_MANAGER))
    return html, status


@bp.route("/selection/calls/<int:call_id>/assignments")
@access(*STAFF_READERS)
def bulk_assignment(call_id: int):
    """Assign reviewers to many applications of a call at once: the reviewers ticked, to the applications
    ticked or to every screened-in application of the call."""
    return _bulk_page(_call(call_id))


@bp.route("/selection/calls/<int:call_id>/assignments", methods=["POST"])
@access(FUND_MANAGER)
def assign_in_bulk(call_id: int):
    call = ensure_edit(_call(call_id))
    form = request.form
    scope = form.get("scope")
    raw: dict = {"user_ids": [int(v) for v in form.getlist("user_ids") if v.isdigit()]}
    if scope == "all":
        raw["all_screened_in"] = True
    else:
        raw["application_ids"] = [int(v) for v in form.getlist("application_ids") if v.isdigit()]
    try:
        if scope not in ("all", "chosen"):
            raise ValidationError({"scope": [_("Choose which applications.")]})
        data = BulkAssignmentIn().load(raw)
        result = operations.assign_in_bulk(call, data["user_ids"],
                                           None if data["all_screened_in"] else data["application_ids"], current_user)
    except ValidationError as exc:
        errors = {}
        for key, msgs in flatten_errors(exc.messages).items():
            name = key.split("-")[0]
            if name == "user_ids":
                msgs = [_("Choose at least one reviewer.")]
            elif name == "application_ids":
                msgs = [_("Choose at least one application.")]
            errors[name] = msgs
        return _bulk_page(call, form=form, errors=errors, status=422)
    except FundError as exc:
        if exc.status in (403, 404):
            raise
        db.session.rollback()
        return _bulk_page(_call(call_id), form=form, errors=_fund_errors(exc), status=exc.status)
    created = len(result["created"])
    if created:
        flash(ngettext("%(num)d assignment made; the reviewers have been told by e-mail.",
                       "%(num)d assignments made; the reviewers have been told by e-mail.", created), "success")
    else:
        flash(_("Nothing to assign: every reviewer chosen is already assigned to these applications."), "success")
    return redirect(url_for("grants_review.bulk_assignment", call_id=call.id))


# The reviewer's side --------------------------------------------------------------------------------------------

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
        if exc.status in (403, 404):
            raise
        db.session.rollback()
        return _review_page(_own(review_id), form=request.form, errors=_fund_errors(exc), status=exc.status)
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
    review = _own(review_id)
    if review.coi == COI_PENDING:
        abort(403)
    ensure_edit(review)
    submit = request.form.get("action") == "submit"
    try:
        data = ReviewIn().load(_review_form_data(review))
        operations.save_review(review, data, current_user)
        if submit:
            operations.submit_review(review, current_user)
    except ValidationError as exc:
        return _review_page(review, form=request.form, errors=_review_errors(exc.messages), status=422)
    except FundError as exc:
        if exc.status in (403, 404):
            raise
        db.session.rollback()
        return _review_page(_own(review_id), form=request.form, errors=_fund_errors(exc), status=exc.status)
    flash(_("Your review has been submitted. Thank you.") if submit else _("Your review has been saved."),
          "success")
    return redirect(url_for("grants_review.review", review_id=review.id))


@bp.route("/reviews/<int:review_id>/submit", methods=["POST"])
@access(REVIEWER)
def submit_review(review_id: int):
    """Submit what has been saved (the review form's "Submit" button saves and submits at once)."""
    review = _own(review_id)
    if review.coi == COI_PENDING:
        abort(403)
    ensure_edit(review)
    try:
        operations.submit_review(review, current_user)
    except FundError as exc:
        if exc.status in (403, 404):
            raise
        db.session.rollback()
        return _review_page(_own(review_id), errors=_fund_errors(exc), status=exc.status)
    flash(_("Your review has been submitted. Thank you."), "success")
    return redirect(url_for("grants_review.review", review_id=review.id))


@bp.route("/reviewer/documents/<int:document_id>")
@access(REVIEWER)
def review_document(document_id: int):
    """A document of an application the reviewer reviews (after declaring no conflict); audited."""
    doc = ensure_view(db.session.get(Document, document_id))
    return document_response(doc)


# Ranking, decisions and the decision sheet ---------------------------------------------------------------------

def _ranking_args() -> dict:
    try:
        return RankingQuery().load(request.args.to_dict())
    except ValidationError:
        return RankingQuery().load({})


@bp.route("/selection/calls/<int:call_id>/ranking")
@access(*STAFF_READERS)
def ranking_table(call_id: int):
    """The ranking: sortable and filterable through the query string (no JavaScript), disagreements flagged."""
    call = _call(call_id)
    args = _ranking_args()
    rows = ranking.filter_and_sort(ranking.call_ranking(call), status=args["status"],
                                   disagreement=args["disagreement"], min_score=args["min_score"], q=args["q"],
                                   sort=args["sort"], direction=args["direction"])
    decisions = _decisions([r.application.id for r in rows])
    return render_template("grants/review/ranking.html", call=call, rows=rows, args=args, lang=language(),
                           workflow=APPLICATION_WORKFLOW, decisions=decisions, decision_labels=DECISION_LABELS,
                           criteria=list(call.criteria))


def _decisions(application_ids: list[int]) -> dict[int, Decision]:
    """The decision in force per application (the latest)."""
    found: dict[int, Decision] = {}
    if application_ids:
        for d in db.session.execute(select(Decision).where(Decision.application_id.in_(application_ids))
                                    .order_by(Decision.id)).scalars():
            found[d.application_id] = d
    return found


def _cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.route("/selection/calls/<int:call_id>/ranking.csv")
@access(*STAFF_READERS)
def ranking_csv(call_id: int):
    """The ranking as CSV (UTF-8), with the same filters and order as the table. No reviewer is named."""
    call = _call(call_id)
    args = _ranking_args()
    rows = ranking.filter_and_sort(ranking.call_ranking(call), status=args["status"],
                                   disagreement=args["disagreement"], min_score=args["min_score"], q=args["q"],
                                   sort=args["sort"], direction=args["direction"])
    decisions = _decisions([r.application.id for r in rows])
    criteria = list(call.criteria)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["rank", "reference", "organisation", "country", "project_title", "requested_amount", "currency",
                     "score", *[f"criterion_{c.position}_mean ({c.weight}%)" for c in criteria],
                     "reviews_submitted", "reviewers_assigned", "reviewers_recused", "disagreement", "status",
                     "decision", "amount_approved"])
    for r in rows:
        a, d = r.application, decisions.get(r.application.id)
        writer.writerow([_cell(x) for x in (
            r.rank or "", a.reference or "", a.organisation.name, a.organisation.country, a.project_title or "",
            a.requested_amount, a.currency, r.score if r.score is not None else "",
            *[c.mean if c.mean is not None else "" for c in r.criteria], r.submitted, r.assigned, r.recused,
            "yes" if r.disagreement else "no", a.status, d.outcome if d else "", d.amount if d and d.amount else "")])
    filename = f"ranking-call-{call.id}.csv"
    return Response("\ufeff" + buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "private, no-store"})


def _sheet_context(call: Call) -> dict:
    rows = ranking.call_ranking(call)
    return decision_sheet(call, rows, _decisions([r.application.id for r in rows]))


@bp.route("/selection/calls/<int:call_id>/decisions")
@access(*STAFF_READERS)
def decision_sheet_page(call_id: int):
    """The decision sheet for the Board's meeting, as a printable page."""
    call = _call(call_id)
    return render_template("grants/review/decision_sheet.html", **_sheet_context(call))


@bp.route("/selection/calls/<int:call_id>/decisions.pdf")
@access(*STAFF_READERS)
def decision_sheet_pdf(call_id: int):
    call = _call(call_id)
    pdf = render_pdf("grants/review/pdf/decision_sheet.html", _sheet_context(call))
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="decision-sheet-call-{call.id}.pdf"',
        "Cache-Control": "private, no-store"})


def _decision_page(application: Application, *, form=None, errors: dict | None = None, status: int = 200):
    row = ranking.rows_for([application], list(application.call.criteria))[0]
    reserve = operations.reserve_list(application.call) if application.status == "reserve" else []
    ahead = operations.better_ranked_reserve(application) if application.status == "reserve" else []
    reviews = [r for r in operations.reviews_of(application) if r.submitted]
    html = render_template(
        "grants/review/decision.html", a=application, row=row, reserve=reserve, ahead=ahead, form=form,
        errors=errors or {}, lang=language(), workflow=APPLICATION_WORKFLOW, decision_labels=DECISION_LABELS,
        recommendations=RECOMMENDATION_LABELS, reviews=reviews, position=fund_position(),
        problems=operations.reviews_complete(application) if application.status == "under_review" else [],
        decisions=db.session.execute(select(Decision).where(Decision.application_id == application.id)
                                     .order_by(Decision.id)).scalars().all(),
        can_decide=current_user.has_any_role(FUND_MANAGER) and application.status in operations.DECIDABLE)
    return html, status


@bp.route("/applications/<int:application_id>/decision")
@access(*STAFF_READERS)
def decision(application_id: int):
    application = ensure_view(db.session.get(Application, application_id))
    return _decision_page(application)


@bp.route("/applications/<int:application_id>/decision", methods=["POST"])
@access(FUND_MANAGER)
def decide(application_id: int):
    application = ensure_view(db.session.get(Application, application_id))
    raw = {"outcome": request.form.get("outcome") or None, "amount": number(request.form.get("amount") or None),
           "reason": request.form.get("reason") or None}
    # The organisation is told at once: the decision is recorded only with the box "I confirm" ticked.
    unconfirmed = {} if request.form.get("confirm") == "yes" else {
        "confirm": [_("Tick the box to confirm the Board's decision before it is recorded and the organisation "
                      "told.")]}
    try:
        data = DecisionIn().load({k: v for k, v in raw.items() if v is not None})
        if unconfirmed:
            raise ValidationError({})
        decision_ = operations.decide(application, data, current_user)
    except ValidationError as exc:
        return _decision_page(application, form=request.form,
                              errors={**flatten_errors(exc.messages), **unconfirmed}, status=422)
    except FundError as exc:
        if exc.status in (403, 404):
            raise
        db.session.rollback()  # nothing of a refused decision stays written
        application = db.session.get(Application, application_id)
        return _decision_page(application, form=request.form, errors=_fund_errors(exc), status=exc.status)
    flash(_("The decision has been recorded (%(outcome)s); the organisation has been told.",
            outcome=DECISION_LABELS[decision_.outcome]), "success")
    return redirect(url_for("grants_review.ranking_table", call_id=application.call_id))
