"""Portal pages of the ranking and the Board's decisions: the ranking table (and its CSV), the decision sheet
(a portal page and a PDF sharing one body) and the decision form, recorded only once confirmed (the organisation
is told at once; 409 when the fund cannot afford an approval).

Registered on the ``grants_review`` blueprint (:data:`grants.review.views.bp`).
"""

from __future__ import annotations

import csv
import io

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from fund.accounting.figures import fund_position
from fund.db import db
from fund.errors import FundError
from fund.models import FUND_MANAGER
from fund.pdf import render_pdf
from fund.permissions import access
from fund.views import refusal_errors
from grants.models import Application, Call
from grants.presenters import language
from grants.review import operations, ranking
from grants.review.labels import DECISION_LABELS, RECOMMENDATION_LABELS
from grants.review.models import Decision
from grants.review.presenters import decision_sheet
from grants.review.schemas import DecisionIn, RankingQuery
from grants.review.views import application_form, application_page, bp, selection_call
from grants.views import STAFF_READERS, flatten_errors, number
from grants.workflow import APPLICATION_WORKFLOW


def _ranked(call: Call) -> tuple[dict, list, dict[int, Decision]]:
    """The call's ranking as the query string filters and orders it (an invalid query string: the defaults), with
    the query's arguments and the decision in force per application."""
    try:
        args = RankingQuery().load(request.args.to_dict())
    except ValidationError:
        args = RankingQuery().load({})
    rows = ranking.filter_and_sort(ranking.call_ranking(call), status=args["status"],
                                   disagreement=args["disagreement"], min_score=args["min_score"], q=args["q"],
                                   sort=args["sort"], direction=args["direction"])
    return args, rows, _decisions([r.application.id for r in rows])


@bp.route("/selection/calls/<int:call_id>/ranking")
@access(*STAFF_READERS)
def ranking_table(call_id: int):
    """The ranking: sortable and filterable through the query string (no JavaScript), disagreements flagged."""
    call = selection_call(call_id)
    args, rows, decisions = _ranked(call)
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
    call = selection_call(call_id)
    args, rows, decisions = _ranked(call)
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
    call = selection_call(call_id)
    return render_template("grants/review/decision_sheet.html", **_sheet_context(call))


@bp.route("/selection/calls/<int:call_id>/decisions.pdf")
@access(*STAFF_READERS)
def decision_sheet_pdf(call_id: int):
    call = selection_call(call_id)
    pdf = render_pdf("grants/review/pdf/decision_sheet.html", _sheet_context(call))
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="decision-sheet-call-{call.id}.pdf"',
        "Cache-Control": "private, no-store"})


def _decision_page(application: Application, *, form=None, errors: dict | None = None, status: int = 200):
    """The Board's decision form for an application: its ranking row, the submitted reviews, the
    reserve list and the fund's position, with the decisions recorded so far."""

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


application_page("/applications/<int:application_id>/decision", "decision", _decision_page)


@application_form("/applications/<int:application_id>/decision")
def decide(application: Application):
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
        errors = refusal_errors(exc, passes=(403, 404))  # nothing of a refused decision stays written
        application = db.session.get(Application, application.id)
        return _decision_page(application, form=request.form, errors=errors, status=exc.status)
    flash(_("The decision has been recorded (%(outcome)s); the organisation has been told.",
            outcome=DECISION_LABELS[decision_.outcome]), "success")
    return redirect(url_for("grants_review.ranking_table", call_id=application.call_id))
