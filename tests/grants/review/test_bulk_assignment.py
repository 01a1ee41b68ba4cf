"""Bulk reviewer assignment for a call: the fund manager assigns several reviewers to several applications (or to
every screened-in application of the call) in one action, with the rules of the single assignment (conflicts of
interest, no review of one's own organisation, no duplicates, no assignment after the review deadline), all or
nothing, every assignment audited in the same transaction; the portal page (no JavaScript) and the API."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from fund.audit import AuditEvent
from fund.db import db
from fund.errors import Conflict, FundError
from fund.mail import OutboxMessage
from fund.models import User
from grants.models import Application
from grants.review import assignment, operations
from grants.review.models import Review
from tests.grants import factories as f
from tests.grants.review import factories as rf


def counts() -> dict:
    return {
        "reviews": db.session.execute(select(func.count()).select_from(Review)).scalar_one(),
        "audit": db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one(),
        "mail": db.session.execute(select(func.count()).select_from(OutboxMessage)
                                   .where(OutboxMessage.kind == "grants:review_assigned")).scalar_one(),
    }


def three_eligible():
    """Three eligible applications of one call, and one submitted (not screened in) of the same call."""
    first = rf.eligible(name="Association Espoir")
    call = first.call
    others = [rf.eligible(call=call, name=f"Organisation {n}") for n in ("Deux", "Trois")]
    pending = rf.submitted(call=call, name="Not Screened Yet")
    return call, [first, *others], pending


def test_all_screened_in_applications_get_every_reviewer_in_one_action(app, within):
    with app.test_request_context():
        call, apps, pending = three_eligible()
        a, b = rf.reviewer("Ana"), rf.reviewer("Bo")
        db.session.flush()
        before = counts()
        result = assignment.assign_in_bulk(call, [a.id, b.id, a.id], None, f.manager())
        assert len(result["created"]) == 6 and result["already"] == 0
        assert {x.id for x in result["applications"]} == {x.id for x in apps}  # the submitted one is not in it
        after = counts()
        assert after["reviews"] - before["reviews"] == 6
        # one event per assignment, one summary, and the transitions to "under review" (2 reviewers = minimum)
        events = db.session.execute(select(AuditEvent.action, func.count()).group_by(AuditEvent.action)).all()
        by_action = dict(events)
        assert by_action["review.assign"] >= 6 and by_action["call.bulk_assign"] == 1
        assert all(db.session.get(Application, x.id).status == "under_review" for x in apps)
        assert db.session.get(Application, pending.id).status == "submitted"
        # one e-mail per reviewer, not one per application
        assert after["mail"] - before["mail"] == 2
        summary = db.session.execute(select(AuditEvent).where(AuditEvent.action == "call.bulk_assign")).scalar_one()
        assert sorted(map(tuple, summary.changes["assignments"][1])) == sorted(
            (x.id, u.id) for x in apps for u in (a, b))
        # Again, after Bo recused himself from the first application: nothing new, nothing duplicated, and his
        # recusal (a pair already in place) does not block the others
        operations.declare_conflict(rf.review_of(apps[0], b), True, "A former employer", b)
        again = assignment.assign_in_bulk(call, [a.id, b.id], None, f.manager())
        assert again["created"] == [] and again["already"] == 6
        assert counts()["reviews"] == after["reviews"]
        db.session.rollback()


def test_a_conflict_of_interest_refuses_everything(app):
    with app.test_request_context():
        call, apps, _pending = three_eligible()
        a, b = rf.reviewer("Ana"), rf.reviewer("Bo")
        db.session.flush()
        # Bo declared a conflict with the first organisation on its application of another call
        other_call = f.make_call()
        elsewhere = rf.eligible(db.session.get(User, apps[0].created_by_id), call=other_call)
        rf.assigned(elsewhere, b)
        operations.declare_conflict(rf.review_of(elsewhere, b), True, "I sit on its board", b)
        db.session.flush()
        before = counts()
        with pytest.raises(Conflict) as exc:
            assignment.assign_in_bulk(call, [a.id, b.id], None, f.manager())
        assert exc.value.code == "not_assignable"
        assert any("Bo has declared a conflict of interest" in m and apps[0].reference in m
                   for m in exc.value.fields["_schema"])
        assert counts() == before  # all or nothing: not even Ana's assignments were written
        db.session.rollback()


def test_the_rules_of_the_single_assignment(app):
    with app.test_request_context():
        call, apps, pending = three_eligible()
        a = rf.reviewer("Ana")
        fm = f.manager()
        # a member of the applicant organisation who also reviews
        insider = rf.reviewer("Insider")
        insider.organisation_id = apps[1].organisation_id
        db.session.flush()
        with pytest.raises(FundError) as exc:
            assignment.assign_in_bulk(call, [a.id, insider.id], [apps[0].id, apps[1].id], fm)
        assert "Insider belongs to the organisation of" in " ".join(exc.value.fields["_schema"])
        # the same rule on the single assignment
        with pytest.raises(FundError):
            assignment.assign_reviewers(apps[1], [insider.id], fm)
        # an application not screened in, one of another call, a user who is not a reviewer
        with pytest.raises(Conflict) as exc:
            assignment.assign_in_bulk(call, [a.id], [apps[0].id, pending.id], fm)
        assert "is “Submitted”" in " ".join(exc.value.fields["_schema"])
        stranger = rf.eligible()
        with pytest.raises(FundError) as exc:
            assignment.assign_in_bulk(call, [a.id], [apps[0].id, stranger.id], fm)
        assert exc.value.status == 422 and str(stranger.id) in exc.value.fields["application_ids"][0]
        with pytest.raises(FundError) as exc:
            assignment.assign_in_bulk(call, [fm.id], [apps[0].id], fm)
        assert exc.value.status == 422 and str(fm.id) in exc.value.fields["user_ids"][0]
        # only a fund manager
        with pytest.raises(FundError) as exc:
            assignment.assign_in_bulk(call, [a.id], [apps[0].id], a)
        assert exc.value.status == 403
        db.session.rollback()


def test_no_assignment_after_the_review_deadline(app):
    with app.test_request_context():
        call, apps, _pending = three_eligible()
        a = rf.reviewer("Ana")
        fm = f.manager()
        today = dt.datetime.now(dt.UTC).date()
        operations.save_review_settings(call, {"min_reviewers": 2, "review_deadline": today}, fm)
        assignment.assign_in_bulk(call, [a.id], [apps[0].id], fm)  # the deadline day itself is allowed
        operations.save_review_settings(call, {"min_reviewers": 2, "review_deadline": today - dt.timedelta(days=1)},
                                        fm)
        b = rf.reviewer("Bo")
        db.session.flush()
        for attempt in (lambda: assignment.assign_in_bulk(call, [b.id], None, fm),
                        lambda: assignment.assign_reviewers(apps[1], [b.id], fm)):
            with pytest.raises(Conflict) as exc:
                attempt()
            assert exc.value.code == "review_deadline_passed"
        settings_events = db.session.execute(select(AuditEvent).where(AuditEvent.action == "call.review_settings")
                                             ).scalars().all()
        assert settings_events[-1].changes["review_deadline"] == [today.isoformat(),
                                                                  (today - dt.timedelta(days=1)).isoformat()]
        db.session.rollback()


def test_the_api(app, api_as, make_user, within):
    def setup():
        call, apps, pending = three_eligible()
        return call.id, [x.id for x in apps], pending.id

    call_id, app_ids, pending_id = within(setup)
    a, b = make_user("reviewer", name="Ana"), make_user("reviewer", name="Bo")
    fm = api_as("fund_manager")
    url = f"/api/v1/calls/{call_id}/assignments"
    resp = fm.post(url, json={"user_ids": [a.id], "application_ids": app_ids[:2]})
    assert resp.status_code == 200, resp.json
    assert len(resp.json["created"]) == 2 and resp.json["already_assigned"] == 0
    assert {x["application_id"]: x["reviewers"] for x in resp.json["applications"]} == {i: 1 for i in app_ids[:2]}
    resp = fm.post(url, json={"user_ids": [a.id, b.id], "all_screened_in": True})
    assert resp.status_code == 200 and len(resp.json["created"]) == 4 and resp.json["already_assigned"] == 2
    assert {x["application_status"] for x in resp.json["applications"]} == {"under_review"}
    # 422: no reviewer, both scopes, neither, a wrong type; 409: a refused pair
    for body in ({"user_ids": [], "all_screened_in": True}, {"user_ids": [a.id]},
                 {"user_ids": [a.id], "all_screened_in": True, "application_ids": app_ids},
                 {"user_ids": ["x"], "all_screened_in": True}):
        resp = fm.post(url, json=body)
        assert resp.status_code == 422, body
    resp = fm.post(url, json={"user_ids": [a.id], "application_ids": [pending_id]})
    assert resp.status_code == 409 and resp.json["error"]["fields"]["_schema"]
    assert api_as("reviewer").post(url, json={"user_ids": [a.id], "all_screened_in": True}).status_code == 403
    # The review deadline through the API: after it, no assignment
    settings = f"/api/v1/calls/{call_id}/review-settings"
    assert fm.get(settings).json == {"call_id": call_id, "min_reviewers": 2, "review_deadline": None,
                                     "deadline_passed": False}
    for body in ({"min_reviewers": 0}, {"min_reviewers": 2, "review_deadline": "31/01/2020"}, {}):
        resp = fm.put(settings, json=body)
        assert resp.status_code == 422 and set(resp.json["error"]["fields"]) <= {"min_reviewers", "review_deadline"}
    resp = fm.put(settings, json={"min_reviewers": 2, "review_deadline": "2020-01-31"})
    assert resp.status_code == 200 and resp.json["deadline_passed"] is True
    resp = fm.post(url, json={"user_ids": [b.id], "application_ids": [app_ids[2]]})
    assert resp.status_code == 409 and resp.json["error"]["code"] == "review_deadline_passed"
    assert api_as("auditor").get(settings).status_code == 200
    assert api_as("auditor").put(settings, json={"min_reviewers": 3}).status_code == 403
    spec = fm.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/calls/{call_id}/assignments"]["post"]
    assert {"200", "409", "422"} <= set(operation["responses"])


def test_the_portal_page(app, login_as, make_user, within):
    def setup():
        call, apps, pending = three_eligible()
        return call.id, [x.id for x in apps], pending.id

    call_id, app_ids, pending_id = within(setup)
    a, b = make_user("reviewer", name="Ana Reviewer"), make_user("reviewer", name="Bo Reviewer")
    fm = login_as("fund_manager")
    url = f"/grants/selection/calls/{call_id}/assignments"
    page = fm.get(url).get_data(as_text=True)
    assert "Ana Reviewer" in page and "Association Espoir" in page and "Not Screened Yet" not in page
    assert "All 3 screened-in applications of the call" in page
    # nothing chosen: the messages beside the fields, 422, what was ticked is kept
    resp = fm.submit(url, {"scope": "chosen", "user_ids": [str(a.id)]})
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "Choose at least one application." in body and f'value="{a.id}" checked' in body
    resp = fm.submit(url, {"scope": "chosen", "user_ids": [str(a.id), str(b.id)],
                           "application_ids": [str(app_ids[0])]})
    assert resp.status_code == 302
    page = fm.get(url).get_data(as_text=True)
    assert "2 assignments made" in page
    with app.app_context():
        assert db.session.get(Application, app_ids[0]).status == "under_review"
        assert db.session.get(Application, app_ids[1]).status == "eligible"
    # the review deadline set on the call's dashboard closes the page's form
    resp = fm.submit(f"/grants/selection/calls/{call_id}/settings",
                     {"min_reviewers": "2", "review_deadline": "2020-01-31"}, page=f"/grants/selection/calls/{call_id}")
    assert resp.status_code == 302
    page = fm.get(url).get_data(as_text=True)
    assert "has passed" in page and 'name="user_ids"' not in page
    resp = fm.submit(f"/grants/selection/calls/{call_id}/settings",
                     {"min_reviewers": "2", "review_deadline": "31/01/2020"}, page=f"/grants/selection/calls/{call_id}")
    assert resp.status_code == 422 and "Give a date such as" in resp.get_data(as_text=True)


def test_concurrent_bulk_assignments_never_assign_twice(app, make_user, api_token, within):
    """Six bulk assignments of the same reviewers to a call's applications, all at once against a real threaded
    server: each answers 200 (no error, no duplicate-key failure), every pair exists once, and the assignment
    events count the pairs, not the requests."""
    from tests.live import concurrently, live_server, request

    def setup():
        call, apps, _pending = three_eligible()
        return call.id, [x.id for x in apps]

    call_id, app_ids = within(setup)
    reviewers = [make_user("reviewer"), make_user("reviewer")]
    token = api_token(make_user("fund_manager"))
    with live_server(app) as server:
        responses = concurrently(6, lambda i: request(
            f"{server.url}/api/v1/calls/{call_id}/assignments", "POST",
            json_body={"user_ids": [u.id for u in reviewers], "all_screened_in": True},
            headers={"Authorization": f"Bearer {token}"}))
    errors = [r for r in responses if isinstance(r, BaseException)]
    assert not errors, errors
    assert [r.status for r in responses] == [200] * 6, [(r.status, r.body[:300]) for r in responses]
    assert sum(len(r.json()["created"]) for r in responses) == 6  # 3 applications x 2 reviewers, once
    with app.app_context():
        pairs = db.session.execute(select(Review.application_id, Review.reviewer_id)
                                   .where(Review.application_id.in_(app_ids))).all()
        assert sorted(pairs) == sorted((a, u.id) for a in app_ids for u in reviewers)
        events = db.session.execute(select(func.count()).select_from(AuditEvent)
                                    .where(AuditEvent.action == "review.assign")).scalar_one()
        assert events == 6
