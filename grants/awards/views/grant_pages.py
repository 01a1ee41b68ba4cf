"""Pages of a grant: the grantee's dashboard, the fund's list, a grant with its agreement and the actions on
it (transitions, a disbursement requested, a refund recorded).
"""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from fund.accounting.figures import grant_figures, grants_figures
from fund.accounting.rates import currency_choices
from fund.db import db
from fund.errors import FundError
from fund.models import APPLICANT, FINANCE_OFFICER, FUND_MANAGER
from fund.permissions import access, can_edit, ensure_edit, ensure_view
from fund.templating import money
from grants.awards import operations, reads
from grants.awards.models import Grant, GrantEvent
from grants.awards.presenters import is_due_soon, is_overdue, tranche_rows
from grants.awards.schemas import DisbursementIn, MessageIn, RefundIn
from grants.awards.views.common import GRANT_READERS, STAFF_READERS, bp, errors_of, money_form, refused
from grants.awards.workflow import DISBURSEMENT_WORKFLOW, GRANT_WORKFLOW, REPORT_EDITABLE, conditions_met
from grants.presenters import language
from grants.views import flatten_errors, perform

#: Payments and steps of the history shown a page.
PER_PAGE = 20

# The grantee's dashboard ------------------------------------------------------------------------------------

@bp.route("/")
@access(APPLICANT)
def grantee_home():
    """The organisation's grants: tranches with their status and dates, reports due and overdue, messages."""
    mine: list[Grant] = []
    if current_user.organisation_id:
        mine = db.session.execute(
            select(Grant).where(Grant.organisation_id == current_user.organisation_id).order_by(Grant.id.desc())
        ).scalars().all()
    figures = grants_figures(g.id for g in mine)
    reports = [(g, r) for g in mine for r in g.reports if r.status in REPORT_EDITABLE
               and g.status in ("active", "suspended")]
    messages = []
    if mine:
        messages = db.session.execute(
            select(GrantEvent).where(GrantEvent.grant_id.in_([g.id for g in mine]),
                                     GrantEvent.message.is_not(None),
                                     GrantEvent.entity.in_(("grant", "report")))
            .order_by(GrantEvent.id.desc()).limit(20)
        ).scalars().all()
    by_id = {g.id: g for g in mine}
    return render_template("grants/awards/grantee_home.html", grants=mine, figures=figures,
                           tranches={g.id: tranche_rows(g) for g in mine}, reports=reports,
                           overdue=is_overdue, due_soon=is_due_soon, messages=messages, by_id=by_id,
                           lang=language())


# The fund's list of grants ------------------------------------------------------------------------------------

@bp.route("/all")
@access(*STAFF_READERS)
def grants():
    status = request.args.get("status") or None
    query = select(Grant).order_by(Grant.id.desc())
    if status in GRANT_WORKFLOW.states:
        query = query.where(Grant.status == status)
    page = db.paginate(query, per_page=50, error_out=False)
    figures = grants_figures(g.id for g in page.items)
    return render_template("grants/awards/grants.html", page=page, figures=figures, status=status,
                           workflow=GRANT_WORKFLOW, lang=language())


# A grant ------------------------------------------------------------------------------------------------------

def grant_page(grant: Grant, errors: dict | None = None, status: int = 200, form=None, open_form: str | None = None,
               *, fresh: bool = True):
    """The grant's page in five statements whatever its history: the signed-in user, the grant with what
    :data:`grants.awards.reads.GRANT_PAGE` joins, its ledger figures, a page of its payments and a page of its
    history (``?payments=`` and ``?history=``, newest first). ``fresh=False`` when ``grant`` was just read with
    GRANT_PAGE (no write in the request since).

    Approving a payment and recording it are done in the finance queues, which check the rules for a whole list
    at once; the page links to them."""
    if fresh:
        db.session.expire(grant)
        grant = db.session.execute(select(Grant).where(Grant.id == grant.id).execution_options(populate_existing=True)
                                   .options(*reads.GRANT_PAGE)).unique().scalar_one()
    payments_page = max(request.args.get("payments", 1, type=int), 1)
    history_page = max(request.args.get("history", 1, type=int), 1)
    disbursements, disbursements_total = reads.disbursement_page(grant.id, payments_page, PER_PAGE)
    events, events_total = reads.event_page(grant.id, history_page, PER_PAGE)
    for name, page, total in (("payments", payments_page, disbursements_total),
                              ("history", history_page, events_total)):
        if page > pages(1, total)["pages"] and status == 200:  # past the last page: to the last one
            args = {**request.args.to_dict(), name: pages(1, total)["pages"]}
            return redirect(url_for("grants_awards.grant_detail", grant_id=grant.id, **args, _anchor=name))
    html = render_template(
        "grants/awards/grant.html", grant=grant, figures=grant_figures(grant.id),
        tranches=reads.tranche_rows(grant, conditions_met(grant)),
        disbursements=disbursements, payments=pages(payments_page, disbursements_total),
        events=events, history=pages(history_page, events_total), refunds=grant.refunds,
        errors=errors or {}, form=form or {}, open_form=open_form,
        transitions=GRANT_WORKFLOW.available(grant, current_user), can_edit=can_edit(current_user, grant),
        disbursement_actions=lambda d: DISBURSEMENT_WORKFLOW.available(d, current_user),
        overdue=is_overdue, lang=language(),
    )
    return html, status


def pages(page: int, total: int) -> dict:
    """Where a page of ``total`` rows (PER_PAGE a page) stands: its number, the previous and next ones."""
    last = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    return {"page": page, "pages": last, "total": total, "prev": page - 1 if page > 1 else None,
            "next": page + 1 if page < last else None}


@bp.route("/<int:grant_id>")
@access(*GRANT_READERS)
def grant_detail(grant_id: int):
    grant = db.session.execute(select(Grant).where(Grant.id == grant_id).options(*reads.GRANT_PAGE)
                               ).unique().scalar_one_or_none()
    return grant_page(ensure_view(grant), fresh=False)


@bp.route("/<int:grant_id>/agreement.pdf")
@access(*GRANT_READERS)
def agreement_pdf(grant_id: int):
    """The grant agreement as PDF, in English or French (``?lang=fr``; the reader's language by default)."""
    from grants.awards.agreement import render_agreement

    grant = ensure_view(db.session.get(Grant, grant_id))
    lang = request.args.get("lang") or language()
    if lang not in ("en", "fr"):
        abort(404)
    with force_locale(lang):
        pdf = render_agreement(grant, lang)
    name = f"{grant.number.replace('/', '-')}-agreement-{lang}.pdf"
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store"})


@bp.route("/<int:grant_id>/agreement", methods=["POST"])
@access(APPLICANT)
def upload_agreement(grant_id: int):
    grant = ensure_edit(db.session.get(Grant, grant_id))
    return perform(
        lambda: operations.upload_signed_agreement(grant, operations.checked_upload(request.files.get("file")),
                                                   current_user),
        _("The signed agreement has been uploaded. The fund will countersign it."),
        url_for("grants_awards.grant_detail", grant_id=grant.id),
        lambda exc: grant_page(grant, errors_of(refused(exc, passes=(403, 413))), exc.status))


@bp.route("/<int:grant_id>/<any(countersign, suspend, resume, terminate, close):trigger>", methods=["POST"])
@access(FUND_MANAGER)
def grant_transition(grant_id: int, trigger: str):
    grant = ensure_edit(db.session.get(Grant, grant_id))
    try:
        if trigger in ("suspend", "terminate"):
            data = MessageIn().load(request.form.to_dict())
            getattr(operations, trigger)(grant, current_user, data["message"])
        else:
            getattr(operations, trigger)(grant, current_user)
    except ValidationError as exc:
        db.session.rollback()
        return grant_page(grant, {f"{trigger}-message": flatten_errors(exc.messages).get("message", [])}, 422,
                           open_form=trigger)
    except FundError as exc:
        return grant_page(grant, errors_of(refused(exc)), exc.status)
    flash(_("The grant is now “%(status)s”.", status=GRANT_WORKFLOW.label(grant.status)), "success")
    return redirect(url_for("grants_awards.grant_detail", grant_id=grant.id))


@bp.route("/<int:grant_id>/disbursements", methods=["POST"])
@access(FINANCE_OFFICER)
def request_disbursement(grant_id: int):
    grant = ensure_edit(db.session.get(Grant, grant_id))
    try:
        data = DisbursementIn().load(money_form("amount"))
        operations.request_disbursement(grant, data["tranche"], data["amount"], current_user, note=data.get("note"))
    except ValidationError as exc:
        db.session.rollback()
        return grant_page(grant, {f"request-{k}": v for k, v in flatten_errors(exc.messages).items()}, 422,
                           form=request.form, open_form="request")
    except FundError as exc:
        return grant_page(grant, errors_of(refused(exc)), exc.status, form=request.form, open_form="request")
    flash(_("The payment has been requested. Another finance officer must approve it."), "success")
    return redirect(url_for("grants_awards.grant_detail", grant_id=grant.id))


#: A grant to which the organisation may still pay money back.
REFUNDABLE = ("active", "suspended", "terminated")


def refund_page(grant: Grant, errors: dict | None = None, form=None, status: int = 200):
    """The form that records money the organisation paid back, with the fund's currencies."""
    return render_template("grants/awards/refund.html", grant=grant, errors=errors or {}, form=form or {},
                           currencies=currency_choices(), lang=language()), status


@bp.route("/<int:grant_id>/refunds/new")
@access(FINANCE_OFFICER)
def new_refund(grant_id: int):
    grant = ensure_edit(db.session.get(Grant, grant_id))
    if grant.status not in REFUNDABLE:
        abort(404)
    return refund_page(grant)


@bp.route("/<int:grant_id>/refunds", methods=["POST"])
@access(FINANCE_OFFICER)
def record_refund(grant_id: int):
    grant = ensure_edit(db.session.get(Grant, grant_id))
    try:
        data = RefundIn().load(money_form("amount"))
        refund = operations.record_refund(grant, data, current_user)
    except ValidationError as exc:
        db.session.rollback()
        return refund_page(grant, flatten_errors(exc.messages), request.form, 422)
    except FundError as exc:
        refused(exc)
        errors = flatten_errors(exc.fields) if exc.fields else {"_action": [exc.message]}
        return refund_page(grant, errors, request.form, exc.status)
    flash(_("The refund of %(amount)s has been recorded.", amount=money(refund.amount, refund.currency)), "success")
    return redirect(url_for("grants_awards.grant_detail", grant_id=grant.id))
