"""Fixtures of the grants tests: a request context for calling operations, applicants with organisations,
open calls and applications built through the operations."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fund.audit import AuditEvent
from fund.db import db
from fund.mail import OutboxMessage
from tests.grants import factories as f


@pytest.fixture
def rctx(app):
    """A request context: operations format messages and links in the language of a request."""
    with app.test_request_context():
        yield
        db.session.rollback()
        db.session.remove()


@pytest.fixture
def build(app):
    """build(fn, *args) runs a factory in a request context, commits, and returns the ids it gives back."""

    def do(fn, *args, **kwargs):
        with app.test_request_context():
            result = fn(*args, **kwargs)
            db.session.commit()
            ident = getattr(result, "id", result)
            db.session.remove()
            return ident

    return do


@pytest.fixture
def applicant_with_org(make_user, build):
    """applicant_with_org(**org_fields) -> (User, organisation id), the organisation complete by default."""

    def do(complete: bool = True, **fields):
        user = make_user("applicant")
        org_id = build(lambda: f.organisation_of(user, complete=complete, **fields))
        user.organisation_id = org_id
        return user, org_id

    return do


def counts() -> dict:
    """What a refused operation must leave unchanged."""
    return {
        "audit": db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one(),
        "mail": db.session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one(),
    }
