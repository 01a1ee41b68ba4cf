"""Fixtures of the money tests: the currency table (tests start from empty tables) and rate/donor builders."""

from __future__ import annotations

import pytest

from fund.db import db
from tests.donors import factories as f


@pytest.fixture(autouse=True)
def currencies(app):
    with app.app_context():
        f.currencies()
        db.session.commit()


@pytest.fixture
def build(app):
    """build(factory_name, *args, **kwargs) -> the id of what a factory of tests.donors.factories built
    (committed)."""

    def do(name, *args, **kwargs):
        with app.test_request_context():
            obj = getattr(f, name)(*args, **kwargs)
            db.session.commit()
            return obj.id

    return do
