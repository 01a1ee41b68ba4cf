"""Routes of the selection (grants.review): screening, assignment, reviews, ranking, decisions.

The builders put the objects in the state where the allowed roles are really allowed: reviews belong to
users["reviewer"] (with no conflict declared where the route scores), applications are submitted, eligible or
under review as the route needs.
"""

from tests.grants import factories as f
from tests.grants.review import factories as rf
from tests.matrix import Route, roles
from tests.matrix.grants import in_request

FM = roles("fund_manager")
REVIEWER = roles("reviewer")
STAFF_READERS = roles("fund_manager", "admin", "auditor")


@in_request
def call(users):
    return {"call_id": f.make_call().id}


@in_request
def submitted(users):
    return {"application_id": rf.submitted(f.user(users)).id}


@in_request
def eligible(users):
    return {"application_id": rf.eligible(f.user(users)).id}


@in_request
def under_review(users):
    application = rf.eligible(f.user(users))
    rf.assigned(application, f.user(users, "reviewer"), rf.reviewer())
    return {"application_id": application.id}


@in_request
def pending_review(users):
    """A review assigned to the matrix's reviewer, nothing declared yet."""
    application = rf.eligible(f.user(users))
    rf.assigned(application, f.user(users, "reviewer"), rf.reviewer())
    return {"review_id": rf.review_of(application, users["reviewer"]).id}


@in_request
def open_review(users):
    """A review assigned to the matrix's reviewer, who declared no conflict."""
    from grants.review import operations

    application = rf.eligible(f.user(users))
    rf.assigned(application, f.user(users, "reviewer"), rf.reviewer())
    review = rf.review_of(application, users["reviewer"])
    operations.declare_conflict(review, False, None, f.user(users, "reviewer"))
    return {"review_id": review.id}


@in_request
def review_document(users):
    from grants.review import operations

    application = rf.eligible(f.user(users))
    rf.assigned(application, f.user(users, "reviewer"), rf.reviewer())
    operations.declare_conflict(rf.review_of(application, users["reviewer"]), False, None,
                                f.user(users, "reviewer"))
    from grants.presenters import documents_of

    return {"document_id": documents_of(application)[0].id}


ROUTES: dict = {
    # Portal
    ("grants_review.selection", "GET"): Route(STAFF_READERS),
    ("grants_review.call_dashboard", "GET"): Route(STAFF_READERS, args=call),
    ("grants_review.call_settings", "POST"): Route(FM, args=call, body={"min_reviewers": "3"}),
    ("grants_review.screening_queue", "GET"): Route(STAFF_READERS),
    ("grants_review.screening", "GET"): Route(STAFF_READERS, args=submitted),
    ("grants_review.save_screening", "POST"): Route(FM, args=submitted, body={}),
    ("grants_review.assignment", "GET"): Route(STAFF_READERS, args=eligible),
    ("grants_review.assign", "POST"): Route(FM, args=eligible, body={}),
    ("grants_review.bulk_assignment", "GET"): Route(STAFF_READERS, args=call),
    ("grants_review.assign_in_bulk", "POST"): Route(FM, args=call, body={"scope": "all"}),
    ("grants_review.inbox", "GET"): Route(REVIEWER),
    ("grants_review.review", "GET"): Route(REVIEWER, args=pending_review),
    ("grants_review.declare", "POST"): Route(REVIEWER, args=pending_review, body={}),
    ("grants_review.save_review", "POST"): Route(REVIEWER, args=open_review, body={"action": "save"}),
    ("grants_review.submit_review", "POST"): Route(REVIEWER, args=open_review),
    ("grants_review.review_document", "GET"): Route(REVIEWER, args=review_document),
    ("grants_review.ranking_table", "GET"): Route(STAFF_READERS, args=call),
    ("grants_review.ranking_csv", "GET"): Route(STAFF_READERS, args=call),
    ("grants_review.decision_sheet_page", "GET"): Route(STAFF_READERS, args=call),
    ("grants_review.decision_sheet_pdf", "GET"): Route(STAFF_READERS, args=call),
    ("grants_review.decision", "GET"): Route(STAFF_READERS, args=under_review),
    ("grants_review.decide", "POST"): Route(FM, args=under_review, body={}),
    # API
    ("grants_review_api.screen_application", "POST"): Route(FM, args=submitted, body={}),
    ("grants_review_api.assign_reviewers", "POST"): Route(FM, args=eligible, body={}),
    ("grants_review_api.assign_in_bulk", "POST"): Route(FM, args=call, body={}),
    ("grants_review_api.get_review_settings", "GET"): Route(STAFF_READERS, args=call),
    ("grants_review_api.put_review_settings", "PUT"): Route(FM, args=call, body={"min_reviewers": 2}),
    ("grants_review_api.list_reviews", "GET"): Route(REVIEWER),
    ("grants_review_api.get_review", "GET"): Route(REVIEWER, args=pending_review),
    ("grants_review_api.get_screening", "GET"): Route(STAFF_READERS, args=submitted),
    ("grants_review_api.declare_conflict", "POST"): Route(REVIEWER, args=pending_review, body={}),
    ("grants_review_api.save_review", "PUT"): Route(REVIEWER, args=open_review, body={}),
    ("grants_review_api.submit_review", "POST"): Route(REVIEWER, args=open_review),
    ("grants_review_api.call_ranking", "GET"): Route(STAFF_READERS, args=call),
    ("grants_review_api.decide", "POST"): Route(FM, args=under_review, body={}),
}
