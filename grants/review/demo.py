"""Demonstration data of the selection: an application under review, one reviewer's scores submitted and the
other reviewer's declaration still to make."""

from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import select

from fund.models import FUND_MANAGER, REVIEWER, User


def load_demo(users: dict[str, User]) -> list[str]:
    from fund import operations as fund_ops
    from fund.db import db
    from fund.demo import DEMO_PASSWORD
    from fund.uploads import check_bytes
    from grants import operations
    from grants.demo import MINIMAL_PDF, _complete_answers, minimal_xlsx
    from grants.models import Call
    from grants.review import assignment
    from grants.review import operations as review_ops
    from grants.review.models import SCREENING_ITEMS

    manager = users[FUND_MANAGER]
    reviewers = [u for email, u in users.items() if "@" in email and u.has_any_role(REVIEWER)]
    call = db.session.execute(select(Call).where(Call.status == "open").order_by(Call.id)).scalars().first()
    if call is None or len(reviewers) < 2:
        return []
    first, second = reviewers[:2]
    with current_app.test_request_context(base_url=current_app.config.get("SERVER_BASE_URL") or None):
        lead = fund_ops.create_user("applicant@shelter.example.org", "applicant", DEMO_PASSWORD,
                                    name="Nadia Rahman")
        org = operations.create_organisation(lead, {
            "name": "Bright Path Shelter Network", "acronym": "BPSN", "country": "BD", "org_type": "ngo",
            "registration_number": "BD-NGO-2015-0457", "registration_date": dt.date(2015, 3, 2),
            "address": "House 12, Road 5, Dhaka", "year_established": 2015, "contact_name": "Nadia Rahman",
            "contact_email": "applicant@shelter.example.org", "years_direct_assistance": 8,
            "bank_account_holder": "Bright Path Shelter Network", "bank_name": "Dhaka Commercial Bank",
            "bank_account_number": "BD12345678901234", "bank_swift": "DHCBBDDH",
        })
        operations.store_psea_policy(org, check_bytes(MINIMAL_PDF, "psea-policy.pdf"), lead)
        answers = _complete_answers()
        answers.update(project_title="Safe shelter and legal aid for women returning from forced domestic work",
                       countries=["BD"], locations="Dhaka, Chattogram")
        application = operations.create_application(call, lead, answers)
        operations.add_document(application, check_bytes(minimal_xlsx(), "budget.xlsx"), "budget_workbook", lead)
        operations.submit_application(application, lead)
        review_ops.save_screening(application, {"items": {code: {"result": "pass", "note": None}
                                                          for code in SCREENING_ITEMS}, "outcome": "eligible"},
                                  manager)
        assignment.assign_reviewers(application, [first.id, second.id], manager)
        review = review_ops.reviews_of(application)[0]
        review_ops.declare_conflict(review, False, None, first)
        criteria = call.criteria
        review_ops.save_review(review, {"scores": {c.id: s for c, s in zip(criteria, (5, 4, 3), strict=False)},
                                        "comments": {c.id: "Clear, realistic and well costed." for c in criteria},
                                        "recommendation": "fund"}, first)
        review_ops.submit_review(review, first)
        db.session.flush()
    return [
        "Selection demo:",
        f"  application      {application.reference} of {org.name} ({lead.email}) under review (/grants/selection)",
        f"  reviewer         {first.email} has submitted a review; {second.email} has a conflict-of-interest "
        "declaration to make (/grants/reviews)",
    ]
