"""Every write of the grants package: organisations, invitations, calls, applications, documents, submission.

Operations take objects and validated data, check the domain rules, write, audit in the same transaction and
flush; they never commit (the request boundary does). A refused operation raises FundError/Conflict and leaves
nothing half-written (the boundary rolls back; files stored meanwhile are deleted with the rollback).
"""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal

from flask import current_app, render_template, url_for
from flask_babel import force_locale, pgettext
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from fund import audit
from fund import operations as fund_ops
from fund.db import db, utcnow
from fund.errors import Conflict, FundError
from fund.mail import queue_mail
from fund.models import APPLICANT, User
from fund.money import round_money
from fund.pdf import render_pdf
from fund.storage import delete_after_commit, get_storage, put_in_transaction
from fund.uploads import XLSX, Upload
from grants import payee
from grants.checklist import budget_totals
from grants.models import (
    Application,
    ApplicationEvent,
    BeneficiaryCount,
    BudgetLine,
    Call,
    Criterion,
    Document,
    Invitation,
    Organisation,
    OrganisationAdmin,
    ReferenceCounter,
)
from grants.presenters import application_pdf_context
from grants.taxonomies import ACKNOWLEDGEMENT
from grants.workflow import APPLICATION_WORKFLOW, CALL_WORKFLOW, EDITABLE

INVITATION_DAYS = 7
# Organisations ------------------------------------------------------------------------------------------------

def create_organisation(user: User, data: dict) -> Organisation:
    """An applicant without an organisation creates its profile and becomes its first organisation admin."""
    if not user.has_any_role(APPLICANT):
        raise FundError(_("Only applicants create an organisation profile."), status=403)
    if user.organisation_id is not None:
        raise Conflict(_("Your account already belongs to an organisation."))
    org = Organisation()
    changes = audit.populate(org, data)
    db.session.add(org)
    db.session.flush()
    old = user.organisation_id
    user.organisation_id = org.id
    db.session.add(OrganisationAdmin(organisation_id=org.id, user_id=user.id))
    db.session.flush()
    audit.record("organisation.create", org, actor=user, summary=f"Organisation {org.name} created by {user.email}",
                 changes=payee.masked_changes(changes))
    payee.record_initial(org, user)
    audit.record("user.organisation", user, actor=user, summary=f"{user.email} joined organisation {org.id}",
                 changes={"organisation_id": [old, org.id]})
    return org


def update_organisation(org: Organisation, data: dict, actor: User) -> dict:
    """Change the profile. Bank fields left empty in ``data`` keep their value (they are never shown in full); a
    change of bank account goes through :func:`grants.payee.change_bank_details` (four eyes once a grant runs)."""
    bank = {k: data[k] for k in payee.BANK_FIELDS if data.get(k) not in (None, "")}
    data = {k: v for k, v in data.items() if k not in payee.BANK_FIELDS}
    changes = audit.populate(org, data)
    if changes:
        db.session.flush()
        audit.record("organisation.update", org, actor=actor, summary=f"Organisation {org.id} profile updated",
                     changes=payee.masked_changes(dict(changes)))
    change = payee.change_bank_details(org, bank, actor)
    if change is not None:
        changes["bank_details"] = [None, change.status]
    return changes


def store_psea_policy(org: Organisation, upload: Upload, actor: User) -> Document:
    doc = _store(upload, organisation_id=org.id, application_id=None, kind="psea_policy", actor=actor)
    audit.record("organisation.psea_policy", org, actor=actor,
                 summary=f"PSEA policy of organisation {org.id} uploaded ({doc.filename}, {doc.sha256[:12]}…)",
                 changes={"document_id": [None, doc.id], "sha256": [None, doc.sha256]})
    return doc


def promote_admin(org: Organisation, user: User, actor: User) -> None:
    if user.organisation_id != org.id:
        raise FundError(_("This person is not a member of the organisation."), status=404)
    exists = db.session.get(OrganisationAdmin, (org.id, user.id))
    if exists:
        return
    db.session.add(OrganisationAdmin(organisation_id=org.id, user_id=user.id))
    db.session.flush()
    audit.record("organisation.admin_added", org, actor=actor,
                 summary=f"{user.email} made an administrator of organisation {org.id}",
                 changes={"admin": [None, user.email]})


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="grants.invitation")


def invite(org: Organisation, email: str, actor: User) -> tuple[Invitation, str]:
    """Invite a colleague: a single-use link, valid for a week, sent through the outbox."""
    email = email.strip().lower()
    existing = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    if existing is not None and (existing.organisation_id is not None or not existing.has_any_role(APPLICANT)):
        raise FundError(_("This person already has an account that cannot join an organisation."),
                        fields={"email": [_("This address belongs to an account that cannot join.")]})
    nonce = secrets.token_urlsafe(24)
    inv = Invitation(organisation_id=org.id, email=email, nonce=nonce, invited_by_id=actor.id,
                     expires_at=utcnow() + dt.timedelta(days=INVITATION_DAYS))
    db.session.add(inv)
    db.session.flush()
    token = _serializer().dumps({"i": inv.id, "n": nonce})
    link = url_for("grants.accept_invitation", token=token, _external=True)
    language = actor.language or "en"
    with force_locale(language):
        subject = _("Invitation to join %(org)s on VTF Grants", org=org.name)
        body = render_template("grants/mail/invitation.txt", org=org.name, inviter=actor.name or actor.email,
                               link=link, days=INVITATION_DAYS)
    queue_mail(email, subject, body=body, kind="grants:invitation")
    audit.record("organisation.invitation", org, actor=actor, summary=f"{email} invited to organisation {org.id}",
                 changes={"invitation_id": [None, inv.id], "email": [None, email]})
    return inv, token


def load_invitation(token: str) -> Invitation:
    """The pending invitation a link names, or FundError (invalid, expired or already used)."""
    try:
        data = _serializer().loads(token, max_age=INVITATION_DAYS * 24 * 3600)
    except SignatureExpired as exc:
        raise FundError(_("This invitation has expired. Ask your colleague to invite you again."),
                        status=410) from exc
    except BadSignature as exc:
        raise FundError(_("This invitation link is not valid."), status=404) from exc
    inv = db.session.get(Invitation, data.get("i")) if isinstance(data, dict) else None
    if inv is None or not secrets.compare_digest(inv.nonce, str(data.get("n", ""))):
        raise FundError(_("This invitation link is not valid."), status=404)
    if inv.accepted_at is not None:
        raise FundError(_("This invitation has already been used."), status=410)
    if inv.expires_at <= utcnow():
        raise FundError(_("This invitation has expired. Ask your colleague to invite you again."), status=410)
    return inv


def accept_invitation(token: str, *, user: User | None = None, name: str | None = None,
                      password: str | None = None, language: str = "en") -> User:
    """Accept an invitation once: link the signed-in applicant, or create the invited person's account."""
    inv = load_invitation(token)
    if user is None:
        existing = db.session.execute(select(User.id).where(User.email == inv.email)).first()
        if existing:
            raise FundError(_("An account with this e-mail address exists: sign in first, then open the link again."),
                            status=409)
        user = fund_ops.create_user(inv.email, APPLICANT, password or "", name=name, language=language)
    else:
        if user.email != inv.email:
            raise FundError(_("This invitation was sent to %(email)s; you are signed in as %(me)s.",
                              email=inv.email, me=user.email), status=409)
        if not user.has_any_role(APPLICANT) or user.organisation_id is not None:
            raise Conflict(_("Your account already belongs to an organisation."))
    # Single use, even under concurrent requests: only one UPDATE finds the invitation unused.
    claimed = db.session.execute(
        update(Invitation).where(Invitation.id == inv.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=utcnow(), accepted_user_id=user.id)
    ).rowcount
    if claimed != 1:
        raise FundError(_("This invitation has already been used."), status=410)
    user.organisation_id = inv.organisation_id
    db.session.flush()
    audit.record("organisation.invitation_accepted", inv.organisation, actor=user,
                 summary=f"{user.email} joined organisation {inv.organisation_id} by invitation {inv.id}",
                 changes={"member": [None, user.email]})
    audit.record("user.organisation", user, actor=user, summary=f"{user.email} joined organisation "
                 f"{inv.organisation_id}", changes={"organisation_id": [None, inv.organisation_id]})
    return user


# Calls --------------------------------------------------------------------------------------------------------

def _set_criteria(call: Call, criteria: list[dict]) -> None:
    call.criteria.clear()
    db.session.flush()
    for pos, c in enumerate(criteria, start=1):
        call.criteria.append(Criterion(position=pos, name_en=c["name_en"], name_fr=c["name_fr"], weight=c["weight"]))


def create_call(data: dict, actor: User) -> Call:
    data = dict(data)
    criteria = data.pop("criteria")
    call = Call(status="draft")
    changes = audit.populate(call, data)
    db.session.add(call)
    _set_criteria(call, criteria)
    db.session.flush()
    changes["criteria"] = [None, criteria]
    audit.record("call.create", call, actor=actor, summary=f"Call {call.id} “{call.title_en}” created",
                 changes=changes)
    return call


def update_call(call: Call, data: dict, actor: User) -> dict:
    if call.status != "draft":
        raise Conflict(_("Only a draft call can be changed."))
    data = dict(data)
    criteria = data.pop("criteria", None)
    changes = audit.populate(call, data)
    if criteria is not None:
        old = [{"name_en": c.name_en, "name_fr": c.name_fr, "weight": c.weight} for c in call.criteria]
        if old != criteria:
            _set_criteria(call, criteria)
            changes["criteria"] = [old, criteria]
    if changes:
        db.session.flush()
        audit.record("call.update", call, actor=actor, summary=f"Call {call.id} updated", changes=changes)
    return changes


def call_transition(call: Call, trigger: str, actor: User) -> Call:
    """Open, close or mark decided (grants.workflow.CALL_WORKFLOW says from where and who)."""
    db.session.execute(select(Call.id).where(Call.id == call.id).with_for_update())
    return CALL_WORKFLOW.fire(call, trigger, actor)


def open_call(call: Call, actor: User) -> Call:
    return call_transition(call, "open", actor)


def close_call(call: Call, actor: User) -> Call:
    return call_transition(call, "close", actor)


# Applications -------------------------------------------------------------------------------------------------

def existing_application(organisation_id: int, call_id: int) -> Application | None:
    return db.session.execute(
        select(Application).where(Application.organisation_id == organisation_id, Application.call_id == call_id)
    ).scalar_one_or_none()


def create_application(call: Call, actor: User, data: dict | None = None) -> Application:
    """Start a draft for the actor's organisation. One application per organisation per call."""
    if actor.organisation_id is None:
        raise FundError(_("Create your organisation profile before applying."), status=409,
                        code="organisation_required")
    if not call.is_open_at(utcnow()):
        raise Conflict(_("This call is not open for applications."), fields={"call_id": [_("The call is not open.")]})
    earlier = existing_application(actor.organisation_id, call.id)
    if earlier is not None:
        raise Conflict(_("Your organisation already has an application to this call; only one is allowed."),
                       fields={"call_id": [_("Only one application per organisation per call.")]})
    application = Application(call=call, organisation_id=actor.organisation_id, status="draft",
                              created_by_id=actor.id, currency=call.currency, requested_amount=Decimal("0.00"),
                              countries=[], forms_of_exploitation=[], assistance_types=[])
    try:
        with db.session.begin_nested():
            db.session.add(application)
            db.session.flush()
    except IntegrityError as exc:  # a concurrent request created it first
        raise Conflict(_("Your organisation already has an application to this call; only one is allowed."),
                       fields={"call_id": [_("Only one application per organisation per call.")]}) from exc
    audit.record("application.create", application, actor=actor,
                 summary=f"Application {application.id} started by organisation {actor.organisation_id} for call "
                         f"{call.id}", changes={"call_id": [None, call.id], "status": [None, "draft"]})
    if data:
        update_application(application, data, actor)
    return application


def ensure_editable(application: Application) -> None:
    if application.status not in EDITABLE:
        raise Conflict(_("The application has been submitted and can no longer be changed."),
                       code="not_editable")


def _check_against_call(application: Application, data: dict) -> None:
    call, errors = application.call, {}
    if data.get("duration_months") and data["duration_months"] > call.max_duration_months:
        errors["duration_months"] = [_("At most %(n)d months for this call.", n=call.max_duration_months)]
    if call.eligible_countries and data.get("countries"):
        outside = [c for c in data["countries"] if c not in call.eligible_countries]
        if outside:
            errors["countries"] = [_("Not eligible for this call: %(c)s.", c=", ".join(outside))]
    if errors:
        raise FundError(_("Some answers do not fit the call."), fields=errors)


def update_application(application: Application, data: dict, actor: User) -> dict:
    """Save any of the application's fields (one section or several); budget and beneficiaries are replaced
    as a whole when given. The requested amount is recomputed from the budget lines."""
    ensure_editable(application)
    data = dict(data)
    _check_against_call(application, data)
    lines = data.pop("budget_lines", None)
    cells = data.pop("beneficiaries", None)
    changes = audit.populate(application, data)
    if lines is not None:
        old = [_line_dict(line) for line in application.budget_lines]
        new_lines = []
        for pos, line in enumerate(lines, start=1):
            total = round_money(line["quantity"] * line["unit_cost"], application.currency)
            new_lines.append(BudgetLine(position=pos, category=line["category"], description=line["description"],
                                        quantity=line["quantity"], unit_cost=line["unit_cost"], total=total))
        new = [_line_dict(line) for line in new_lines]
        if old != new:
            application.budget_lines.clear()
            db.session.flush()
            application.budget_lines.extend(new_lines)
            changes["budget_lines"] = [old, new]
        total = budget_totals(application)["total"]
        if total != application.requested_amount:
            changes["requested_amount"] = [application.requested_amount, total]
            application.requested_amount = total
    if cells is not None:
        old_cells = {(c.sex, c.age_band): c.count for c in application.beneficiaries}
        new_cells = {(c["sex"], c["age_band"]): c["count"] for c in cells if c["count"]}
        if old_cells != new_cells:
            application.beneficiaries.clear()
            db.session.flush()
            for (sex, band), count in sorted(new_cells.items()):
                application.beneficiaries.append(BeneficiaryCount(sex=sex, age_band=band, count=count))
            changes["beneficiaries"] = [{f"{s}/{b}": n for (s, b), n in old_cells.items()},
                                        {f"{s}/{b}": n for (s, b), n in new_cells.items()}]
    if changes:
        application.updated_at = utcnow()
        db.session.flush()
        audit.record("application.update", application, actor=actor,
                     summary=f"Application {application.id} saved ({', '.join(sorted(changes))})", changes=changes)
    return changes


def _line_dict(line: BudgetLine) -> dict:
    return {"category": line.category, "description": line.description, "quantity": str(line.quantity),
            "unit_cost": str(line.unit_cost), "total": str(line.total)}


# Documents ----------------------------------------------------------------------------------------------------

def _store(upload: Upload, *, organisation_id: int, application_id: int | None, kind: str,
           actor: User | None) -> Document:
    key = put_in_transaction(db.session, upload.data)
    doc = Document(organisation_id=organisation_id, application_id=application_id, kind=kind,
                   filename=upload.filename, content_type=upload.content_type, size=upload.size,
                   sha256=upload.sha256, storage_key=key, uploaded_by_id=getattr(actor, "id", None))
    db.session.add(doc)
    db.session.flush()
    return doc


#: Kinds of application document that must be of one type: the detailed budget is a spreadsheet.
SPREADSHEET_KINDS = frozenset({"budget_workbook"})


def check_document_type(kind: str, upload: Upload, sent_name: str | None = None) -> None:
    """A document of a kind that must be a spreadsheet is an Excel workbook by its content (the package
    declares a workbook) and, when the name it was sent with is known, by its extension: a PDF is not a budget
    workbook. Raises FundError (422) with the message under ``file``."""
    if kind not in SPREADSHEET_KINDS:
        return
    extension = (sent_name or "").rsplit(".", 1)[-1].lower() if sent_name and "." in sent_name else None
    if upload.content_type != XLSX or (sent_name is not None and extension != "xlsx"):
        message = _("The detailed budget must be a spreadsheet: upload an Excel workbook (.xlsx).")
        raise FundError(message, fields={"file": [message]}, code="not_a_spreadsheet")


def add_document(application: Application, upload: Upload, kind: str, actor: User,
                 sent_name: str | None = None) -> Document:
    """Add a document to an application; ``sent_name`` is the file's name as sent (for its extension)."""
    ensure_editable(application)
    check_document_type(kind, upload, sent_name)
    doc = _store(upload, organisation_id=application.organisation_id, application_id=application.id, kind=kind,
                 actor=actor)
    audit.record("document.upload", doc, actor=actor,
                 summary=f"Document {doc.id} ({kind}, {doc.filename}) added to application {application.id}",
                 changes={"application_id": [None, application.id], "sha256": [None, doc.sha256],
                          "size": [None, doc.size], "content_type": [None, doc.content_type]})
    return doc


def delete_document(doc: Document, actor: User) -> None:
    if doc.application_id is not None:
        ensure_editable(db.session.get(Application, doc.application_id))
    key = doc.storage_key
    audit.record("document.delete", doc, actor=actor, summary=f"Document {doc.id} ({doc.filename}) removed",
                 changes={"sha256": [doc.sha256, None], "application_id": [doc.application_id, None]})
    db.session.delete(doc)
    db.session.flush()
    delete_after_commit(db.session, key)


def read_document(doc: Document, actor: User) -> bytes:
    """The document's bytes for a download; every download is audited."""
    data = get_storage().get(doc.storage_key)
    audit.record("document.download", doc, actor=actor,
                 summary=f"Document {doc.id} ({doc.filename}) downloaded by {getattr(actor, 'email', 'system')}")
    return data


# Submission and the other transitions ---------------------------------------------------------------------------

def _lock(application: Application) -> Application:
    """Re-read the application under a row lock (PostgreSQL; SQLite transactions are already exclusive)."""
    db.session.execute(select(Application.id).where(Application.id == application.id).with_for_update())
    db.session.refresh(application)
    return application


def _next_reference(call: Call) -> str:
    """VTF-<year the call opens>-<window code>-<sequence>. The sequence counts the applications submitted under
    that year and window (one call per window and year in practice, so it is the call's sequence) and is taken
    with an insert-if-missing then one atomic UPDATE ... RETURNING, so concurrent submissions never share it."""
    prefix = f"VTF-{call.opens_at.year}-{call.window_code}"
    table = ReferenceCounter.__table__
    dialect_insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(dialect_insert(table).values(prefix=prefix, last=0).on_conflict_do_nothing(
        index_elements=["prefix"]))
    seq = db.session.execute(
        update(table).where(table.c.prefix == prefix).values(last=table.c.last + 1).returning(table.c.last)
    ).scalar_one()
    return f"{prefix}-{seq:04d}"


def submit_application(application: Application, actor: User, *, now: dt.datetime | None = None) -> Document:
    """Submit (or resubmit after a revision): the guards check the call is open by server time and the
    application complete. Gives a reference number, closes the fund's open requests, stores the PDF
    acknowledgement of what was submitted and e-mails the organisation. Returns the acknowledgement."""
    _lock(application)
    now = now or utcnow()
    first = application.reference is None
    APPLICATION_WORKFLOW.fire(application, "submit", actor, now=now)
    if first:
        application.reference = _next_reference(application.call)
    application.submitted_at = now
    db.session.execute(
        update(ApplicationEvent).where(ApplicationEvent.application_id == application.id,
                                       ApplicationEvent.trigger == "return", ApplicationEvent.resolved_at.is_(None))
        .values(resolved_at=now)
    )
    db.session.flush()
    audit.record("application.reference", application, actor=actor,
                 summary=f"Application {application.id} submitted as {application.reference}",
                 changes={"reference": [None if first else application.reference, application.reference],
                          "submitted_at": [None, now], "requested_amount": [None, application.requested_amount]})
    ack = _acknowledgement(application, actor, now)
    _mail_organisation(application, "submitted", actor, ack_url=url_for("grants.download_document",
                                                                           document_id=ack.id, _external=True))
    return ack


def _acknowledgement(application: Application, actor: User, now: dt.datetime) -> Document:
    language = actor.language if actor.language in ("en", "fr") else "en"
    with force_locale(language):
        context = application_pdf_context(application, now)
        pdf = render_pdf("grants/pdf/acknowledgement.html", context)
        # The file's name in the applicant's language too (letters, digits and hyphens only).
        suffix = pgettext("file name", "acknowledgement")
        name = f"{application.reference}-{suffix}.pdf"
    from fund.uploads import check_bytes

    upload = check_bytes(pdf, name)
    doc = _store(upload, organisation_id=application.organisation_id, application_id=application.id,
                 kind=ACKNOWLEDGEMENT, actor=actor)
    audit.record("document.acknowledgement", doc, actor=actor,
                 summary=f"Acknowledgement of {application.reference} stored (sha256 {doc.sha256[:12]}…)",
                 changes={"application_id": [None, application.id], "sha256": [None, doc.sha256]})
    return doc


def _mail_organisation(application: Application, template: str, actor: User, **ctx) -> None:
    link = url_for("grants.application_overview", application_id=application.id, _external=True)
    for email, language in application.organisation.recipients(actor.language or "en"):
        with force_locale(language):
            subject = {
                "submitted": _("Application %(ref)s received", ref=application.reference),
                "returned": _("Application %(ref)s returned for revision", ref=application.reference),
                "withdrawn": _("Application %(ref)s withdrawn", ref=application.reference or application.id),
            }[template]
            body = render_template(f"grants/mail/{template}.txt", application=application,
                                   title=application.call.title(language), link=link, **ctx)
        queue_mail(email, subject, body=body, kind=f"grants:application_{template}")


def withdraw_application(application: Application, actor: User, message: str | None = None) -> Application:
    _lock(application)
    APPLICATION_WORKFLOW.fire(application, "withdraw", actor, message=message)
    if application.reference:
        _mail_organisation(application, "withdrawn", actor)
    return application


def return_application(application: Application, message: str, actor: User) -> Application:
    """A fund manager returns a submitted application for revision, saying what is needed."""
    _lock(application)
    APPLICATION_WORKFLOW.fire(application, "return", actor, message=message)
    _mail_organisation(application, "returned", actor, message=message)
    return application


def transition(application: Application, trigger: str, actor: User, **data) -> Application:
    """Any other transition of the workflow (screening, review and decision screens use this)."""
    _lock(application)
    return APPLICATION_WORKFLOW.fire(application, trigger, actor, **data)


def open_requests(organisation_id: int) -> list[tuple[ApplicationEvent, Application]]:
    """The fund's unanswered requests (returns for revision) to an organisation, newest first."""
    rows = db.session.execute(
        select(ApplicationEvent, Application)
        .join(Application, Application.id == ApplicationEvent.application_id)
        .where(Application.organisation_id == organisation_id, ApplicationEvent.trigger == "return",
               ApplicationEvent.resolved_at.is_(None))
        .order_by(ApplicationEvent.id.desc())
    ).all()
    return [(ev, app) for ev, app in rows]

