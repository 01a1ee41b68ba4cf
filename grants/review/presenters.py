"""Plain data for the API, the decision sheet (HTML and PDF) and the CSV export, in the viewer's language."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select

from fund.accounting.figures import fund_position
from fund.db import db, utcnow
from fund.templating import datetime_text, money
from grants.models import Application, Call
from grants.presenters import language
from grants.review import operations
from grants.review.labels import DECISION_LABELS, ITEM_LABELS
from grants.review.models import COI_CONFLICT, COI_NONE, SCREENING_ITEMS, Decision, Review, Screening
from grants.review.ranking import RankRow, weighted_score
from grants.review.screening import ScreeningFacts
from grants.taxonomies import country_name
from grants.workflow import APPLICATION_WORKFLOW


def screening_dict(application: Application, screening: Screening | None, facts: ScreeningFacts) -> dict:
    items = []
    for code in SCREENING_ITEMS:
        row = screening.item(code) if screening else None
        suggestion = facts.suggestions.get(code)
        items.append({"code": code, "label": str(ITEM_LABELS[code]), "result": row.result if row else None,
                      "note": row.note if row else None, "suggested": suggestion.result if suggestion else None,
                      "suggestion_note": suggestion.note if suggestion else None})
    return {"application_id": application.id, "application_status": application.status,
            "outcome": screening.outcome if screening else None, "message": screening.message if screening else None,
            "items": items, "sanctions_list_imported": facts.list_imported,
            "sanctions_matches": [m.as_dict() for m in facts.matches],
            "updated_at": screening.updated_at if screening else None}


def assignment_dict(review: Review) -> dict:
    return {"id": review.id, "reviewer_id": review.reviewer_id, "reviewer_name": review.reviewer.name,
            "reviewer_email": review.reviewer.email, "status": review.status,
            "conflict_of_interest": review.coi, "conflict_reason": review.coi_reason,
            "declared_at": review.coi_declared_at, "submitted_at": review.submitted_at}


def assignments_dict(application: Application, reviews: list[Review]) -> dict:
    return {"application_id": application.id, "application_status": application.status,
            "min_reviewers": operations.min_reviewers(application.call_id),
            "reviewers": [assignment_dict(r) for r in reviews]}


def bulk_assignment_dict(call: Call, result: dict) -> dict:
    """The outcome of a bulk assignment: the assignments made, the pairs left as they were, and each
    application's status and number of active reviewers afterwards."""
    active: dict[int, int] = {}
    for app_id, coi in db.session.execute(
            select(Review.application_id, Review.coi)
            .where(Review.application_id.in_([a.id for a in result["applications"]]))).tuples():
        active[app_id] = active.get(app_id, 0) + (coi != COI_CONFLICT)
    return {"call_id": call.id,
            "created": [{"id": r.id, "application_id": r.application_id, "reviewer_id": r.reviewer_id}
                        for r in result["created"]],
            "already_assigned": result["already"],
            "applications": [{"application_id": a.id, "reference": a.reference, "application_status": a.status,
                              "reviewers": active.get(a.id, 0)} for a in result["applications"]]}


def review_dict(review: Review) -> dict:
    """A reviewer's own review. Before the declaration (and after a conflict) only what they need to judge a
    conflict: the organisation, its country and the call."""
    a = review.application
    lang = language()
    app = {"id": a.id, "reference": a.reference, "organisation": a.organisation.name,
           "country": country_name(a.organisation.country, lang), "call_id": a.call_id,
           "call_title": a.call.title(lang)}
    data = {"id": review.id, "application": app, "status": review.status, "conflict_of_interest": review.coi,
            "declared_at": review.coi_declared_at, "saved_at": review.saved_at, "submitted_at": review.submitted_at,
            "scores": None, "recommendation": None, "general_comment": None, "weighted_score": None,
            "missing": None}
    if review.coi == COI_NONE:
        criteria = list(a.call.criteria)
        app.update(project_title=a.project_title, summary=a.summary, requested_amount=a.requested_amount,
                   currency=a.currency)
        data.update(
            scores=[{"criterion_id": c.id, "name_en": c.name_en, "name_fr": c.name_fr, "weight": c.weight,
                     "score": (s.score if (s := review.score_for(c.id)) else None),
                     "comment": (s.comment if s else None)} for c in criteria],
            recommendation=review.recommendation, general_comment=review.general_comment,
            weighted_score=weighted_score(review, criteria),
            missing=sorted(operations.review_problems(review)) if not review.submitted else [],
        )
    return data


def ranking_row_dict(row: RankRow) -> dict:
    a = row.application
    return {"rank": row.rank, "application_id": a.id, "reference": a.reference, "organisation": a.organisation.name,
            "project_title": a.project_title, "requested_amount": a.requested_amount, "currency": a.currency,
            "status": a.status, "score": row.score, "reviewer_scores": row.reviewer_scores,
            "reviews_submitted": row.submitted, "reviewers_assigned": row.assigned,
            "reviewers_recused": row.recused, "disagreement": row.disagreement,
            "criteria": [{"criterion_id": c.criterion_id, "name_en": c.name_en, "name_fr": c.name_fr,
                          "weight": c.weight, "mean": c.mean, "low": c.low, "high": c.high,
                          "disagreement": c.disagreement} for c in row.criteria]}


def decision_dict(decision: Decision, application: Application) -> dict:
    return {"id": decision.id, "application_id": application.id, "application_status": application.status,
            "outcome": decision.outcome, "amount": decision.amount, "currency": decision.currency,
            "reason": decision.reason, "out_of_order_reason": decision.out_of_order_reason,
            "score": decision.score, "grant_id": decision.grant_id, "decided_at": decision.decided_at}


def _fmt(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def decision_sheet(call: Call, rows: list[RankRow], decisions: dict[int, Decision]) -> dict:
    """The Board's decision sheet for a call, as plain data (the PDF template gets nothing else)."""
    lang = language()
    position = fund_position()
    requested = sum((r.application.requested_amount for r in rows), Decimal("0.00"))
    approved = sum((d.amount for d in decisions.values() if d.outcome == "approved" and d.amount), Decimal("0.00"))
    lines = []
    for r in rows:
        a, d = r.application, decisions.get(r.application.id)
        lines.append({
            "rank": r.rank, "reference": a.reference or f"#{a.id}", "organisation": a.organisation.name,
            "country": country_name(a.organisation.country, lang), "project_title": a.project_title or "",
            "requested": money(a.requested_amount, a.currency), "score": _fmt(r.score),
            "reviews": r.submitted, "disagreement": r.disagreement, "status": APPLICATION_WORKFLOW.label(a.status),
            "decision": str(DECISION_LABELS.get(d.outcome, d.outcome)) if d else (
                _("%(decision)s (no Board decision recorded)", decision=DECISION_LABELS[a.status])
                if a.status in DECISION_LABELS
                else ""),
            "amount": money(d.amount, d.currency) if d and d.amount else "",
            "reason": (d.reason or d.out_of_order_reason or "") if d else "",
        })
    return {
        "lang": lang, "call_title": call.title(lang), "call_id": call.id,
        "generated_at": datetime_text(utcnow(), "long"),
        "envelope": money(call.envelope, call.currency), "requested": money(requested, call.currency),
        "approved": money(approved, call.currency), "available": money(position.available, "USD"),
        "lines": lines,
    }

