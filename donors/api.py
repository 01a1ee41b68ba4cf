"""JSON API of the donors package: donors, pledges, contributions received.

Finance officers and admins write; fund managers and auditors read; a donor user reads its own donor only.
"""

from __future__ import annotations

import functools

from flask import abort, url_for
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from donors import operations, schemas, statements
from donors.models import Contribution, Donor, IssuedStatement, Pledge
from donors.permissions import ISSUE, READ, WRITE
from fund.accounting.figures import DonorFigures, donors_figures
from fund.db import db
from fund.errors import FundError
from fund.i18n import translate as _
from fund.listing import list_page
from fund.models import DONOR
from fund.openapi import action, binary_response
from fund.permissions import access, can_edit, can_view, ensure_edit, ensure_view
from fund.response_cache import cached
from fund.schemas import paged
from fund.views import external_url

blp = Blueprint("donors_api", __name__, url_prefix="/api/v1",
                description="Donors, pledges, contributions and donor statements")


def donor_out(donor: Donor, figures: DonorFigures | None = None) -> dict:
    figures = figures or donors_figures([donor.id])[donor.id]
    return {
        **{k: getattr(donor, k) for k in ("id", "name", "type", "country", "language", "contact_name",
                                          "contact_email", "anonymous", "created_at")},
        "totals": {"currency": "USD", "pledged": figures.pledged, "received": figures.received,
                   "written_off": figures.written_off, "outstanding": figures.outstanding},
    }


def pledge_out(s: operations.PledgeSummary) -> dict:
    p = s.pledge
    return {
        **{k: getattr(p, k) for k in ("id", "donor_id", "amount", "currency", "pledged_on", "confirmed_on", "status",
                                      "earmark", "note")},
        "received": s.received, "written_off": s.written_off, "outstanding": s.outstanding,
        "instalments": [{"id": v.instalment.id, "due_on": v.instalment.due_on, "amount": v.instalment.amount,
                         "paid": v.paid, "currency": p.currency, "status": v.status} for v in s.instalments],
    }


def _donor_user() -> bool:
    """A donor user's view is limited to its own donor (``current_user.donor_id``)."""
    return current_user.has_any_role(DONOR) and not current_user.is_staff


# Donors -------------------------------------------------------------------------------------------------------


@action(blp, "/donors", roles=WRITE, body=schemas.DonorIn, response=schemas.DonorOut, status=201)
def create_donor(data):
    """Record a donor."""
    return donor_out(operations.create_donor(data, actor=current_user))


@blp.route("/donors")
@access(*READ)
@blp.arguments(schemas.DonorQuery, location="query")
@blp.response(200, paged(schemas.DonorOut))
def list_donors(args):
    """Donors by name, with their totals in USD (a donor user sees its own donor only)."""
    query = select(Donor)
    if _donor_user():
        query = query.where(Donor.id == (current_user.donor_id or -1))
    if args.get("q"):
        query = query.where(func.lower(Donor.name).contains(args["q"].lower(), autoescape=True))

    def present(donors):
        figures = donors_figures([d.id for d in donors])
        return [donor_out(d, figures[d.id]) for d in donors]

    return list_page(query, args, filters={"type": Donor.type}, present=present)


@blp.route("/donors/<int:donor_id>")
@access(*READ)
@blp.response(200, schemas.DonorOut)
def get_donor(donor_id: int):
    """A donor with its totals in USD: confirmed pledges (at their booking rates), contributions received (at
    their months' rates), written off, and what confirmed pledges still owe."""
    return donor_out(ensure_view(db.session.get(Donor, donor_id)))


# Pledges ------------------------------------------------------------------------------------------------------


@action(blp, "/donors/<int:donor_id>/pledges", roles=WRITE, idempotent=True, body=schemas.PledgeIn,
        response=schemas.PledgeOut, status=201)
def create_pledge(data, donor_id: int):
    """Record a pledge (announced or confirmed), with optional instalments summing to it and an earmark."""
    donor = ensure_edit(db.session.get(Donor, donor_id))
    pledge = operations.create_pledge(donor, data, actor=current_user)
    return pledge_out(operations.summary_of(pledge))


@blp.route("/donors/<int:donor_id>/pledges")
@access(*READ)
@blp.arguments(schemas.PledgeQuery, location="query")
@blp.response(200, paged(schemas.PledgeOut))
def list_pledges(args, donor_id: int):
    """A donor's pledges with what each has received, written off and still owes, in its currency."""
    donor = ensure_view(db.session.get(Donor, donor_id))
    query = select(Pledge).options(joinedload(Pledge.instalments)).where(Pledge.donor_id == donor.id)

    def present(pledges):
        summaries = operations.summarise(pledges)
        return [pledge_out(summaries[p.id]) for p in pledges]

    return list_page(query, args, filters={"status": Pledge.status}, present=present)


def _pledge_for_edit(pledge_id: int) -> Pledge:
    """The pledge of the URL, checked after the body (a body that does not fit is a 422 whatever the pledge)."""
    return ensure_edit(db.session.get(Pledge, pledge_id))


@blp.route("/pledges/<int:pledge_id>")
@access(*READ)
@blp.response(200, schemas.PledgeOut)
def get_pledge(pledge_id: int):
    return pledge_out(operations.summary_of(ensure_view(db.session.get(Pledge, pledge_id))))


@action(blp, "/pledges/<int:pledge_id>/confirm", roles=WRITE, idempotent=True, body=schemas.ConfirmIn,
        response=schemas.PledgeOut)
def confirm_pledge(data, pledge_id: int):
    """Confirm an announced pledge (agreement signed): it is booked as receivable at the month's rate."""
    pledge = _pledge_for_edit(pledge_id)
    operations.confirm_pledge(pledge, confirmed_on=data.get("confirmed_on"), actor=current_user)
    return pledge_out(operations.summary_of(pledge))


@action(blp, "/pledges/<int:pledge_id>/cancel", roles=WRITE, body=schemas.CancelIn, response=schemas.PledgeOut)
def cancel_pledge(data, pledge_id: int):
    """Cancel a pledge on which nothing was received or written off."""
    pledge = _pledge_for_edit(pledge_id)
    operations.cancel_pledge(pledge, reason=data["reason"], actor=current_user)
    return pledge_out(operations.summary_of(pledge))


@action(blp, "/pledges/<int:pledge_id>/write-off", roles=WRITE, body=schemas.WriteOffIn,
        response=schemas.PledgeOut)
def write_off_pledge(data, pledge_id: int):
    """Write off part (``amount``) or all of what a pledge still owes."""
    pledge = _pledge_for_edit(pledge_id)
    operations.write_off_pledge(pledge, amount=data.get("amount"), reason=data["reason"], actor=current_user)
    return pledge_out(operations.summary_of(pledge))


# Contributions ------------------------------------------------------------------------------------------------


@action(blp, "/contributions", roles=WRITE, idempotent=True, body=schemas.ContributionIn,
        response=schemas.ContributionOut, status=201)
def create_contribution(data):
    """Record money received. Honours ``Idempotency-Key``: a replay returns the first response; the same key
    with a different body gets 422."""
    donor = db.session.get(Donor, data["donor_id"])
    if donor is None:
        message = _("There is no such donor.")
        raise FundError(message, fields={"donor_id": [message]})
    ensure_edit(donor)
    return operations.record_contribution(donor, data, actor=current_user)


@blp.route("/contributions")
@access(*READ)
@blp.arguments(schemas.ContributionQuery, location="query")
@blp.response(200, paged(schemas.ContributionOut))
def list_contributions(args):
    """Contributions received, newest first; ``donor_id`` and ``pledge_id`` filter (a donor user: its own)."""
    donor_id = args.get("donor_id")
    if _donor_user():
        own = current_user.donor_id or -1
        if donor_id is not None and donor_id != own:
            abort(404)
        donor_id = own
    return list_page(operations.contributions_query(donor_id), args, filters={"pledge_id": Contribution.pledge_id})


@blp.route("/contributions/<int:contribution_id>")
@access(*READ)
@blp.response(200, schemas.ContributionOut)
def get_contribution(contribution_id: int):
    return ensure_view(db.session.get(Contribution, contribution_id))


# Statements ---------------------------------------------------------------------------------------------------


def statement_donor(fn):
    """Load the donor of the URL before the query or body is validated: 404 if there is none, 403 if it is not
    the caller's (a donor user reaches its own donor only)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        donor = db.session.get(Donor, kwargs["donor_id"])
        if donor is None:
            abort(404)
        if not can_view(current_user, donor):
            abort(403)
        return fn(*args, **kwargs)

    return wrapper


def issued_statement_guard(*, edit: bool = False):
    """Load the issued statement of the URL's number first: 404 if unknown, 403 if not the caller's (or, to
    ``edit``, if the caller may not change it)."""

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            issued = find_statement(kwargs["number"])
            if issued is None:
                abort(404)
            if not can_view(current_user, issued) or (edit and not can_edit(current_user, issued)):
                abort(403)
            return fn(*args, **kwargs)

        return wrapper

    return decorator


def find_statement(number: str) -> IssuedStatement | None:
    return db.session.execute(select(IssuedStatement).where(IssuedStatement.number == number)).scalar_one_or_none()


def statement_out(issued: IssuedStatement) -> dict:
    return {
        **{k: getattr(issued, k) for k in ("number", "donor_id", "period_from", "period_to", "language", "issued_at",
                                          "sha256", "size", "verification_code", "voided_at", "void_reason",
                                          "totals")},
        "status": "void" if issued.voided else "valid",
        "verification_url": external_url("verify.verify", code=issued.verification_code),
        "download_url": url_for("donors_api.get_issued_statement", number=issued.number, _external=True),
    }


@blp.route("/donors/<int:donor_id>/statement")
@access(*READ)
@statement_donor
@cached
@blp.arguments(schemas.StatementQuery, location="query")
@blp.doc(responses=binary_response("application/pdf", "text/csv", "application/json",
                                   description="The statement in the media type that ``format`` names."))
def get_statement(args, donor_id: int):
    """The donor's statement for a period (``from``, ``to`` inclusive) as ``format=pdf`` (default), ``csv`` or
    ``json``, in ``lang`` (default: the donor's language). Not an issued statement: issue one to get a numbered,
    verifiable document."""
    donor = db.session.get(Donor, donor_id)
    statement = statements.build_statement(donor, args["date_from"], args["date_to"], args["lang"])
    return statements.as_response(statement, args["format"])


@action(blp, "/donors/<int:donor_id>/statements", roles=ISSUE, guard=statement_donor, body=schemas.StatementIn,
        response=schemas.StatementOut, status=201)
def issue_statement(data, donor_id: int):
    """Issue the donor's statement for ``from``..``to`` (ended) in ``lang`` (default: the donor's language): the
    PDF is stored with its SHA-256; returns its number and verification code. 409 while a statement that is not
    void covers the same period in the same language."""
    donor = db.session.get(Donor, donor_id)
    issued = operations.issue_statement(donor, {"date_from": data["date_from"], "date_to": data["date_to"],
                                                "language": data.get("lang")}, actor=current_user)
    return statement_out(issued)


@blp.route("/donors/<int:donor_id>/statements")
@access(*READ)
@statement_donor
@blp.arguments(schemas.IssuedStatementQuery, location="query")
@blp.response(200, paged(schemas.StatementOut))
def list_statements(args, donor_id: int):
    """The donor's issued statements, newest first (void ones included)."""
    return list_page(statements.issued_statements(donor_id), args,
                     present=lambda issued: map(statement_out, issued))


@blp.route("/statements/<string:number>")
@access(*READ)
@issued_statement_guard()
@blp.doc(responses=binary_response("application/pdf", description="The issued statement, as issued."))
def get_issued_statement(number: str):
    """The PDF of an issued statement, exactly as issued (the stored file; its SHA-256 is the ETag)."""
    issued = find_statement(number)
    return statements.issued_response(issued, operations.stored_pdf(issued))


@action(blp, "/statements/<string:number>/void", roles=WRITE, guard=issued_statement_guard(edit=True),
        body=schemas.VoidIn, response=schemas.StatementOut)
def void_statement(data, number: str):
    """Void an issued statement (finance officers and admins): it stays on file and its verification page says
    it is void; issue a new one for the period."""
    issued = find_statement(number)
    return statement_out(operations.void_statement(issued, reason=data["reason"], actor=current_user))
