"""Fixtures of the API-wide tests: a fund with a record of every kind, and bearer tokens of each role."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from fund.db import db
from fund.models import User


@dataclass
class Fund:
    """Ids of one record of each kind, and the Authorization headers of an applicant (the grantee) and staff."""

    ids: dict[str, list[int]] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)


@pytest.fixture
def build(app):
    """build(fn) runs a factory in a request context, commits, and returns the id of what it gives back."""

    def do(fn):
        with app.test_request_context():
            result = fn()
            db.session.commit()
            ident = getattr(result, "id", result)
            db.session.remove()
            return ident

    return do


@pytest.fixture
def seeded_fund(app, make_user, api_token, build) -> Fund:
    """A grant pending signature (its application, call, organisation, documents, disbursement schedule), a donor
    with a pledge and a contribution, and a reviewer assigned to another application."""
    from donors import operations as donor_ops
    from grants.awards.models import Grant
    from grants.models import Document
    from tests.grants import factories as gf
    from tests.grants.awards import factories as af

    applicant = make_user("applicant")
    fm, fo, reviewer = make_user("fund_manager"), make_user("finance_officer"), make_user("reviewer")
    admin = make_user("admin")
    grant_id = build(lambda: af.make_grant(applicant=applicant))

    def more():
        other = make_user("applicant")
        application = gf.make_application(db.session.get(User, other.id))
        donor = donor_ops.create_donor({"name": "Ministry of Foreign Affairs", "type": "member_state",
                                        "country": "NO", "language": "en"}, actor=db.session.get(User, fo.id))
        return application, donor

    with app.test_request_context():
        application, donor = more()
        db.session.commit()
        grant = db.session.get(Grant, grant_id)
        ids = {"grant_id": [grant.id], "application_id": [grant.application_id, application.id],
               "call_id": [grant.application.call_id], "organisation_id": [grant.organisation_id],
               "donor_id": [donor.id], "user_id": [applicant.id, fm.id, fo.id, reviewer.id, admin.id]}
        ids["document_id"] = list(db.session.execute(
            select(Document.id).where(Document.application_id == grant.application_id)).scalars())
        db.session.remove()
    return Fund(ids=ids, headers={role: {"Authorization": f"Bearer {api_token(user)}"}
                                  for role, user in (("applicant", applicant), ("fund_manager", fm),
                                                     ("finance_officer", fo), ("reviewer", reviewer),
                                                     ("admin", admin))})
