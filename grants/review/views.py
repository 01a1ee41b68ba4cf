"""Portal pages of the selection (the ``grants_review`` blueprint): the fund's overview, the call dashboard (with
the review settings: minimum reviewers, review deadline), the screening queue and form, and reviewer assignment
(one application, or many of a call at once). The reviewer's pages are in :mod:`grants.review.reviewer_pages`,
the ranking and the Board's decisions in :mod:`grants.review.decision_pages`, on the same blueprint.

Plain HTML forms that work without JavaScript, parsed with marshmallow; forms are re-shown with the messages
beside the fields (422, or 409 when the fund cannot afford an approval). Permission is checked once per view.
"""

from __future__ import annotations

import functools
from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import func, select

from fund.accounting.figures import fund_position
from fund.db import db
from fund.errors import FundError
from fund.models import FUND_MANAGER, REVIEWER, Role, User
from fund.permissions import access, ensure_edit, ensure_view
from fund.views import refusal_errors
from grants.checklist import budget_totals
from grants.models import Application, Call
from grants.presenters import language
from grants.review import assignment as assigning
from grants.review import operations, ranking
from grants.review.labels import (
    COI_LABELS,
    ITEM_LABELS,
    OUTCOME_LABELS,
    RECOMMENDATION_LABELS,
    RESULT_LABELS,
    REVIEW_STATUS_LABELS,
    SANCTIONS_FIELDS,
)
from grants.review.models import COI_CONFLICT, SCREENING_ITEMS, Decision, Review, Screening
from grants.review.schemas import BulkAssignmentIn, ReviewersIn, ReviewSettingsIn, ScreeningIn
from grants.review.screening import facts
from grants.views import STAFF_READERS, flatten_errors
from grants.workflow import APPLICATION_WORKFLOW

bp = Blueprint("grants_review", __name__, url_prefix="/grants")


def selection_call(call_id: int) -> Call:
    """The call named in the path, as the selection pages show it: one the user may see, never a draft."""
    call = ensure_view(db.session.get(Call, call_id))
    if call.status == "draft":
        abort(404)
    return call


def application_page(rule: str, endpoint: str, page) -> None:
    """Register the page about one application that the fund's staff read at ``rule``: ``page(application)`` renders
    it, as the POST view of its form does when it shows the form again; the page's docstring says what it shows."""

    def view(application_id: int):
        return page(ensure_view(db.session.get(Application, application_id)))

    view.__name__, view.__doc__ = endpoint, page.__doc__
    bp.add_url_rule(rule, endpoint, access(*STAFF_READERS)(view))


def application_form(rule: str):
    """Register the decorated function as the POST view of the form on the page about one application at ``rule``
    (its endpoint is the function's name): the fund manager's, called with the application."""

    def decorator(handle):
        @functools.wraps(handle)
        def view(application_id: int):
            return handle(ensure_view(db.session.get(Application, application_id)))

        bp.add_url_rule(rule, handle.__name__, access(FUND_MANAGER)(view), methods=["POST"])
        return handle

    return decorator


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
    return _dashboard_page(selection_call(call_id))


@bp.route("/selection/calls/<int:call_id>/settings", methods=["POST"])
@access(FUND_MANAGER)
def call_settings(call_id: int):
    call = ensure_edit(selection_call(call_id))
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
    """The eligibility checklist of an application, with the facts and possible sanctions matches
    beside it."""

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


application_page("/applications/<int:application_id>/screening", "screening", _screening_page)


@application_form("/applications/<int:application_id>/screening")
def save_screening(application: Application):
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
        errors = refusal_errors(exc)
        application = db.session.get(Application, application.id)
        return _screening_page(application, form=form, errors=errors, status=409 if exc.status == 409 else 422)
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
    """The reviewers of an application, their declarations (conflicts with their reasons) and progress."""

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
        can_assign=current_user.has_any_role(FUND_MANAGER) and application.status in assigning.ASSIGNABLE)
    return html, status


application_page("/applications/<int:application_id>/reviewers", "assignment", _assignment_page)


@application_form("/applications/<int:application_id>/reviewers")
def assign(application: Application):
    try:
        data = ReviewersIn().load({"user_ids": [int(v) for v in request.form.getlist("user_ids") if v.isdigit()]})
        assigning.assign_reviewers(application, data["user_ids"], current_user)
    except ValidationError:
        return _assignment_page(application, {"user_ids": [_("Choose at least one reviewer.")]}, 422)
    except FundError as exc:
        if exc.status == 403:
            raise
        db.session.rollback()
        application = db.session.get(Application, application.id)
        return _assignment_page(application, {"user_ids": [exc.message]}, 409 if exc.status == 409 else 422)
    flash(_("The reviewers have been assigned and told by e-mail."), "success")
    return redirect(url_for("grants_review.assignment", application_id=application.id))


def _bulk_page(call: Call, *, form=None, errors: dict | None = None, status: int = 200):
    applications = assigning.screened_in(call)
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
    return _bulk_page(selection_call(call_id))


@bp.route("/selection/calls/<int:call_id>/assignments", methods=["POST"])
@access(FUND_MANAGER)
def assign_in_bulk(call_id: int):
    call = ensure_edit(selection_call(call_id))
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
        result = assigning.assign_in_bulk(call, data["user_ids"],
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
        errors = refusal_errors(exc, passes=(403, 404))
        return _bulk_page(selection_call(call_id), form=form, errors=errors, status=exc.status)
    created = len(result["created"])
    if created:
        flash(ngettext("%(num)d assignment made; the reviewers have been told by e-mail.",
                       "%(num)d assignments made; the reviewers have been told by e-mail.", created), "success")
    else:
        flash(_("Nothing to assign: every reviewer chosen is already assigned to these applications."), "success")
    return redirect(url_for("grants_review.bulk_assignment", call_id=call.id))
