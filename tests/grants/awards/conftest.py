"""Fixtures of the grants-awarded tests: a grant built through the operations (an application brought to the
Board's recommendation by its workflow, then create_grant), the people who act on it, and API clients."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from fund.accounting.figures import GrantFigures, grant_figures
from fund.db import db
from tests.grants.awards import factories as af


@dataclass
class World:
    grant_id: int
    applicant: object
    manager: object
    officer: object
    officer2: object
    other_applicant: object
    ngo: object          # API client of the grantee
    fm: object           # API client of the fund manager
    fo: object           # API client of a finance officer
    fo2: object          # API client of a second finance officer
    outsider: object     # API client of another organisation's applicant


@pytest.fixture
def world(app, make_user, api_as, build):
    """world(amount=None, cash="500000.00", schedule=None) -> a pending-signature grant and its people."""

    def do(amount: str | None = None, cash: str | None = "500000.00", schedule=None) -> World:
        manager = make_user("fund_manager")
        officer, officer2 = make_user("finance_officer"), make_user("finance_officer")
        applicant, other = make_user("applicant"), make_user("applicant")
        grant_id = build(lambda: af.make_grant(amount, applicant=applicant, cash=cash, schedule=schedule))
        build(lambda: af.gf.organisation_of(af.db.session.get(af.User, other.id), name="Other NGO"))
        for user in (applicant, other):
            with app.app_context():
                user.organisation_id = db.session.get(af.User, user.id).organisation_id
        return World(grant_id, applicant, manager, officer, officer2, other, api_as(applicant), api_as(manager),
                     api_as(officer), api_as(officer2), api_as(other))

    return do


PDF = af.gf.PDF_BYTES


def sign_and_countersign(w: World) -> None:
    import io

    resp = w.ngo.post(f"/api/v1/grants/{w.grant_id}/agreement",
                      data={"file": (io.BytesIO(PDF), "signed.pdf")}, content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_json()
    resp = w.fm.post(f"/api/v1/grants/{w.grant_id}/countersign")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["status"] == "active"


def figures(app, grant_id: int) -> GrantFigures:
    with app.app_context():
        return grant_figures(grant_id)


def D(value) -> Decimal:  # noqa: N802
    return Decimal(str(value))
