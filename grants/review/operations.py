"""Every write of the selection: the review settings, screening, conflict-of-interest declarations, scores, and the
Board's decisions (reviewer assignment: :mod:`grants.review.assignment`).

Operations take objects and validated data, check the domain rules, write, audit in the same transaction and
flush; they never commit. A refused operation raises FundError/Conflict; the request boundary then rolls the
whole transaction back, so nothing is half-written. Status changes go through grants.workflow (via
``grants.operations.transition``, which locks the application row).

Approval commits money: the fund lock is taken first (``fund.accounting.ledger.lock_fund``), then the
application is locked, moved to "approved", and ``grants.awards.operations.create_grant`` creates the grant and
posts the commitment (``fund.accounting.ledger.commit_grant`` refuses with 409 what exceeds the available
balance). The check and the posting happen under the same lock, so concurrent approvals can never together exceed
the balance.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import render_template, url_for
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import select

from fund import audit
from fund.accounting.ledger import lock_fund
from fund.db import db, utcnow
from fund.errors import Conflict, FundError
from fund.mail import queue_mail
from fund.models import FUND_MANAGER, User
from grants import operations as grant_ops
from grants.models import Application, Call
from grants.presenters import language as viewer_language
from grants.review import sanctions
from grants.review.models import (
    COI_CONFLICT,
    COI_NONE,
    COI_PENDING,
    SCREENING_ITEMS,
    Decision,
    Review,
    ReviewScore,
    ReviewSettings,
    Screening,
    ScreeningItem,
)
from grants.review.ranking import application_score, call_ranking
from grants.review.workflow import REVIEW_WORKFLOW
from grants.workflow import APPLICATION_WORKFLOW

DEFAULT_MIN_REVIEWERS = 2


def fund_manager_only(actor: User) -> None:
    """The selection's decisions are a fund manager's: anyone else is refused (403)."""
    if actor is None or not actor.has_any_role(FUND_MANAGER):
        raise FundError(_("You are not allowed to do this."), status=403, code="forbidden")


def lock_application(application: Application) -> Application:
    """Re-read the application under a row lock (PostgreSQL; SQLite transactions are already exclusive)."""
    db.session.execute(select(Application.id).where(Application.id == application.id).with_for_update())
    db.session.refresh(application)
    return application


# Per-call settings --------------------------------------------------------------------------------------------

def min_reviewers(call_id: int) -> int:
    settings = db.session.get(ReviewSettings, call_id)
    return settings.min_reviewers if settings else DEFAULT_MIN_REVIEWERS


def set_min_reviewers(call: Call, value: int, actor: User) -> ReviewSettings:
    return save_review_settings(call, {"min_reviewers": value}, actor)


def save_review_settings(call: Call, data: dict, actor: User) -> ReviewSettings:
    """The call's minimum number of reviewers per application and, when ``review_deadline`` is in ``data``, its
    review deadline (the last day reviewers are assigned; None removes it). Audited when something changes."""
    fund_manager_only(actor)
    settings = db.session.get(ReviewSettings, call.id)
    if settings is None:
        settings = ReviewSettings(call_id=call.id, min_reviewers=DEFAULT_MIN_REVIEWERS)
        db.session.add(settings)
    changes: dict = {}
    for key in ("min_reviewers", "review_deadline"):
        if key in data and getattr(settings, key) != data[key]:
            changes[key] = [getattr(settings, key), data[key]]
            setattr(settings, key, data[key])
    db.session.flush()
    if changes:
        deadline = settings.review_deadline.isoformat() if settings.review_deadline else "none"
        audit.record("call.review_settings", call, actor=actor,
                     summary=f"Call {call.id}: at least {settings.min_reviewers} reviewers per application, "
                             f"review deadline {deadline}",
                     changes={k: [v.isoformat() if isinstance(v, dt.date) else v for v in pair]
                              for k, pair in changes.items()})
    return settings


# Screening ----------------------------------------------------------------------------------------------------

def screening_of(application: Application) -> Screening | None:
    return db.session.execute(select(Screening).where(Screening.application_id == application.id)).scalar()


def _screening_guard(wanted: str):
    """Guards of the screening transitions: the decision agrees with the recorded checklist."""

    def guard(application, actor, data) -> list[str]:
        screening = screening_of(application)
        if screening is None:
            return []
        results = [i.result for i in screening.items]
        if wanted == "eligible" and (len(results) < len(SCREENING_ITEMS) or any(r != "pass" for r in results)):
            return [_("Every item of the eligibility checklist must pass to declare the application eligible.")]
        if wanted == "ineligible" and "fail" not in results:
            return [_("An application is declared ineligible when at least one item of the checklist fails.")]
        return []

    return guard


APPLICATION_WORKFLOW.add_guard("declare_eligible", _screening_guard("eligible"))
APPLICATION_WORKFLOW.add_guard("declare_ineligible", _screening_guard("ineligible"))


def save_screening(application: Application, data: dict, actor: User) -> Screening:
    """Record the checklist (every item: pass, fail or needs information, with a note) and, when ``outcome``
    is given, decide: eligible (every item passes), ineligible (an item fails; the message says why) or
    returned for information (an item needs information; the message says what is needed, and goes to the
    organisation). A possible sanctions match must be looked at: passing that item then needs a note."""
    fund_manager_only(actor)
    lock_application(application)
    if application.status != "submitted":
        raise Conflict(_("Only a submitted application is screened; this one is “%(status)s”.",
                         status=APPLICATION_WORKFLOW.label(application.status)), code="not_screenable")
    items: dict = data["items"]
    outcome, message = data.get("outcome"), (data.get("message") or "").strip() or None
    matches = sanctions.find_matches(sanctions.organisation_names(application.organisation))
    errors: dict[str, list[str]] = {}
    sanction_item = items["not_sanctioned"]
    if matches and sanction_item["result"] == "pass" and not (sanction_item.get("note") or "").strip():
        errors["not_sanctioned-note"] = [_("The organisation's names resemble listed names: say why they are not "
                                           "the same before passing this item.")]
    results = [items[code]["result"] for code in SCREENING_ITEMS]
    if outcome == "eligible" and any(r != "pass" for r in results):
        errors["outcome"] = [_("Every item must pass to declare the application eligible.")]
    elif outcome == "ineligible" and "fail" not in results:
        errors["outcome"] = [_("Mark the item that fails to declare the application ineligible.")]
    elif outcome == "returned" and "needs_info" not in results:
        errors["outcome"] = [_("Mark the item that needs information to return the application.")]
    if outcome in ("ineligible", "returned") and not message:
        errors["message"] = [_("Write the message to the organisation.")]
    if errors:
        raise FundError(_("The screening cannot be recorded."), fields=errors)

    screening = screening_of(application)
    if screening is None:
        screening = Screening(application_id=application.id)
        db.session.add(screening)
        db.session.flush()
    changes: dict = {}
    for code in SCREENING_ITEMS:
        new = items[code]
        note = (new.get("note") or "").strip() or None
        row = screening.item(code)
        if row is None:
            screening.items.append(ScreeningItem(code=code, result=new["result"], note=note))
            changes[code] = [None, [new["result"], note]]
        elif (row.result, row.note) != (new["result"], note):
            changes[code] = [[row.result, row.note], [new["result"], note]]
            row.result, row.note = new["result"], note
    screening.screened_by_id = actor.id
    screening.updated_at = utcnow()
    if matches:
        changes["sanctions_matches"] = [None, [f"{m.listed_name} ({m.reference_number})" for m in matches]]
    db.session.flush()
    audit.record("screening.save", screening, actor=actor,
                 summary=f"Screening of application {application.id} recorded"
                         + (f" ({len(matches)} possible sanctions matches shown)" if matches else ""),
                 changes=changes)
    if outcome:
        screening.outcome, screening.message, screening.decided_at = outcome, message, utcnow()
        db.session.flush()
        if outcome == "eligible":
            APPLICATION_WORKFLOW.fire(application, "declare_eligible", actor)
        elif outcome == "ineligible":
            APPLICATION_WORKFLOW.fire(application, "declare_ineligible", actor, message=message)
            _mail_organisation(application, "ineligible", actor, message=message)
        else:
            grant_ops.return_application(application, message, actor)
    return screening


# Reviews of an application and the review deadline ------------------------------------------------------------

def reviews_of(application: Application) -> list[Review]:
    return list(db.session.execute(
        select(Review).where(Review.application_id == application.id).order_by(Review.id)).scalars())


def active_reviews(reviews: list[Review]) -> list[Review]:
    """Assignments that count towards the minimum: not recused."""
    return [r for r in reviews if r.coi != COI_CONFLICT]


def review_deadline(call_id: int) -> dt.date | None:
    settings = db.session.get(ReviewSettings, call_id)
    return settings.review_deadline if settings else None


def deadline_passed(call_id: int, today: dt.date | None = None) -> bool:
    """The call's review deadline (the last day of assignments) is behind us."""
    deadline = review_deadline(call_id)
    return deadline is not None and (today or utcnow().date()) > deadline


# Conflict of interest and scores ------------------------------------------------------------------------------

def _own(review: Review, actor: User) -> None:
    if review.reviewer_id != actor.id:
        raise FundError(_("This is not your review."), status=403, code="forbidden")


def declare_conflict(review: Review, conflict: bool, reason: str | None, actor: User) -> Review:
    """The reviewer declares no conflict of interest (the application opens to them) or a conflict, with its
    reason (they are recused: content, documents and scoring stay closed). A reviewer who declared no conflict
    may still declare one later, until they submit. Every declaration is audited."""
    _own(review, actor)
    reason = (reason or "").strip() or None
    if review.submitted:
        raise Conflict(_("The review has been submitted."), code="review_submitted")
    if review.coi == COI_CONFLICT or (review.coi == COI_NONE and not conflict):
        raise Conflict(_("You have already made this declaration."), code="already_declared")
    if conflict and not reason:
        raise FundError(_("Say what the conflict of interest is."),
                        fields={"reason": [_("Say what the conflict of interest is.")]})
    if conflict:
        review.coi, review.coi_reason, review.coi_declared_at = COI_CONFLICT, reason, utcnow()
        # The transition's audit event ("review.declare_conflict") records the reason as its message.
        REVIEW_WORKFLOW.fire(review, "declare_conflict", actor, message=reason)
    else:
        review.coi, review.coi_declared_at = COI_NONE, utcnow()
        db.session.flush()
        audit.record("review.declare_no_conflict", review, actor=actor,
                     summary=f"Reviewer {actor.email} declared no conflict of interest on application "
                             f"{review.application_id}", changes={"coi": [COI_PENDING, COI_NONE]})
    return review


def _ensure_scorable(review: Review, actor: User) -> None:
    _own(review, actor)
    if review.coi != COI_NONE:
        raise FundError(_("Declare whether you have a conflict of interest first."), status=403,
                        code="declaration_required")
    if review.submitted:
        raise Conflict(_("The review has been submitted and can no longer be changed."), code="review_submitted")
    if review.application.status != "under_review":
        raise Conflict(_("The application is no longer under review."), code="not_under_review")


def save_review(review: Review, data: dict, actor: User) -> dict:
    """Save scores (1 to 5) and comments per criterion of the call, the recommendation and a general comment;
    any of them, as often as needed until the review is submitted."""
    _ensure_scorable(review, actor)
    criteria = {c.id: c for c in review.application.call.criteria}
    scores, comments = data.get("scores") or {}, data.get("comments") or {}
    unknown = sorted({*scores, *comments} - set(criteria))
    if unknown:
        message = _("Not a criterion of this call: %(ids)s.", ids=", ".join(map(str, unknown)))
        raise FundError(message, fields={"scores": [message]})
    changes: dict = {}
    for cid in sorted({*scores, *comments}):
        row = review.score_for(cid)
        if row is None:
            row = ReviewScore(criterion_id=cid)
            review.scores.append(row)
        before = [row.score, row.comment]
        if cid in scores:
            row.score = scores[cid]
        if cid in comments:
            row.comment = (comments[cid] or "").strip() or None
        if before != [row.score, row.comment]:
            changes[f"criterion {cid}"] = [before, [row.score, row.comment]]
    for key in ("recommendation", "general_comment"):
        if key in data:
            value = (data[key].strip() or None) if isinstance(data[key], str) else data[key]
            if getattr(review, key) != value:
                changes[key] = [getattr(review, key), value]
                setattr(review, key, value)
    if changes:
        if review.status == "assigned":
            REVIEW_WORKFLOW.fire(review, "start", actor)
        review.saved_at = utcnow()
        db.session.flush()
        audit.record("review.save", review, actor=actor,
                     summary=f"Review {review.id} of application {review.application_id} saved", changes=changes)
    return changes


def review_problems(review: Review) -> dict[str, list[str]]:
    """What the review still needs before it can be submitted, by form field."""
    problems: dict[str, list[str]] = {}
    lang = viewer_language()
    for c in review.application.call.criteria:
        row = review.score_for(c.id)
        if row is None or row.score is None:
            problems[f"score-{c.id}"] = [_("Score “%(criterion)s” from 1 to 5.", criterion=c.name(lang))]
        if row is None or not row.comment:
            problems[f"comment-{c.id}"] = [_("Write a comment on “%(criterion)s”.", criterion=c.name(lang))]
    if not review.recommendation:
        problems["recommendation"] = [_("Choose a recommendation.")]
    return problems


def submit_review(review: Review, actor: User) -> Review:
    """Submit: every criterion scored and commented, a recommendation chosen. The review is then locked."""
    _ensure_scorable(review, actor)
    problems = review_problems(review)
    if problems:
        raise FundError(_("The review is not complete."), fields=problems, code="review_incomplete")
    review.submitted_at = utcnow()
    REVIEW_WORKFLOW.fire(review, "submit", actor)
    return review


# Board decisions ----------------------------------------------------------------------------------------------

DECIDABLE = ("under_review", "recommended", "not_recommended", "reserve")


def latest_decision(application_id: int) -> Decision | None:
    return db.session.execute(select(Decision).where(Decision.application_id == application_id)
                              .order_by(Decision.id.desc()).limit(1)).scalar()


def reviews_complete(application: Application) -> list[str]:
    """Why the reviews of an application under review are not complete yet (empty when they are)."""
    reviews = active_reviews(reviews_of(application))
    needed = min_reviewers(application.call_id)
    submitted = [r for r in reviews if r.submitted]
    problems = []
    if len(submitted) < needed:
        problems.append(ngettext("%(num)d of the %(needed)d reviews needed has been submitted.",
                                 "%(num)d of the %(needed)d reviews needed have been submitted.", len(submitted),
                                 needed=needed))
    pending = len(reviews) - len(submitted)
    if pending and len(submitted) >= needed:
        problems.append(ngettext("%(num)d assigned reviewer has not submitted their review.",
                                 "%(num)d assigned reviewers have not submitted their review.", pending))
    return problems


def better_ranked_reserve(application: Application) -> list[Application]:
    """Reserve-list applications of the same call ranked above this one (and so to be funded first)."""
    ranking = [r for r in call_ranking(application.call) if r.application.status == "reserve"]
    better = []
    for row in ranking:
        if row.application.id == application.id:
            return better
        better.append(row.application)
    return []


def reserve_list(call: Call) -> list:
    """The call's reserve list in rank order (rows of the ranking)."""
    return [r for r in call_ranking(call) if r.application.status == "reserve"]


def _check_amount(application: Application, amount: Decimal | None) -> Decimal:
    call = application.call
    if amount is None:
        raise FundError(_("Give the amount approved."), fields={"amount": [_("Give the amount approved.")]})
    problems = []
    if amount > application.requested_amount:
        problems.append(_("At most the amount requested, %(amount)s %(currency)s.",
                          amount=application.requested_amount, currency=application.currency))
    if amount < call.min_grant or amount > call.max_grant:
        problems.append(_("The call allows %(min)s to %(max)s %(currency)s.", min=call.min_grant,
                          max=call.max_grant, currency=call.currency))
    if application.currency != "USD":
        problems.append(_("Grants are committed in US dollars."))
    if problems:
        raise FundError(" ".join(problems), fields={"amount": problems})
    return amount


def decide(application: Application, data: dict, actor: User) -> Decision:
    """Record the Board's decision: ``approved`` with an amount (at most the amount requested, within the call's
    limits; the grant is created and the money committed, or 409 when it exceeds the available balance),
    ``reserve`` (the ranked reserve list) or ``rejected`` with a reason. An application still under review
    needs its reviews complete. A reserve-list application approved ahead of a better-ranked one needs the
    reason why (``reason``). The organisation is told by e-mail, without reviewer names or scores."""
    from grants.awards.operations import create_grant

    fund_manager_only(actor)
    outcome, reason = data["outcome"], (data.get("reason") or "").strip() or None
    if outcome == "approved":
        lock_fund()  # first, as every operation guarding the fund's money does
    lock_application(application)
    if application.status not in DECIDABLE:
        raise Conflict(_("The Board decides on applications under review or on the reserve list; this one is "
                         "“%(status)s”.", status=APPLICATION_WORKFLOW.label(application.status)),
                       code="not_decidable")
    if application.status == "under_review":
        problems = reviews_complete(application)
        if problems:
            raise Conflict(" ".join(problems), code="reviews_incomplete")
    decision = Decision(application_id=application.id, call_id=application.call_id, outcome=outcome,
                        currency=application.currency, decided_by_id=actor.id, decided_at=utcnow(),
                        score=application_score(application))
    out_of_order = None
    if outcome == "approved":
        decision.amount = _check_amount(application, data.get("amount"))
        if application.status == "reserve":
            ahead = better_ranked_reserve(application)
            if ahead and not reason:
                refs = ", ".join(a.reference or str(a.id) for a in ahead)
                message = _("Better-ranked applications are on the reserve list (%(refs)s): record why this one is "
                            "approved first.", refs=refs)
                raise FundError(message, fields={"reason": [message]}, code="reserve_order")
            if ahead:
                out_of_order = reason
                decision.out_of_order_reason = reason
        if application.status == "not_recommended":
            raise Conflict(_("An application that was not recommended cannot be approved."), code="not_approvable")
        if application.status == "under_review":
            APPLICATION_WORKFLOW.fire(application, "recommend", actor)
        APPLICATION_WORKFLOW.fire(application, "approve", actor)
        try:
            grant = create_grant(application, decision.amount, actor=actor)
        except Conflict as exc:
            raise Conflict(exc.message, fields={"amount": list(exc.fields.get("amount_usd") or [exc.message])},
                           code="insufficient_funds") from exc
        decision.grant_id = grant.id
    elif outcome == "reserve":
        decision.reason = reason  # optional, for the record
        APPLICATION_WORKFLOW.fire(application, "reserve", actor)
    else:
        if not reason:
            raise FundError(_("Give the reason for the rejection."),
                            fields={"reason": [_("Give the reason for the rejection.")]})
        decision.reason = reason
        if application.status == "under_review":
            APPLICATION_WORKFLOW.fire(application, "not_recommend", actor)
        APPLICATION_WORKFLOW.fire(application, "reject", actor, message=reason)
    db.session.add(decision)
    db.session.flush()
    audit.record(f"decision.{outcome}", decision, actor=actor,
                 summary=f"Board decision on application {application.id}: {outcome}"
                         + (f", USD {decision.amount}, grant {decision.grant_id}" if outcome == "approved" else ""),
                 changes={"outcome": [None, outcome], "amount": [None, decision.amount],
                          "reason": [None, decision.reason], "out_of_order_reason": [None, out_of_order],
                          "score": [None, decision.score], "grant_id": [None, decision.grant_id]})
    _mail_organisation(application, f"decision_{outcome}", actor, decision=decision)
    return decision


# Mail to the organisation -------------------------------------------------------------------------------------

def _mail_organisation(application: Application, template: str, actor: User, **ctx) -> None:
    """Tell the organisation's members (and its contact address) in their language. Never names a reviewer
    or a score."""
    members = db.session.execute(
        select(User).where(User.organisation_id == application.organisation_id, User.active.is_(True))
    ).scalars().all()
    recipients = {(u.email, u.language if u.language in ("en", "fr") else "en") for u in members}
    contact = application.organisation.contact_email
    if contact and contact not in {email for email, _lang in recipients}:
        recipients.add((contact, "en"))
    link = url_for("grants.applicant_home", _external=True)
    ref = application.reference or str(application.id)
    for email, language in sorted(recipients):
        with force_locale(language):
            subject = {
                "ineligible": _("Application %(ref)s: eligibility", ref=ref),
                "decision_approved": _("Application %(ref)s approved", ref=ref),
                "decision_reserve": _("Application %(ref)s placed on the reserve list", ref=ref),
                "decision_rejected": _("Application %(ref)s not selected", ref=ref),
            }[template]
            body = render_template(f"grants/review/mail/{template}.txt", application=application, ref=ref,
                                   title=application.call.title(language), link=link, **ctx)
        queue_mail(email, subject, body=body, kind=f"grants:{template}")
