"""Reviewer assignment, the conflict-of-interest declaration before any content, scoring and submission.

Reviewers see only their assignments; before declaring they see the organisation and the call only; a conflict
recuses them and fund managers see it with its reason; every declaration is audited; scores are 1 to 5 with a
comment per criterion, then submitted and locked; nobody sees the others' scores before submitting their own."""

from __future__ import annotations

from sqlalchemy import select

from fund.audit import AuditEvent
from fund.db import db
from fund.mail import OutboxMessage
from grants.models import Application
from grants.review.models import Review
from tests.grants.review import factories as rf

TITLE = "Safe return for survivors of forced labour"  # tests.grants.factories.complete_answers()


def test_assignment_needs_reviewers_and_the_calls_minimum(app, api_as, login_as, make_user, within):
    app_id, call_id = within(lambda: (lambda a: (a.id, a.call_id))(rf.eligible()))
    first, second, third = make_user("reviewer"), make_user("reviewer"), make_user("reviewer")
    not_a_reviewer = make_user("fund_manager")
    fm = api_as("fund_manager")
    resp = fm.post(f"/api/v1/applications/{app_id}/reviewers", json={"user_ids": [first.id, not_a_reviewer.id]})
    assert resp.status_code == 422 and str(not_a_reviewer.id) in resp.json["error"]["fields"]["user_ids"][0]
    # The minimum is set per call (default 2): here 3, through the call's dashboard
    portal = login_as(fm.user)
    resp = portal.submit(f"/grants/selection/calls/{call_id}/settings", {"min_reviewers": "0"},
                         page=f"/grants/selection/calls/{call_id}")
    assert resp.status_code == 422 and "Give a whole number from 1 to 10." in resp.get_data(as_text=True)
    resp = portal.submit(f"/grants/selection/calls/{call_id}/settings", {"min_reviewers": "3"},
                         page=f"/grants/selection/calls/{call_id}")
    assert resp.status_code == 302
    resp = fm.post(f"/api/v1/applications/{app_id}/reviewers", json={"user_ids": [first.id, second.id]})
    assert resp.status_code == 200
    assert resp.json["application_status"] == "eligible" and resp.json["min_reviewers"] == 3
    resp = fm.post(f"/api/v1/applications/{app_id}/reviewers", json={"user_ids": [second.id, third.id]})
    assert resp.json["application_status"] == "under_review"
    assert sorted(r["reviewer_id"] for r in resp.json["reviewers"]) == sorted([first.id, second.id, third.id])
    with app.app_context():
        mail = db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "grants:review_assigned")
                                  ).scalars().all()
        assert sorted(m.recipient for m in mail) == sorted([first.email, second.email, third.email])
        assert all(TITLE not in m.body_text and "Espoir" not in m.body_text for m in mail)  # no content by mail
        assigned = db.session.execute(select(AuditEvent).where(AuditEvent.action == "review.assign")).scalars().all()
        assert len(assigned) == 3


def test_the_declaration_comes_before_any_content(app, make_user, login_as, api_as, within):
    me, other = make_user("reviewer"), make_user("reviewer")
    ids = within(lambda: (lambda a: {"app": a.id, "review": rf.review_of(a, me).id})(
        rf.under_review(reviewers=[me, other])))
    portal, api = login_as(me), api_as(me)
    inbox = portal.get("/grants/reviews").get_data(as_text=True)
    assert "Association Espoir" in inbox and "Not declared yet" in inbox
    page = portal.get(f"/grants/reviews/{ids['review']}").get_data(as_text=True)
    assert "Do you have a conflict of interest with this organisation?" in page and "Association Espoir" in page
    assert TITLE not in page and "Shelter, legal aid" not in page and "budget.xlsx" not in page
    listed = api.get("/api/v1/reviews").json["items"]
    assert listed[0]["scores"] is None and "summary" not in listed[0]["application"]
    refused = api.put(f"/api/v1/reviews/{ids['review']}", json={"recommendation": "fund"})
    assert refused.status_code == 403 and refused.json["error"]["code"] == "declaration_required"
    assert api.post(f"/api/v1/reviews/{ids['review']}/submit").status_code == 403

    resp = api.post(f"/api/v1/reviews/{ids['review']}/conflict", json={"conflict": False})
    assert resp.status_code == 200 and resp.json["conflict_of_interest"] == "none"
    assert resp.json["application"]["project_title"] == TITLE
    assert api.post(f"/api/v1/reviews/{ids['review']}/conflict", json={"conflict": False}).status_code == 409
    page = portal.get(f"/grants/reviews/{ids['review']}").get_data(as_text=True)
    assert TITLE in page and "Shelter, legal aid" in page and "budget.xlsx" in page
    with app.app_context():
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "review.declare_no_conflict")
                                   ).scalar_one()
        assert event.actor_id == me.id and event.changes["coi"] == ["pending", "none"]


def test_a_declared_conflict_recuses_the_reviewer_and_managers_see_it(app, make_user, login_as, api_as, within):
    me, other = make_user("reviewer"), make_user("reviewer")
    ids = within(lambda: (lambda a: {"app": a.id, "review": rf.review_of(a, me).id})(
        rf.under_review(reviewers=[me, other])))
    portal = login_as(me)
    url = f"/grants/reviews/{ids['review']}"
    resp = portal.submit(f"{url}/conflict", {"conflict": "yes", "reason": ""}, page=url)
    assert resp.status_code == 422 and "Say what the conflict of interest is." in resp.get_data(as_text=True)
    resp = portal.submit(f"{url}/conflict", {"conflict": "yes", "reason": "My sister runs its shelter."}, page=url)
    assert resp.status_code == 302
    assert portal.get(url).status_code == 404
    inbox = portal.get("/grants/reviews").get_data(as_text=True)
    assert "Conflict declared: recused" in inbox and f'href="{url}"' not in inbox
    manager = login_as("fund_manager")
    page = manager.get(f"/grants/applications/{ids['app']}/reviewers").get_data(as_text=True)
    assert "My sister runs its shelter." in page and "Conflict declared: recused" in page
    assert "Assign another reviewer." in page  # one reviewer left, two needed
    dashboard = manager.get(f"/grants/selection/calls/{_call_of(app, ids['app'])}").get_data(as_text=True)
    assert "Conflicts of interest declared: 1" in dashboard
    with app.app_context():
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "review.declare_conflict")
                                   ).scalar_one()
        assert event.actor_id == me.id and event.changes == {"status": ["assigned", "recused"],
                                                             "message": [None, "My sister runs its shelter."]}
        assert db.session.get(Review, ids["review"]).status == "recused"


def _call_of(app, app_id):
    with app.app_context():
        return db.session.get(Application, app_id).call_id


def test_scoring_then_submission_locks_the_review(app, make_user, login_as, api_as, within):
    me, other = make_user("reviewer"), make_user("reviewer")
    ids = within(lambda: (lambda a: {"app": a.id, "review": rf.review_of(a, me).id,
                                     "criteria": [c.id for c in a.call.criteria]})(
        rf.under_review(reviewers=[me, other])))
    relevance, feasibility = ids["criteria"]
    api = api_as(me)
    api.post(f"/api/v1/reviews/{ids['review']}/conflict", json={"conflict": False})
    bad = api.put(f"/api/v1/reviews/{ids['review']}", json={"scores": {str(relevance): 6}})
    assert bad.status_code == 422 and "scores" in bad.json["error"]["fields"]
    bad = api.put(f"/api/v1/reviews/{ids['review']}", json={"scores": {"999999": 3}})
    assert bad.status_code == 422
    saved = api.put(f"/api/v1/reviews/{ids['review']}", json={"scores": {str(relevance): 4}})
    assert saved.status_code == 200 and saved.json["status"] == "draft"
    assert saved.json["weighted_score"] is None and "score-" + str(feasibility) in saved.json["missing"]
    incomplete = api.post(f"/api/v1/reviews/{ids['review']}/submit")
    assert incomplete.status_code == 422
    assert set(incomplete.json["error"]["fields"]) == {f"comment-{relevance}", f"score-{feasibility}",
                                                       f"comment-{feasibility}", "recommendation"}
    # The portal form saves and submits at once
    portal = login_as(me)
    url = f"/grants/reviews/{ids['review']}"
    resp = portal.submit(url, {f"score-{relevance}": "4", f"comment-{relevance}": "Strong referral network.",
                               f"score-{feasibility}": "2", f"comment-{feasibility}": "", "recommendation":
                               "fund_with_changes", "action": "submit"})
    assert resp.status_code == 422 and "Write a comment on “Feasibility”." in resp.get_data(as_text=True)
    resp = portal.submit(url, {f"score-{relevance}": "4", f"comment-{relevance}": "Strong referral network.",
                               f"score-{feasibility}": "2", f"comment-{feasibility}": "Staffing is thin.",
                               "recommendation": "fund_with_changes", "action": "submit"})
    assert resp.status_code == 302
    done = api.get("/api/v1/reviews").json["items"][0]
    assert done["status"] == "submitted" and done["weighted_score"] == "3.20"  # (4*60 + 2*40) / 100
    locked = api.put(f"/api/v1/reviews/{ids['review']}", json={"scores": {str(relevance): 5}})
    assert locked.status_code == 409 and locked.json["error"]["code"] == "review_submitted"
    with app.app_context():
        actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.entity_type == "review",
                                                                     AuditEvent.entity_id == str(ids["review"]))
                                     ).scalars().all()
        assert actions == ["review.assign", "review.declare_no_conflict", "review.start", "review.save",
                           "review.save", "review.submit"]


def test_nobody_sees_the_others_scores_before_submitting_their_own(app, make_user, login_as, api_as, within):
    early, late = make_user("reviewer"), make_user("reviewer")

    def build():
        a = rf.under_review(reviewers=[early, late])
        review = rf.scored(a, early, [5, 1])
        review.scores[0].comment = "EARLY-REVIEWER-NOTE"
        return {"late": rf.review_of(a, late).id}

    ids = within(build)
    api = api_as(late)
    api.post(f"/api/v1/reviews/{ids['late']}/conflict", json={"conflict": False})
    portal = login_as(late)
    page = portal.get(f"/grants/reviews/{ids['late']}").get_data(as_text=True)
    assert "EARLY-REVIEWER-NOTE" not in page and "All submitted reviews" not in page
    listed = api.get("/api/v1/reviews").get_data(as_text=True)
    assert "EARLY-REVIEWER-NOTE" not in listed and "5, 1" not in listed
    with app.app_context():
        criteria = [c.id for c in db.session.get(Review, ids["late"]).application.call.criteria]
    api.put(f"/api/v1/reviews/{ids['late']}", json={"scores": {str(c): 3 for c in criteria},
                                                    "comments": {str(c): "Fair." for c in criteria},
                                                    "recommendation": "reserve"})
    assert api.post(f"/api/v1/reviews/{ids['late']}/submit").status_code == 200
    page = portal.get(f"/grants/reviews/{ids['late']}").get_data(as_text=True)
    assert "All submitted reviews" in page and "5, 3" in page and "1, 3" in page
    assert early.email not in page and (early.name or "@@") not in page  # still anonymous


def test_reviewers_see_only_their_assignments(app, make_user, login_as, api_as, within):
    me, other, third = make_user("reviewer"), make_user("reviewer"), make_user("reviewer")

    def build():
        rf.under_review(reviewers=[me, other], name="Mine Foundation")
        rf.under_review(reviewers=[other, third], name="Not Mine Trust")

    within(build)
    inbox = login_as(me).get("/grants/reviews").get_data(as_text=True)
    assert "Mine Foundation" in inbox and "Not Mine Trust" not in inbox
    listed = api_as(me).get("/api/v1/reviews").json
    assert listed["meta"]["total"] == 1 and listed["items"][0]["application"]["organisation"] == "Mine Foundation"
