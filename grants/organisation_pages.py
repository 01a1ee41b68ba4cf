"""Portal pages of organisations: the profile, its members and invitations, the PSEA policy, and the bank
account (masked, in full for finance officers, its history and the changes waiting for verification).

Registered on the ``grants`` blueprint (:data:`grants.views.bp`).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError, fields, validate
from sqlalchemy import select

from fund.db import db, utcnow
from fund.errors import FundError
from fund.models import ADMIN, APPLICANT, AUDITOR, FINANCE_OFFICER, FUND_MANAGER, User
from fund.permissions import access, ensure_edit, ensure_view
from fund.schemas import InSchema
from fund.uploads import check_upload
from grants import operations, payee
from grants.checklist import organisation_missing, psea_policy
from grants.downloads import translate_upload_errors
from grants.models import BankDetailsChange, Invitation, Organisation, OrganisationAdmin
from grants.permissions import can_see_bank_details, is_org_admin
from grants.presenters import language
from grants.schemas import InvitationIn, OrganisationIn
from grants.views import bp, flatten_errors, form_values

ORGANISATION_READERS = (APPLICANT, FUND_MANAGER, FINANCE_OFFICER, ADMIN, AUDITOR)
ORG_FIELDS = tuple(OrganisationIn().fields)


def _drop_none(data: dict, required: tuple = ()) -> dict:
    return {k: v for k, v in data.items() if v is not None or k not in required}


@bp.route("/organisation/new", methods=["GET", "POST"])
@access(APPLICANT)
def new_organisation():
    if current_user.organisation_id:
        return redirect(url_for("grants.organisation", organisation_id=current_user.organisation_id))
    errors: dict = {}
    if request.method == "POST":
        try:
            data = OrganisationIn().load(_drop_none(form_values(ORG_FIELDS), ("name", "country", "org_type")))
            org = operations.create_organisation(current_user, data)
        except ValidationError as exc:
            errors = flatten_errors(exc.messages)
        else:
            flash(_("Your organisation's profile has been created."), "success")
            return redirect(url_for("grants.organisation", organisation_id=org.id))
    html = render_template("grants/organisation_form.html", org=None, form=request.form, errors=errors,
                           lang=language())
    return html, (422 if errors else 200)


@bp.route("/organisations")
@access(FUND_MANAGER, FINANCE_OFFICER, ADMIN, AUDITOR)
def organisations():
    page = db.paginate(select(Organisation).order_by(Organisation.name), per_page=50, error_out=False)
    return render_template("grants/organisations.html", page=page, lang=language())


def _organisation_page(org: Organisation, errors: dict | None = None, status: int = 200, bank: dict | None = None):
    # The people and which of them administer the organisation, in one statement (their roles are not shown).
    members = db.session.execute(
        select(User.id, User.name, User.email, OrganisationAdmin.user_id.is_not(None).label("admin"))
        .outerjoin(OrganisationAdmin, (OrganisationAdmin.user_id == User.id)
                   & (OrganisationAdmin.organisation_id == org.id))
        .where(User.organisation_id == org.id).order_by(User.email)).all()
    admins = {m.id for m in members if m.admin}
    psea = psea_policy(org.id)
    invitations = []
    is_admin = is_org_admin(current_user, org.id)
    if is_admin:
        invitations = db.session.execute(
            select(Invitation).where(Invitation.organisation_id == org.id, Invitation.accepted_at.is_(None),
                                     Invitation.expires_at > utcnow()).order_by(Invitation.id.desc())
        ).scalars().all()
    html = render_template(
        "grants/organisation.html", org=org, members=members, admins=admins, invitations=invitations,
        is_admin=is_admin, missing=organisation_missing(org, psea), psea=psea, errors=errors or {},
        bank=bank or payee.bank_details(org, full=False), can_see_bank=can_see_bank_details(current_user),
        lang=language(), bank_change=payee.pending_change(org.id), mask=payee.mask,
        bank_history_reader=current_user.has_any_role(*BANK_HISTORY_READERS),
    )
    return html, status


@bp.route("/organisations/<int:organisation_id>")
@access(*ORGANISATION_READERS)
def organisation(organisation_id: int):
    """An organisation's profile: its members and invitations, the PSEA policy and the bank account (masked)."""
    org = ensure_view(db.session.get(Organisation, organisation_id))
    return _organisation_page(org)


@bp.route("/organisations/<int:organisation_id>/bank-details")
@access(FINANCE_OFFICER)
def bank_details(organisation_id: int):
    """Full bank details, for finance officers; each view is recorded in the audit trail."""
    org = ensure_view(db.session.get(Organisation, organisation_id))
    return _organisation_page(org, bank=payee.bank_details(org, full=True, actor=current_user))


BANK_HISTORY_READERS = (FINANCE_OFFICER, AUDITOR, ADMIN)


class BankDecisionIn(InSchema):
    action = fields.String(required=True, validate=validate.OneOf(["verify", "reject"]))
    callback_note = fields.String(load_default="", validate=validate.Length(max=2000))
    decision_note = fields.String(load_default="", validate=validate.Length(max=2000))
    csrf_token = fields.String()


@bp.route("/organisations/<int:organisation_id>/bank-details/history")
@access(*BANK_HISTORY_READERS)
def bank_history(organisation_id: int):
    """Every version of the organisation's bank account (numbers masked), who asked, who verified and how."""
    org = ensure_view(db.session.get(Organisation, organisation_id))
    rows = payee.history(org.id)
    people = _people({r.requested_by_id for r in rows} | {r.decided_by_id for r in rows})
    return render_template("grants/bank_history.html", org=org, rows=rows, people=people, mask=payee.mask)


@bp.route("/bank-details/pending")
@access(FINANCE_OFFICER)
def pending_bank_changes():
    rows = db.session.execute(
        select(BankDetailsChange, Organisation.name).join(Organisation, Organisation.id ==
                                                          BankDetailsChange.organisation_id)
        .where(BankDetailsChange.status == payee.PENDING).order_by(BankDetailsChange.requested_at)
    ).all()
    return render_template("grants/bank_pending.html", rows=rows, mask=payee.mask)


@bp.route("/bank-details/changes/<int:change_id>", methods=["GET", "POST"])
@access(FINANCE_OFFICER)
def bank_change(change_id: int):
    """A pending change of bank details, in full beside the account in force (the view is audited); verify it
    after a call-back, or reject it."""
    change = db.get_or_404(BankDetailsChange, change_id)
    org = ensure_view(db.session.get(Organisation, change.organisation_id))
    errors: dict = {}
    status = 200
    if request.method == "POST":
        try:
            data = BankDecisionIn().load(request.form.to_dict())
            if data["action"] == "verify":
                payee.verify_change(change, current_user, data["callback_note"])
                flash(_("The new bank details are verified: payments go to them from now on."), "success")
            else:
                payee.reject_change(change, current_user, data["decision_note"])
                flash(_("The change of bank details is rejected: payments resume to the verified account."),
                      "success")
        except ValidationError as exc:
            errors, status = flatten_errors(exc.messages), 422
        except FundError as exc:
            errors, status = (exc.fields or {"_schema": [exc.message]}), exc.status
        else:
            return redirect(url_for("grants.bank_history", organisation_id=org.id))
    current = payee.bank_details(org, full=True, actor=current_user)
    people = _people({change.requested_by_id, change.decided_by_id})
    html = render_template("grants/bank_change.html", org=org, change=change, current=current, people=people,
                           errors=errors, form=request.form if errors else {})
    return html, status


def _people(ids) -> dict:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {u.id: u.email for u in db.session.execute(select(User).where(User.id.in_(ids))).scalars()}


@bp.route("/organisations/<int:organisation_id>/edit", methods=["GET", "POST"])
@access(APPLICANT)
def edit_organisation(organisation_id: int):
    org = ensure_edit(db.session.get(Organisation, organisation_id))
    errors: dict = {}
    if request.method == "POST":
        try:
            data = OrganisationIn().load(_drop_none(form_values(ORG_FIELDS), ("name", "country", "org_type")))
            operations.update_organisation(org, data, current_user)
        except ValidationError as exc:
            errors = flatten_errors(exc.messages)
        else:
            flash(_("The organisation profile has been saved."), "success")
            return redirect(url_for("grants.organisation", organisation_id=org.id))
    html = render_template("grants/organisation_form.html", org=org, form=request.form if errors else None,
                           errors=errors, lang=language(), bank=payee.bank_details(org, full=False))
    return html, (422 if errors else 200)


@bp.route("/organisations/<int:organisation_id>/psea", methods=["POST"])
@access(APPLICANT)
def upload_psea(organisation_id: int):
    org = ensure_edit(db.session.get(Organisation, organisation_id))
    try:
        with translate_upload_errors():
            upload = check_upload(request.files.get("file"))
    except FundError as exc:
        if exc.status == 413:
            raise
        return _organisation_page(org, {"file": exc.fields.get("file", [exc.message])}, 422)
    operations.store_psea_policy(org, upload, current_user)
    flash(_("The safeguarding policy has been uploaded."), "success")
    return redirect(url_for("grants.organisation", organisation_id=org.id))


@bp.route("/organisations/<int:organisation_id>/invitations", methods=["POST"])
@access(APPLICANT)
def invite_member(organisation_id: int):
    org = ensure_edit(db.session.get(Organisation, organisation_id))
    try:
        data = InvitationIn().load(request.form.to_dict())
        inv, _token = operations.invite(org, data["email"], current_user)
    except ValidationError as exc:
        return _organisation_page(org, flatten_errors(exc.messages), 422)
    except FundError as exc:
        if not exc.fields:
            raise
        return _organisation_page(org, exc.fields, 422)
    flash(_("An invitation has been sent to %(email)s.", email=inv.email), "success")
    return redirect(url_for("grants.organisation", organisation_id=org.id))


@bp.route("/organisations/<int:organisation_id>/members/<int:user_id>/admin", methods=["POST"])
@access(APPLICANT)
def promote_member(organisation_id: int, user_id: int):
    org = ensure_edit(db.session.get(Organisation, organisation_id))
    user = db.session.get(User, user_id)
    if user is None or user.organisation_id != org.id:
        abort(404)
    operations.promote_admin(org, user, current_user)
    flash(_("%(email)s can now manage the organisation.", email=user.email), "success")
    return redirect(url_for("grants.organisation", organisation_id=org.id))
