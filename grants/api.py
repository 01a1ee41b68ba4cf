"""JSON API of the grants package: organisations, calls, applications, documents, submission.

Every handler loads its objects, checks permission once (``ensure_view``/``ensure_edit``, or the object rule of
:func:`fund.openapi.action` before the body is read: someone else's organisation, application or document is a
404), validates with a schema, calls one operation and returns.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select
from sqlalchemy.orm import defaultload, joinedload, load_only, raiseload

from fund.db import db
from fund.errors import FundError
from fund.listing import list_page
from fund.models import ADMIN, APPLICANT, AUDITOR, FINANCE_OFFICER, FUND_MANAGER, REVIEWER
from fund.openapi import action, binary_response
from fund.permissions import ANY_ROLE, access, ensure_view, guarded
from fund.response_cache import cached
from fund.schemas import FileUploadIn, InSchema, paged
from fund.uploads import ALLOWED, check_upload
from grants import operations
from grants.checklist import checklist
from grants.downloads import document_response, translate_upload_errors
from grants.models import Application, Call, Document, Organisation
from grants.permissions import can_see_bank_details
from grants.presenters import (
    SUMMARY_COLUMNS,
    application_dict,
    application_summaries,
    call_dict,
    document_dict,
    organisation_dict,
)
from grants.schemas import (
    ApplicationCreateIn,
    ApplicationFields,
    ApplicationOut,
    ApplicationQuery,
    ApplicationSummaryOut,
    CallIn,
    CallOut,
    CallQuery,
    DocumentOut,
    DocumentUploadIn,
    OrganisationChanges,
    OrganisationIn,
    OrganisationOut,
    OrganisationQuery,
)
from grants.workflow import APPLICANT_STATUS_LABELS, states_for_applicant_status

blp = Blueprint("grants_api", __name__, url_prefix="/api/v1", description="Calls, organisations, applications")

APPLICATION_READERS = (APPLICANT, FUND_MANAGER, ADMIN, AUDITOR)
#: An assigned reviewer reads the application and its documents once they have declared no conflict of interest.
CONTENT_READERS = (*APPLICATION_READERS, REVIEWER)
ORGANISATION_READERS = (APPLICANT, FUND_MANAGER, FINANCE_OFFICER, ADMIN, AUDITOR)


def require_fields(data: dict) -> None:
    """A PATCH must change something: an empty body is a 422, not a silent success."""
    if not data:
        message = _("Give at least one field to change.")
        raise FundError(message, fields={"_schema": [message]})


class ReturnBody(InSchema):
    message = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class WithdrawBody(InSchema):
    message = fields.String(load_default=None, validate=validate.Length(max=5000))


# Organisations ------------------------------------------------------------------------------------------------

@action(blp, "/organisations", roles=(APPLICANT,), body=OrganisationIn, response=OrganisationOut, status=201)
def create_organisation(data):
    """Create the caller's organisation profile (the caller becomes its administrator)."""
    org = operations.create_organisation(current_user, data)
    return organisation_dict(org, current_user)


@blp.route("/organisations/<int:organisation_id>")
@access(*ORGANISATION_READERS)
@guarded(Organisation, "organisation_id")
@blp.arguments(OrganisationQuery, location="query")
@blp.response(200, OrganisationOut)
def get_organisation(args, organisation_id):
    """An organisation profile. Bank details are masked; ``?bank_details=full`` (finance officers only) shows
    them in full and is recorded in the audit trail."""
    org = db.session.get(Organisation, organisation_id)  # permission checked by @guarded
    full = args["bank_details"] == "full"
    if full and not can_see_bank_details(current_user):
        raise FundError(_("Only finance officers may see full bank details."), status=403)
    return organisation_dict(org, current_user, full_bank=full)


@action(blp, "/organisations/<int:organisation_id>", roles=(APPLICANT,), model=Organisation, arg="organisation_id",
        body=OrganisationChanges(partial=True), response=OrganisationOut, methods=("PATCH",))
def update_organisation(data, organisation_id):
    """Change the profile (an administrator of the organisation; the fields given only). A new bank account
    waits for a finance officer's verification once a grant is running, as in the portal."""
    require_fields(data)
    org = db.session.get(Organisation, organisation_id)  # permission checked by @action
    operations.update_organisation(org, data, current_user)
    return organisation_dict(org, current_user)


@action(blp, "/organisations/<int:organisation_id>/psea-policy", roles=(APPLICANT,), model=Organisation,
        arg="organisation_id", body=FileUploadIn, upload=True, response=OrganisationOut)
def upload_psea_policy(data, organisation_id):
    """Upload the organisation's policy on protection from sexual exploitation and abuse (multipart ``file``);
    an application cannot be submitted without it. A new upload replaces the previous policy."""
    org = db.session.get(Organisation, organisation_id)  # permission checked by @action
    with translate_upload_errors():
        upload = check_upload(data["file"])
    operations.store_psea_policy(org, upload, current_user)
    return organisation_dict(org, current_user)


# Calls --------------------------------------------------------------------------------------------------------

@action(blp, "/calls", roles=(FUND_MANAGER,), body=CallIn, response=CallOut, status=201)
def create_call(data):
    """Create a call for proposals (draft)."""
    return call_dict(operations.create_call(data, current_user))


@blp.route("/calls")
@access(ANY_ROLE)
@blp.arguments(CallQuery, location="query")
@blp.response(200, paged(CallOut))
def list_calls(args):
    """Calls for proposals, newest first. Draft calls are listed to fund managers only."""
    query = select(Call)
    if not current_user.has_any_role(FUND_MANAGER, ADMIN, AUDITOR):
        query = query.where(Call.status != "draft")
    return list_page(query, args, filters={"status": Call.status}, present=lambda calls: map(call_dict, calls))


@blp.route("/calls/<int:call_id>")
@access(ANY_ROLE)
@blp.response(200, CallOut)
def get_call(call_id):
    """A call for proposals with its criteria (a draft call: fund managers only)."""
    return call_dict(ensure_view(db.session.get(Call, call_id)))


@action(blp, "/calls/<int:call_id>/open", roles=(FUND_MANAGER,), model=Call, arg="call_id", response=CallOut)
def open_call(call_id):
    return call_dict(operations.open_call(db.session.get(Call, call_id), current_user))


@action(blp, "/calls/<int:call_id>/close", roles=(FUND_MANAGER,), model=Call, arg="call_id", response=CallOut)
def close_call(call_id):
    return call_dict(operations.close_call(db.session.get(Call, call_id), current_user))


# Applications -------------------------------------------------------------------------------------------------

@action(blp, "/applications", roles=(APPLICANT,), body=ApplicationCreateIn, response=ApplicationOut, status=201)
def create_application(data):
    """Start the caller's organisation's application to an open call; other fields may be given at once."""
    call_id = data.pop("call_id")
    call = db.session.get(Call, call_id)
    if call is None or call.status == "draft":
        raise FundError(_("There is no such call."), fields={"call_id": [_("There is no such call.")]})
    return application_dict(operations.create_application(call, current_user, data), current_user)


@action(blp, "/applications/<int:application_id>", roles=(APPLICANT,), model=Application, arg="application_id",
        body=ApplicationFields(partial=True), response=ApplicationOut, methods=("PATCH",))
def update_application(data, application_id):
    """Save fields of a draft (or returned) application; ``budget_lines`` and ``beneficiaries`` replace the
    whole list when given."""
    require_fields(data)
    application = db.session.get(Application, application_id)  # permission checked by @action
    operations.update_application(application, data, current_user)
    return application_dict(application, current_user)


@blp.route("/applications/<int:application_id>")
@access(*CONTENT_READERS)
@blp.response(200, ApplicationOut)
def get_application(application_id):
    """An application in full: to its organisation, the fund, and a reviewer assigned to it who has declared no
    conflict of interest (before the declaration, or after declaring a conflict, a 404)."""
    # One statement for the application, its call and organisation (joined by default) and its beneficiary
    # counts (a few cells); the budget lines and the documents are one more each. The call's criteria are not read.
    application = ensure_view(db.session.execute(
        select(Application).where(Application.id == application_id)
        .options(defaultload(Application.call).lazyload(Call.criteria), joinedload(Application.beneficiaries))
    ).unique().scalar_one_or_none())
    return application_dict(application, current_user)


#: A page of applications reads their own list columns only: no call, organisation, document or budget.
APPLICATION_PAGE = (load_only(*(getattr(Application, c) for c in (*SUMMARY_COLUMNS, "status")), raiseload=True),
                    raiseload("*"))


@blp.route("/applications")
@access(*APPLICATION_READERS)
@cached
@blp.arguments(ApplicationQuery, location="query")
@blp.response(200, paged(ApplicationSummaryOut))
def list_applications(args):
    """Applications: an applicant's own organisation's; every application for the fund. ``status`` takes the
    plain status names for applicants, workflow states for the fund."""
    query = select(Application).options(*APPLICATION_PAGE)
    if current_user.has_any_role(FUND_MANAGER, ADMIN, AUDITOR):
        if args.get("status") in APPLICANT_STATUS_LABELS and args["status"] not in ("draft", "returned",
                                                                                   "withdrawn"):
            query = query.where(Application.status.in_(states_for_applicant_status(args["status"])))
        elif args.get("status"):
            query = query.where(Application.status == args["status"])
    else:
        query = query.where(Application.organisation_id == current_user.organisation_id)
        if args.get("status"):
            if args["status"] not in APPLICANT_STATUS_LABELS:
                raise FundError(_("The data sent is not valid."), fields={"status": [
                    _("Use one of: %(codes)s.", codes=", ".join(APPLICANT_STATUS_LABELS))]})
            query = query.where(Application.status.in_(states_for_applicant_status(args["status"])))
    return list_page(query, args, filters={"call_id": Application.call_id},
                     present=lambda applications: application_summaries(applications, current_user))


@action(blp, "/applications/<int:application_id>/documents", roles=(APPLICANT,), model=Application,
        arg="application_id", body=DocumentUploadIn, upload=True, response=DocumentOut, status=201)
def upload_document(data, application_id):
    """Upload a document (multipart: ``kind`` and ``file``). PDF, DOCX, XLSX, JPEG or PNG, recognised from
    the content; the detailed budget (``budget_workbook``) only an Excel workbook named .xlsx (422 otherwise);
    larger than the limit is a 413."""
    application = db.session.get(Application, application_id)  # permission checked by @action
    operations.ensure_editable(application)
    with translate_upload_errors():
        upload = check_upload(data["file"])
    return document_dict(operations.add_document(application, upload, data["kind"], current_user,
                                                 sent_name=data["file"].filename))


@blp.route("/documents/<int:document_id>")
@access(*CONTENT_READERS)
@blp.doc(responses=binary_response(*ALLOWED, description="The file, as an attachment, in its own media type."))
def get_document(document_id):
    """Download a document (always as an attachment; every download is audited)."""
    doc = ensure_view(db.session.get(Document, document_id))
    return document_response(doc)


@action(blp, "/applications/<int:application_id>/submit", roles=(APPLICANT,), model=Application,
        arg="application_id", response=ApplicationOut)
def submit_application(application_id):
    """Submit: only while the call is open (server time) and when the application is complete. An incomplete
    application is a 422 whose ``fields`` name the sections still to complete (``organisation``, ``project``,
    ``location``, ``focus``, ``beneficiaries``, ``approach``, ``budget``, ``documents``)."""
    application = db.session.get(Application, application_id)  # permission checked by @action
    try:
        operations.submit_application(application, current_user)
    except FundError as exc:
        if exc.code != "guard_failed":
            raise
        by_section: dict[str, list[str]] = {}
        for item in checklist(application):
            if not item.done:
                by_section.setdefault(item.section, []).append(str(item.problem or item.label))
        known = {m for messages in by_section.values() for m in messages}
        general = [m for m in exc.fields.get("_schema", []) if str(m) not in known]
        raise FundError(exc.message, fields={**by_section, **({"_schema": general} if general else {})},
                        code=exc.code) from None
    return application_dict(application, current_user)


@action(blp, "/applications/<int:application_id>/withdraw", roles=(APPLICANT,), model=Application,
        arg="application_id", body=WithdrawBody(), body_required=False, response=ApplicationOut)
def withdraw_application(data, application_id):
    application = db.session.get(Application, application_id)  # permission checked by @action
    operations.withdraw_application(application, current_user, (data or {}).get("message"))
    return application_dict(application, current_user)


@action(blp, "/applications/<int:application_id>/return", roles=(FUND_MANAGER,), model=Application,
        arg="application_id", edit=False, body=ReturnBody, response=ApplicationOut)
def return_application(data, application_id):
    """Return a submitted application for revision, with a message saying what is needed."""
    application = db.session.get(Application, application_id)  # permission checked by @action
    operations.return_application(application, data["message"], current_user)
    return application_dict(application, current_user)
