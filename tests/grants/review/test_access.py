"""Acceptance: a reviewer who declared a conflict, and a reviewer not assigned, get 403 or 404 on the
application, its documents and its review, on every route of the portal and of the API that names one (the
routes come from app.url_map, so a new route is covered); nothing changes and nothing of the application shows.
An assigned reviewer without a conflict reads the same application and documents."""

from __future__ import annotations

import io

import pytest
from flask import url_for
from sqlalchemy import select

from fund.audit import AuditEvent
from fund.db import db
from grants.models import Document
from grants.review.models import Review, ReviewScore
from tests.grants import factories as f
from tests.grants.review import factories as rf

OBJECT_ARGS = {"application_id", "document_id", "review_id"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}
SECRET_TITLE = "Confidential shelter network in the north"


def snapshot() -> dict:
    return {
        "reviews": [(r.id, r.status, r.coi, r.recommendation) for r in db.session.execute(
            select(Review).order_by(Review.id)).scalars()],
        "scores": db.session.execute(select(ReviewScore.id, ReviewScore.score)).all(),
        "audit": [(e.action, e.entity_id) for e in db.session.execute(
            select(AuditEvent).where(AuditEvent.action != "user.login")).scalars()],
    }


@pytest.fixture
def scene(app, within, make_user):
    conflicted, outsider, colleague = make_user("reviewer"), make_user("reviewer"), make_user("reviewer")

    def build():
        application = rf.eligible()
        application.project_title = SECRET_TITLE
        rf.assigned(application, conflicted, colleague)
        rf.scored(application, colleague, [4, 3])
        from grants.review import operations

        operations.declare_conflict(rf.review_of(application, conflicted), True, "I chair its board.",
                                    db.session.get(type(conflicted), conflicted.id))
        return {"application_id": application.id,
                "document_id": db.session.execute(select(Document.id).where(
                    Document.application_id == application.id)).scalars().all(),
                "review_id": [rf.review_of(application, conflicted).id, rf.review_of(application, colleague).id]}

    ids = within(build)
    assert ids["document_id"]  # the budget workbook and the acknowledgement
    return ids, conflicted, outsider, colleague


def body_for(method: str, url: str):
    if method == "GET":
        return None
    return {"conflict": False, "scores": {}, "comments": {}, "recommendation": "fund", "outcome": "rejected",
            "reason": "x", "user_ids": [1], "items": {}, "summary": "intruder", "message": "intruder"}


@pytest.mark.parametrize("who", ["conflicted", "outsider"])
def test_every_route_of_the_application_its_documents_and_reviews_is_closed(app, scene, who, login_as, api_as):
    ids, conflicted, outsider, _colleague = scene
    user = {"conflicted": conflicted, "outsider": outsider}[who]
    portal, api = login_as(user), api_as(user)
    with app.app_context():
        before = snapshot()
    app.config["WTF_CSRF_ENABLED"] = False  # the refusal must come from the permission checks, not CSRF
    checked, failures = [], []
    try:
        for rule in app.url_map.iter_rules():
            if not set(rule.arguments) & OBJECT_ARGS:
                continue
            for method in sorted((rule.methods or set()) - IGNORED_METHODS):
                variants = max(len(ids[a]) if isinstance(ids[a], list) else 1 for a in rule.arguments if a in ids)
                for variant in range(variants):
                    kwargs = {}
                    for name in rule.arguments:
                        value = ids.get(name)
                        if isinstance(value, list):
                            value = value[variant % len(value)]
                        kwargs[name] = value if value is not None else {"section": "project",
                                                                        "trigger": "open"}.get(name, 1)
                    with app.test_request_context():
                        url = url_for(rule.endpoint, **kwargs)
                    if rule.rule.startswith("/api/"):
                        resp = api.open(method, url, json=body_for(method, url))
                    else:
                        data = None if method == "GET" else {
                            "conflict": "no", "score-1": "5", "comment-1": "x", "recommendation": "fund",
                            "action": "submit", "outcome": "rejected", "reason": "x", "file": (
                                io.BytesIO(f.PDF_BYTES), "x.pdf"), "kind": "other", "message": "x"}
                        resp = portal.open(url, method=method, data=data)
                    checked.append(f"{method} {rule.rule}")
                    if resp.status_code not in (403, 404):
                        failures.append(f"{method} {url}: {resp.status_code}")
                    page = resp.get_data()
                    if SECRET_TITLE.encode() in page or b"Comment on Relevance" in page:
                        failures.append(f"{method} {url}: shows the application or a review")
    finally:
        app.config["WTF_CSRF_ENABLED"] = True
    assert not failures, "\n".join(failures)
    for expected in ("/grants/applications/<int:application_id>", "/grants/documents/<int:document_id>",
                     "/grants/reviewer/documents/<int:document_id>", "/grants/reviews/<int:review_id>",
                     "/grants/reviews/<int:review_id>/conflict", "/grants/reviews/<int:review_id>/submit",
                     "/api/v1/applications/<int:application_id>", "/api/v1/documents/<int:document_id>",
                     "/api/v1/reviews/<int:review_id>", "/api/v1/reviews/<int:review_id>/conflict",
                     "/api/v1/reviews/<int:review_id>/submit"):
        assert any(c.endswith(" " + expected) for c in checked), expected
    with app.app_context():
        assert snapshot() == before
    # Their own list shows the conflict (recused) or nothing, and never the application's content.
    mine = api.get("/api/v1/reviews").json["items"]
    if who == "conflicted":
        assert [(r["status"], r["conflict_of_interest"], r["scores"]) for r in mine] == [("recused", "conflict", None)]
        assert "project_title" not in mine[0]["application"]
    else:
        assert mine == []
    assert SECRET_TITLE not in portal.get("/grants/reviews").get_data(as_text=True)


def test_an_assigned_reviewer_without_a_conflict_reads_the_application_and_its_documents(app, scene, login_as,
                                                                                      api_as):
    ids, _conflicted, _outsider, colleague = scene
    portal = login_as(colleague)
    page = portal.get(f"/grants/reviews/{ids['review_id'][1]}").get_data(as_text=True)
    assert SECRET_TITLE in page
    for doc_id in ids["document_id"]:
        resp = portal.get(f"/grants/reviewer/documents/{doc_id}")
        assert resp.status_code == 200 and resp.headers["Content-Disposition"].startswith("attachment")
    # ... but still not through the applicants' and managers' routes
    assert portal.get(f"/grants/applications/{ids['application_id']}").status_code == 403
    with app.app_context():
        downloads = db.session.execute(select(AuditEvent.entity_id).where(
            AuditEvent.action == "document.download", AuditEvent.actor_id == colleague.id)).scalars().all()
        assert sorted(downloads) == sorted(str(d) for d in ids["document_id"])


def test_an_assigned_reviewer_who_has_not_declared_sees_nothing_of_the_application(app, within, make_user,
                                                                                 login_as, api_as):
    """Before the declaration, the assigned reviewer is kept out like a recused one: every route that names the
    application, its documents or a review refuses them, except their own review's page (the organisation, the
    call and the declaration form, without the application's content) and the declaration itself."""
    undeclared, colleague = make_user("reviewer"), make_user("reviewer")

    def build():
        application = rf.eligible()
        application.project_title = SECRET_TITLE
        rf.assigned(application, undeclared, colleague)
        rf.scored(application, colleague, [4, 3])
        return {"application_id": application.id,
                "document_id": db.session.execute(select(Document.id).where(
                    Document.application_id == application.id)).scalars().all(),
                "review_id": [rf.review_of(application, undeclared).id, rf.review_of(application, colleague).id]}

    ids = within(build)
    own_review = ids["review_id"][0]
    portal, api = login_as(undeclared), api_as(undeclared)
    with app.app_context():
        before = snapshot()
    app.config["WTF_CSRF_ENABLED"] = False
    checked, failures = [], []
    try:
        for rule in app.url_map.iter_rules():
            if not set(rule.arguments) & OBJECT_ARGS or rule.rule.endswith("/conflict"):
                continue
            for method in sorted((rule.methods or set()) - IGNORED_METHODS):
                variants = max(len(ids[a]) if isinstance(ids[a], list) else 1 for a in rule.arguments if a in ids)
                for variant in range(variants):
                    kwargs = {}
                    for name in rule.arguments:
                        value = ids.get(name)
                        if isinstance(value, list):
                            value = value[variant % len(value)]
                        kwargs[name] = value if value is not None else {"section": "project",
                                                                        "trigger": "open"}.get(name, 1)
                    with app.test_request_context():
                        url = url_for(rule.endpoint, **kwargs)
                    if rule.rule.startswith("/api/"):
                        resp = api.open(method, url, json=body_for(method, url))
                    else:
                        data = None if method == "GET" else {
                            "score-1": "5", "comment-1": "x", "recommendation": "fund", "action": "submit",
                            "outcome": "rejected", "reason": "x", "file": (io.BytesIO(f.PDF_BYTES), "x.pdf"),
                            "kind": "other", "message": "x"}
                        resp = portal.open(url, method=method, data=data)
                    checked.append(f"{method} {rule.rule}")
                    page = resp.get_data()
                    own_page = method == "GET" and kwargs.get("review_id") == own_review
                    if own_page:
                        if resp.status_code != 200:
                            failures.append(f"{method} {url}: {resp.status_code} (their own review's page)")
                    elif resp.status_code not in (403, 404):
                        failures.append(f"{method} {url}: {resp.status_code}")
                    if SECRET_TITLE.encode() in page or b"Comment on Relevance" in page:
                        failures.append(f"{method} {url}: shows the application or a review")
    finally:
        app.config["WTF_CSRF_ENABLED"] = True
    assert not failures, "\n".join(failures)
    for expected in ("/grants/applications/<int:application_id>", "/grants/documents/<int:document_id>",
                     "/grants/reviewer/documents/<int:document_id>", "/grants/reviews/<int:review_id>",
                     "/grants/reviews/<int:review_id>/submit", "/api/v1/applications/<int:application_id>",
                     "/api/v1/documents/<int:document_id>", "/api/v1/reviews/<int:review_id>",
                     "/api/v1/reviews/<int:review_id>/submit"):
        assert any(c.endswith(" " + expected) for c in checked), expected
    with app.app_context():
        assert snapshot() == before
    mine = api.get("/api/v1/reviews").json["items"]
    assert [(r["status"], r["scores"]) for r in mine] == [("assigned", None)]
    assert "project_title" not in mine[0]["application"]
