"""Fixtures of the selection tests: a scenario builder that runs factories in a request context and commits."""

from __future__ import annotations

import pytest

from fund.db import db


@pytest.fixture
def within(app):
    """within(fn) runs ``fn()`` in a request context, commits, and returns what it returns (ids, not objects)."""

    def do(fn):
        with app.test_request_context():
            result = fn()
            db.session.commit()
            db.session.remove()
            return result

    return do
