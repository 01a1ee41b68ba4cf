"""The application workflow declared once: every transition of the issue, who may trigger it, its guards, its
audit event; applicants see plain status names; later features add guards and hooks without editing it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fund.audit import AuditEvent
from fund.db import db
from fund.errors import Conflict, FundError
from grants import operations
from grants.models import Application, ApplicationEvent
from grants.presenters import status_for
from grants.workflow import APPLICATION_WORKFLOW, CALL_WORKFLOW
from tests.grants import factories as f

EXPECTED = {
    ("submit", "draft", "submitted"), ("submit", "returned", "submitted"), ("return", "submitted", "returned"),
    ("declare_eligible", "submitted", "eligible"), ("declare_ineligible", "submitted", "ineligible"),
    ("start_review", "eligible", "under_review"), ("recommend", "under_review", "recommended"),
    ("not_recommend", "under_review", "not_recommended"), ("reserve", "under_review", "reserve"),
    ("approve", "recommended", "approved"), ("approve", "reserve", "approved"),
    ("reject", "recommended", "rejected"), ("reject", "not_recommended", "rejected"), ("reject", "reserve", "rejected"),
}


def test_the_table_declares_the_issue_s_workflow():
    declared = {(t.trigger, s, t.target) for t in APPLICATION_WORKFLOW.transitions.values() for s in t.sources
                if t.trigger != "withdraw"}
    assert declared == EXPECTED
    withdraw = APPLICATION_WORKFLOW["withdraw"]
    assert withdraw.target == "withdrawn" and withdraw.roles == {"applicant"}
    assert not withdraw.sources & {"approved", "rejected", "ineligible", "withdrawn"}
    assert {"draft", "submitted", "under_review", "reserve"} <= withdraw.sources
    for trigger in ("submit", "withdraw"):
        assert APPLICATION_WORKFLOW[trigger].roles == {"applicant"}
    for t in APPLICATION_WORKFLOW.transitions.values():
        if t.trigger not in ("submit", "withdraw"):
            assert t.roles == {"fund_manager"}, t.trigger
    assert {(t.trigger, tuple(t.sources), t.target) for t in CALL_WORKFLOW.transitions.values()} == {
        ("open", ("draft",), "open"), ("close", ("open",), "closed"), ("decide", ("closed",), "decided")}


@pytest.fixture
def submitted(app, make_user, rctx):
    user = make_user("applicant")
    application = f.make_application(user)
    operations.submit_application(application, f.user(user))
    db.session.commit()
    return application, f.user(user), f.manager()


def test_the_whole_path_to_approval_is_audited(submitted):
    application, applicant, fm = submitted
    for trigger in ("declare_eligible", "start_review", "recommend", "approve"):
        operations.transition(application, trigger, fm)
    db.session.commit()
    assert application.status == "approved"
    history = db.session.execute(select(ApplicationEvent).where(ApplicationEvent.application_id == application.id)
                                 .order_by(ApplicationEvent.id)).scalars().all()
    assert [(e.from_status, e.to_status) for e in history] == [
        ("draft", "submitted"), ("submitted", "eligible"), ("eligible", "under_review"),
        ("under_review", "recommended"), ("recommended", "approved")]
    audited = db.session.execute(select(AuditEvent.action).where(AuditEvent.entity_type == "application",
                                                                 AuditEvent.entity_id == str(application.id))
                                 ).scalars().all()
    for trigger in ("submit", "declare_eligible", "start_review", "recommend", "approve"):
        assert f"application.{trigger}" in audited
    with pytest.raises(Conflict):
        operations.withdraw_application(application, applicant)  # too late: decided


def test_who_may_trigger_and_from_where(submitted):
    application, applicant, fm = submitted
    with pytest.raises(FundError) as exc:
        operations.transition(application, "declare_eligible", applicant)
    assert exc.value.status == 403
    with pytest.raises(Conflict):
        operations.transition(application, "approve", fm)  # not from "submitted"
    with pytest.raises(FundError) as exc:
        operations.transition(application, "declare_ineligible", fm)  # needs a message
    assert exc.value.status == 422
    operations.transition(application, "declare_ineligible", fm, message="Registered less than a year ago.")
    assert application.status == "ineligible"


def test_applicants_see_plain_status_names(submitted):
    application, applicant, fm = submitted
    seen = []
    for trigger in ("declare_eligible", "start_review", "reserve", "reject"):
        seen.append(status_for(applicant, application))
        operations.transition(application, trigger, fm)
    seen.append(status_for(applicant, application))
    assert seen == [("received", "Received"), ("under_assessment", "Under assessment"),
                    ("under_assessment", "Under assessment"), ("under_assessment", "Under assessment"),
                    ("decision", "Decision")]
    assert status_for(fm, application) == ("rejected", "Rejected")


def test_a_later_feature_adds_a_guard_and_a_hook(submitted):
    application, applicant, fm = submitted
    calls = []

    def screening_done(app_, actor, data):
        return [] if data.get("checklist_done") else ["Complete the eligibility checklist first."]

    transition = APPLICATION_WORKFLOW["declare_eligible"]
    APPLICATION_WORKFLOW.add_guard("declare_eligible", screening_done)
    APPLICATION_WORKFLOW.add_hook("declare_eligible", lambda a, actor, data: calls.append(a.status))
    try:
        with pytest.raises(FundError) as exc:
            operations.transition(application, "declare_eligible", fm)
        assert "Complete the eligibility checklist first." in exc.value.message
        assert application.status == "submitted" and calls == []
        operations.transition(application, "declare_eligible", fm, checklist_done=True)
        assert application.status == "eligible" and calls == ["eligible"]
    finally:
        transition.guards.remove(screening_done)
        transition.hooks.clear()


def test_views_never_assign_status():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2] / "grants"
    for name in ("views.py", "api.py", "operations.py"):
        source = (root / name).read_text()
        assert ".status = " not in source, name


def test_a_refused_submission_leaves_no_trace(app, make_user, rctx):
    user = make_user("applicant")
    application = f.make_application(user, complete=False)
    db.session.commit()
    before = db.session.execute(select(AuditEvent.id)).scalars().all()
    with pytest.raises(FundError):
        operations.submit_application(application, f.user(user))
    db.session.rollback()
    assert db.session.execute(select(AuditEvent.id)).scalars().all() == before
    assert db.session.get(Application, application.id).status == "draft"
