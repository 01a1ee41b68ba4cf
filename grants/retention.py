"""The grants package's classes of the retention schedule (see :mod:`fund.retention`).

- ``unsuccessful_application_documents``: the documents of applications declared ineligible, rejected by the
  Board, or withdrawn after submission, counted from that decision (the application's history row). The
  application itself, its answers and its history stay: the fund reports on calls and decisions.
- ``withdrawn_drafts``: applications never submitted, counted from their withdrawal, or from the closing of
  the call for a draft left unfinished; the application goes with its documents, budget and history.
- ``closed_grant_files``: the documents of a grant closed or terminated (the signed agreement, audit reports,
  the application's documents), counted from its closure. The grant, its disbursements, reports and refunds
  stay, with the ledger.
- ``expired_invitations``: invitations to join an organisation (they hold an e-mail address), counted from
  their acceptance or expiry.

Stored files go through :func:`fund.storage.delete_after_commit`: they are removed once the purge commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from flask import Flask
from sqlalchemy import Select, and_, delete, exists, func, or_, select, update

from fund import storage
from fund.db import db
from fund.retention import RetentionClass, register
from grants.models import (
    Application,
    ApplicationEvent,
    BeneficiaryCount,
    BudgetLine,
    Call,
    Document,
    Invitation,
)

#: Application statuses that end in no grant, once decided.
UNSUCCESSFUL = ("ineligible", "rejected", "withdrawn")
#: Grants whose file is complete.
FINISHED_GRANTS = ("closed", "terminated")


def _decided_before(cutoff: dt.datetime):
    """The application entered its current status before ``cutoff`` (its history says when)."""
    return exists(
        select(ApplicationEvent.id).where(
            ApplicationEvent.application_id == Application.id,
            ApplicationEvent.to_status == Application.status,
            ApplicationEvent.occurred_at < cutoff,
        )
    )


def purge_documents(ids: Sequence[int]) -> int:
    """Delete documents and, once the transaction commits, their stored files. References from a grant (its
    signed agreement) and from reports (their audit document) are cleared first."""
    from grants.awards.models import Grant, GrantReport

    keys = list(db.session.execute(select(Document.storage_key).where(Document.id.in_(ids))).scalars())
    db.session.execute(update(Grant).where(Grant.signed_document_id.in_(ids)).values(signed_document_id=None)
                       .execution_options(synchronize_session=False))
    db.session.execute(update(GrantReport).where(GrantReport.audit_document_id.in_(ids))
                       .values(audit_document_id=None).execution_options(synchronize_session=False))
    count = db.session.execute(delete(Document).where(Document.id.in_(ids))
                               .execution_options(synchronize_session=False)).rowcount
    for key in keys:
        storage.delete_after_commit(db.session, key)
    return count


def _unsuccessful_documents_due(cutoff: dt.datetime) -> Select:
    unsuccessful = and_(
        Application.status.in_(UNSUCCESSFUL),
        or_(Application.status != "withdrawn", Application.submitted_at.is_not(None)),
        _decided_before(cutoff),
    )
    return (select(Document.id).join(Application, Document.application_id == Application.id)
            .where(unsuccessful).order_by(Document.id))


def _drafts_due(cutoff: dt.datetime) -> Select:
    withdrawn = and_(Application.status == "withdrawn", _decided_before(cutoff))
    abandoned = and_(Application.status == "draft", Call.closes_at < cutoff)
    return (select(Application.id).join(Call, Application.call_id == Call.id)
            .where(Application.submitted_at.is_(None), or_(withdrawn, abandoned)).order_by(Application.id))


def _drafts_purge(ids: Sequence[int]) -> int:
    documents = list(db.session.execute(select(Document.id).where(Document.application_id.in_(ids))).scalars())
    if documents:
        purge_documents(documents)
    for child in (BudgetLine, BeneficiaryCount, ApplicationEvent):
        db.session.execute(delete(child).where(child.application_id.in_(ids))
                           .execution_options(synchronize_session=False))
    return db.session.execute(delete(Application).where(Application.id.in_(ids), Application.submitted_at.is_(None))
                              .execution_options(synchronize_session=False)).rowcount


def _grant_files_due(cutoff: dt.datetime) -> Select:
    from grants.awards.models import Grant, GrantReport

    finished = and_(Grant.status.in_(FINISHED_GRANTS), Grant.closed_at < cutoff)
    return select(Document.id).where(or_(
        Document.application_id.in_(select(Grant.application_id).where(finished)),
        Document.id.in_(select(Grant.signed_document_id).where(finished, Grant.signed_document_id.is_not(None))),
        Document.id.in_(select(GrantReport.audit_document_id).join(Grant, GrantReport.grant_id == Grant.id)
                        .where(finished, GrantReport.audit_document_id.is_not(None))),
    )).order_by(Document.id)


def _invitations_due(cutoff: dt.datetime) -> Select:
    ended = func.coalesce(Invitation.accepted_at, Invitation.expires_at)
    return select(Invitation.id).where(ended < cutoff).order_by(Invitation.id)


def _invitations_purge(ids: Sequence[int]) -> int:
    return db.session.execute(delete(Invitation).where(Invitation.id.in_(ids))
                              .execution_options(synchronize_session=False)).rowcount


def init_app(app: Flask) -> None:
    register(app, RetentionClass(
        "unsuccessful_application_documents", "documents of unsuccessful applications",
        _unsuccessful_documents_due, purge_documents, ("document",)))
    register(app, RetentionClass(
        "withdrawn_drafts", "applications withdrawn or abandoned before submission",
        _drafts_due, _drafts_purge,
        ("application", "document", "budget_line", "application_beneficiary", "application_event")))
    register(app, RetentionClass(
        "closed_grant_files", "documents of grants closed or terminated", _grant_files_due, purge_documents,
        ("document",)))
    register(app, RetentionClass(
        "expired_invitations", "invitations accepted or expired", _invitations_due, _invitations_purge,
        ("organisation_invitation",)))
