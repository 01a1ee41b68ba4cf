"""Fixtures of the API-wide tests: a fund with a record of every kind, and bearer tokens of each role."""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from fund.db import db
from fund.models import User
from tests.conftest import Snapshot, _wipe, new_token, new_user, restore_snapshot, stored_files, take_snapshot


@dataclass
class Fund:
    """Ids of one record of each kind, and the Authorization headers of an applicant (the grantee) and staff."""

    ids: dict[str, list[int]] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)


def built(app, fn):
    """Run the factory ``fn`` in a request context, commit, and return the id of what it gives back."""
    with app.test_request_context():
        result = fn()
        db.session.commit()
        ident = getattr(result, "id", result)
        db.session.remove()
        return ident


@pytest.fixture
def build(app):
    """build(fn) runs a factory in a request context, commits, and returns the id of what it gives back."""
    return functools.partial(built, app)


def seed_fund(app) -> Fund:
    """A grant pending signature (its application, call, organisation, documents, disbursement schedule), a donor
    with a pledge and a contribution, and a reviewer assigned to another application."""
    from donors import operations as donor_ops
    from grants.awards.models import Grant
    from grants.models import Document
    from tests.grants import factories as gf
    from tests.grants.awards import factories as af

    applicant = new_user(app, "applicant")
    fm, fo, reviewer = new_user(app, "fund_manager"), new_user(app, "finance_officer"), new_user(app, "reviewer")
    admin = new_user(app, "admin")
    grant_id = built(app, lambda: af.make_grant(applicant=applicant))

    def more():
        other = new_user(app, "applicant")
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
    return Fund(ids=ids, headers={role: {"Authorization": f"Bearer {new_token(app, user)}"}
                                  for role, user in (("applicant", applicant), ("fund_manager", fm),
                                                     ("finance_officer", fo), ("reviewer", reviewer),
                                                     ("admin", admin))})


@pytest.fixture(scope="session")
def _seeded_fund_snapshot(app) -> tuple[Fund, Snapshot]:
    """The fund of ``seeded_fund``, built once per test worker (on the tables every test starts from, empty) and
    taken as a snapshot; the tables are emptied again for the test that asked first."""
    files_before = stored_files(app)
    fund = seed_fund(app)
    snapshot = take_snapshot(app, files_before)
    _wipe(app)
    return fund, snapshot


@pytest.fixture
def seeded_fund(app, _seeded_fund_snapshot) -> Fund:
    """The fund of :func:`seed_fund`, put back from its snapshot for this test (every test gets the same records,
    ids and tokens; the tables are emptied after the test as after any other)."""
    fund, snapshot = _seeded_fund_snapshot
    restore_snapshot(app, snapshot)
    return copy.deepcopy(fund)
