"""Payments: the actions on a disbursement (approve, cancel, edit, pay) and the finance screens (approval
queue, payments to record, cash forecast).
"""

from __future__ import annotations

import datetime as dt

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from fund.db import db
from fund.errors import FundError
from fund.models import FINANCE_OFFICER
from fund.permissions import access, ensure_edit
from fund.templating import money
from grants.awards import operations
from grants.awards.forecast import cash_forecast
from grants.awards.models import Disbursement, Grant
from grants.awards.schemas import DisbursementEditIn, OptionalMessageIn, PaymentIn
from grants.awards.views.common import FINANCE_READERS, bp, errors_of, money_form
from grants.awards.views.grant_pages import grant_page
from grants.awards.workflow import DISBURSEMENT_WORKFLOW, list_blockers
from grants.presenters import language

# Disbursements ------------------------------------------------------------------------------------------------

def _back(d: Disbursement) -> str:
    target = request.form.get("next") or ""
    if target.startswith("/grants/awards/") and "//" not in target:
        return target
    return url_for("grants_awards.grant_detail", grant_id=d.grant_id)


def _keep_refused_approval(disbursement_id: int, exc: FundError) -> None:
    """The approval rolled back; its refusal is audited in a transaction of its own."""
    db.session.rollback()
    operations.record_refused_approval(disbursement_id, current_user, exc)
    db.session.commit()


def _refused(d: Disbursement, exc: FundError):
    """A refused action on a disbursement: the grant page with the reason, in the status of the refusal."""
    db.session.rollback()
    grant = db.session.get(Grant, d.grant_id)
    return grant_page(grant, errors_of(exc), exc.status)


@bp.route("/disbursements/<int:disbursement_id>/<any(approve, cancel):action>", methods=["POST"])
@access(FINANCE_OFFICER)
def disbursement_action(disbursement_id: int, action: str):
    d = ensure_edit(db.session.get(Disbursement, disbursement_id))
    try:
        if action == "approve":
            operations.approve_disbursement(d, current_user)
        else:
            data = OptionalMessageIn().load({k: v for k, v in request.form.items() if k != "next"})
            operations.cancel_disbursement(d, current_user, data.get("message"))
    except ValidationError as exc:
        return _refused(d, FundError(_("The data sent is not valid."), fields=exc.messages))
    except FundError as exc:
        if action == "approve":
            _keep_refused_approval(disbursement_id, exc)
        return _refused(d, exc)
    flash(_("Disbursement %(id)d is now “%(status)s”.", id=d.id, status=DISBURSEMENT_WORKFLOW.label(d.status)),
          "success")
    return redirect(_back(d))


@bp.route("/disbursements/<int:disbursement_id>/edit", methods=["POST"])
@access(FINANCE_OFFICER)
def edit_disbursement(disbursement_id: int):
    d = ensure_edit(db.session.get(Disbursement, disbursement_id))
    try:
        data = DisbursementEditIn().load({k: v for k, v in money_form("amount").items() if k != "next"})
        operations.edit_disbursement(d, data["amount"], current_user, note=data.get("note"))
    except ValidationError as exc:
        return _refused(d, FundError(_("The data sent is not valid."),
                                     fields={f"edit-{d.id}-{k}": v for k, v in exc.messages.items()}))
    except FundError as exc:
        return _refused(d, exc)
    flash(_("Disbursement %(id)d has been changed: another finance officer must approve it.", id=d.id), "success")
    return redirect(_back(d))


@bp.route("/disbursements/<int:disbursement_id>/pay", methods=["POST"])
@access(FINANCE_OFFICER)
def pay_disbursement(disbursement_id: int):
    d = ensure_edit(db.session.get(Disbursement, disbursement_id))
    try:
        data = PaymentIn().load({k: v for k, v in money_form().items() if k != "next"})
        operations.pay_disbursement(d, data["payment_reference"], data["paid_on"], current_user)
    except ValidationError as exc:
        return _refused(d, FundError(_("The data sent is not valid."),
                                     fields={f"pay-{d.id}-{k}": v for k, v in exc.messages.items()}))
    except FundError as exc:
        return _refused(d, exc)
    flash(_("The payment of %(amount)s has been recorded.", amount=money(d.amount, d.currency)), "success")
    return redirect(_back(d))


# Finance screens ----------------------------------------------------------------------------------------------

@bp.route("/finance/approvals")
@access(FINANCE_OFFICER)
def approval_queue():
    """Requests waiting for approval, made (or last changed) by other finance officers."""
    rows = db.session.execute(
        select(Disbursement).options(selectinload(Disbursement.grant))
        .where(Disbursement.status == "requested", Disbursement.requested_by_id != current_user.id,
               (Disbursement.edited_by_id.is_(None)) | (Disbursement.edited_by_id != current_user.id))
        .order_by(Disbursement.requested_at, Disbursement.id)
    ).scalars().all()
    mine = db.session.execute(
        select(Disbursement).options(selectinload(Disbursement.grant))
        .where(Disbursement.status == "requested",
               (Disbursement.requested_by_id == current_user.id) | (Disbursement.edited_by_id == current_user.id))
        .order_by(Disbursement.id)
    ).scalars().all()
    blockers = list_blockers(rows)
    return render_template("grants/awards/approvals.html", rows=rows, mine=mine, blockers=blockers,
                           lang=language())


@bp.route("/finance/payments")
@access(FINANCE_OFFICER)
def payments():
    """Approved disbursements whose payment is to be recorded."""
    rows = db.session.execute(
        select(Disbursement).options(selectinload(Disbursement.grant))
        .where(Disbursement.status == "approved").order_by(Disbursement.approved_at, Disbursement.id)
    ).scalars().all()
    blockers = list_blockers(rows, "pay")
    return render_template("grants/awards/payments.html", rows=rows, blockers=blockers, today=dt.date.today(),
                           lang=language())


@bp.route("/finance/forecast")
@access(*FINANCE_READERS)
def forecast():
    """Cash forecast by month: tranches still to pay against cash and confirmed pledges not yet received."""
    months = request.args.get("months", type=int) or 12
    return render_template("grants/awards/forecast.html", forecast=cash_forecast(min(max(months, 1), 36)),
                           lang=language())
