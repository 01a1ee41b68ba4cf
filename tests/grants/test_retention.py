"""The grants classes of the retention schedule, run through ``fund.retention.run`` with the clock moved on:
what falls due goes (rows and stored files), what does not stays, money and the audit trail are untouched,
and a second run purges nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import func, select

from fund import audit, retention, storage
from fund.accounting import figures, ledger
from fund.audit import AuditEvent
from fund.db import db, utcnow
from fund.models import User
from grants import operations as grant_ops
from grants.awards import operations as award_ops
from grants.awards.models import Disbursement, Grant
from grants.models import Application, BudgetLine, Document, Invitation
from tests.grants import factories as f
from tests.grants.awards import factories as af
from tests.object_store import new_bucket, object_names

DAY = dt.timedelta(days=1)


def _applicant(name: str) -> User:
    from fund import operations as fund_ops

    return fund_ops.create_user(f"{name}@example.org", "applicant", "correct-horse-battery")


def _submitted(name: str, call=None) -> Application:
    user = _applicant(name)
    application = f.make_application(user, call)
    with mock.patch("grants.operations.render_pdf", af._quick_acknowledgement):
        grant_ops.submit_application(application, user)
    return application


def _keys(application_id: int) -> set[str]:
    return set(db.session.execute(select(Document.storage_key).where(Document.application_id == application_id))
               .scalars())


def _purge_events() -> dict[str, list[int]]:
    rows = db.session.execute(select(AuditEvent).where(AuditEvent.action == "retention.purge")).scalars()
    found: dict[str, list[int]] = {}
    for ev in rows:
        found.setdefault(ev.entity_id, []).append(ev.changes["records"][0])
    return found


def test_the_schedule_purges_what_falls_due_and_nothing_else(rctx):
    store = storage.get_storage()
    fm = f.manager()
    call = f.make_call()

    rejected = af.recommended_application(_applicant("rejected"))
    grant_ops.transition(rejected, "reject", fm)
    ineligible = _submitted("ineligible", call)
    grant_ops.transition(ineligible, "declare_ineligible", fm, message="Outside the mandate.")
    pending = _submitted("pending", call)
    late_withdrawal = _submitted("late", call)
    grant_ops.withdraw_application(late_withdrawal, db.session.get(User, late_withdrawal.created_by_id))
    draft_user = _applicant("draft")
    withdrawn_draft = f.make_application(draft_user, call)
    grant_ops.withdraw_application(withdrawn_draft, draft_user)
    other_call = f.make_call()
    abandoned = f.make_application(_applicant("abandoned"), other_call)
    other_call.closes_at = utcnow() - DAY  # the clock moves on: the call closes with the draft unfinished

    grant = af.make_grant()
    award_ops.terminate(grant, fm, "The organisation closed.")
    org_of_grant = grant.organisation_id
    grant_keys = _keys(grant.application_id)
    inv = Invitation(organisation_id=org_of_grant, email="invitee@example.org", nonce="n" * 32,
                     expires_at=utcnow() + 7 * DAY)
    db.session.add(inv)
    db.session.commit()
    invitation = inv.id

    rejected, ineligible, pending, late_withdrawal, withdrawn_draft, abandoned = (
        a.id for a in (rejected, ineligible, pending, late_withdrawal, withdrawn_draft, abandoned))
    grant_id, grant_application = grant.id, grant.application_id
    keys = {a: _keys(a) for a in (rejected, ineligible, pending, late_withdrawal, withdrawn_draft, abandoned)}
    psea = set(db.session.execute(select(Document.storage_key).where(Document.application_id.is_(None))).scalars())
    assert all(keys.values()) and psea and grant_keys
    assert all(store.exists(k) for ks in keys.values() for k in ks | psea | grant_keys)
    position = figures.fund_position().as_dict()
    budget_lines = db.session.execute(select(func.count()).select_from(BudgetLine)).scalar_one()
    disbursements = db.session.execute(select(func.count()).select_from(Disbursement)).scalar_one()

    # A year and a day on: the drafts never submitted go, with their documents and budget lines, and so does
    # the invitation that expired almost a year ago.
    now = utcnow() + 366 * DAY
    assert retention.due_counts(now)["withdrawn_drafts"] == 2
    retention.run(now=now)
    db.session.remove()
    assert db.session.get(Application, withdrawn_draft) is None
    assert db.session.get(Application, abandoned) is None
    assert not any(store.exists(k) for k in keys[withdrawn_draft] | keys[abandoned])
    assert db.session.execute(select(func.count()).select_from(BudgetLine)).scalar_one() == budget_lines - 6
    assert db.session.get(Invitation, invitation) is None
    # Not yet two years after the decisions: every other document is still there.
    for app_id in (rejected, ineligible, pending, late_withdrawal):
        assert _keys(app_id) == keys[app_id] and all(store.exists(k) for k in keys[app_id])
    assert _purge_events() == {"withdrawn_drafts": [2], "expired_invitations": [1]}

    # Two years on: the documents of the unsuccessful applications go; the applications themselves stay.
    now = utcnow() + 731 * DAY
    retention.run(now=now)
    db.session.remove()
    for app_id in (rejected, ineligible, late_withdrawal):
        assert db.session.get(Application, app_id) is not None
        assert _keys(app_id) == set()
        assert not any(store.exists(k) for k in keys[app_id])
    assert _keys(pending) == keys[pending] and all(store.exists(k) for k in keys[pending])
    assert _keys(grant_application) == grant_keys
    purged_documents = sum(len(keys[a]) for a in (rejected, ineligible, late_withdrawal))
    assert _purge_events()["unsuccessful_application_documents"] == [purged_documents]

    # Seven years after the grant's termination: its file goes; the grant, its money and the ledger stay.
    now = utcnow() + 2558 * DAY
    retention.run(now=now)
    db.session.remove()
    assert _keys(grant_application) == set()
    assert not any(store.exists(k) for k in grant_keys)
    assert db.session.get(Grant, grant_id).status == "terminated"
    assert db.session.execute(select(func.count()).select_from(Disbursement)).scalar_one() == disbursements
    assert _keys(pending) == keys[pending]
    assert all(store.exists(k) for k in psea)
    assert ledger.unbalanced_entries() == []
    assert figures.fund_position().as_dict() == position
    assert audit.verify().ok

    # And again: nothing left to purge, nothing audited.
    events = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    outcomes = retention.run(now=now)
    assert sum(o.purged for o in outcomes) == 0
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == events


def test_a_purge_that_fails_keeps_rows_and_files(rctx):
    """The class's transaction rolls back as a whole: no row deleted, no file removed, no audit event."""
    store = storage.get_storage()
    fm = f.manager()
    application = _submitted("failing")
    grant_ops.transition(application, "declare_ineligible", fm, message="Outside the mandate.")
    db.session.commit()
    application = application.id
    keys = _keys(application)
    events = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()

    def record_fails(*args, **kwargs):
        raise RuntimeError("audit unavailable")

    with mock.patch("fund.retention.audit.record", record_fails):
        try:
            retention.run(now=utcnow() + 731 * DAY)
        except RuntimeError:
            pass
        else:
            raise AssertionError("the purge should have failed")
    db.session.remove()
    assert _keys(application) == keys and all(store.exists(k) for k in keys)
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == events


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_purged_documents_leave_the_storage_backend(app, backend, request):
    """The same purge against the local directory and a real S3-compatible server: the objects of purged
    documents are gone from the store itself, those of documents not due are still there."""
    if backend == "s3":
        endpoint = request.getfixturevalue("s3_server")
        bucket = new_bucket(endpoint)
        url = f"s3://{bucket}/fund/files"
        names = lambda: {n.removeprefix("fund/files/") for n in object_names(endpoint, bucket)}  # noqa: E731
    else:
        root = Path(app.config["STORAGE_DIR"])
        url, endpoint = root.as_uri(), ""
        names = lambda: {p.name for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")}  # noqa: E731
    old = app.config.get("STORAGE_URL"), app.config.get("STORAGE_S3_ENDPOINT_URL")
    app.config["STORAGE_URL"], app.config["STORAGE_S3_ENDPOINT_URL"] = url, endpoint
    try:
        with app.test_request_context():
            fm = f.manager()
            call = f.make_call()
            ineligible = _submitted("ineligible", call)
            grant_ops.transition(ineligible, "declare_ineligible", fm, message="Outside the mandate.")
            pending = _submitted("pending", call)
            db.session.commit()
            due, kept = _keys(ineligible.id), _keys(pending.id)
            assert due and kept and due | kept <= names()

            retention.run(now=utcnow() + 731 * DAY)
            stored = names()
            assert not due & stored
            assert kept <= stored
            db.session.remove()
    finally:
        app.config["STORAGE_URL"], app.config["STORAGE_S3_ENDPOINT_URL"] = old
