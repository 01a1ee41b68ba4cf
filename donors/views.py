"""Portal pages of the donors package: donors, a donor's pledges, instalments and payments, and the forms to
record a donor, a pledge (confirm, cancel, write off) or a contribution. Donor users see their own donor."""

from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased, joinedload

from donors import operations, statements
from donors.models import DONOR_TYPES, EARMARK_TYPES, OPEN, Contribution, Donor, IssuedStatement, Pledge
from donors.permissions import ISSUE, READ, WRITE
from donors.schemas import CancelIn, ContributionIn, DonorIn, PledgeIn, StatementIn, StatementQuery, VoidIn, WriteOffIn
from fund.accounting import attribution, balances, rates
from fund.accounting.figures import DonorFigures, donors_figures, fund_position
from fund.db import db, utcnow
from fund.errors import FundError
from fund.extensions import limiter
from fund.models import DONOR
from fund.permissions import access, can_edit, can_view, ensure_edit, ensure_view, public
from fund.templating import money
from fund.views import Page, refusal_errors

bp = Blueprint("donors", __name__, url_prefix="/donors")

DATE_AMOUNT = re.compile(r"^\s*(\S+)\s+(\S+)\s*$")


def flat_errors(messages) -> dict[str, list[str]]:
    """marshmallow/FundError messages as {field: [text]}; nested messages are joined into their top field."""
    result: dict[str, list[str]] = {}

    def walk(value, prefix=""):
        if isinstance(value, dict):
            out = []
            for key, inner in value.items():
                label = f"{int(key) + 1}" if isinstance(key, int) or str(key).isdigit() else str(key)
                out.extend(f"{label}: {m}" if prefix or isinstance(inner, dict) else m for m in walk(inner, label))
            return out
        if isinstance(value, list | tuple):
            out = []
            for item in value:
                out.extend(walk(item, prefix))
            return out
        return [str(value)]

    for key, value in (messages or {}).items():
        result[str(key)] = walk(value)
    return result


def _form() -> dict:
    return {k: v.strip() for k, v in request.form.items() if k != "csrf_token" and v.strip() != ""}


def _donor_user() -> bool:
    return current_user.has_any_role(DONOR) and not current_user.is_staff


# Donors -------------------------------------------------------------------------------------------------------


@bp.route("/")
@access(*READ)
def index():
    if _donor_user():
        if current_user.donor_id is None:
            return render_template("donors/no_donor.html")
        return redirect(url_for("donors.detail", donor_id=current_user.donor_id))
    return _index({}, {})


def _index(errors: dict, form: dict, status: int = 200):
    q = (request.args.get("q") or "").strip()[:200]
    query = select(Donor).order_by(Donor.name, Donor.id)
    if q:
        query = query.where(func.lower(Donor.name).contains(q.lower(), autoescape=True))
    page = db.paginate(query, per_page=50, error_out=False)
    figures = donors_figures([d.id for d in page.items])
    html = render_template("donors/index.html", page=page, figures=figures, q=q, errors=errors, form=form,
                           types=DONOR_TYPES, position=fund_position())
    return html, status


@bp.route("/", methods=["POST"])
@access(*WRITE)
def create_donor():
    form = _form()
    data = {k: v for k, v in form.items() if k in DonorIn().fields}
    data["anonymous"] = form.get("anonymous") == "yes"
    try:
        donor = operations.create_donor(DonorIn().load(data), actor=current_user)
    except ValidationError as exc:
        return _index(flat_errors(exc.messages), form, 422)
    except FundError as exc:
        return _index(flat_errors(exc.fields) or {"name": [exc.message]}, form, exc.status)
    flash(_("Donor %(name)s recorded.", name=donor.name), "success")
    return redirect(url_for("donors.detail", donor_id=donor.id))


#: The donor's page lists its pledges and its contributions a page at a time, newest first.
PLEDGES_PER_PAGE = 20
CONTRIBUTIONS_PER_PAGE = 100


def _page_number(name: str) -> int:
    return max(request.args.get(name, 1, type=int), 1)


@bp.route("/<int:donor_id>")
@access(*READ)
def detail(donor_id: int):
    return _detail(donor_id, {}, None)


def _donor_and_pledges(donor_id: int, page: int) -> tuple[Donor | None, Page, int]:
    """The donor, a page of its pledges (newest first) with their instalments, and how many pledges and
    contributions it has, in one statement: the page's pledges are picked by a subquery and the counts are
    correlated subqueries, so a page past the last still brings the donor."""
    listed = aliased(Pledge)
    page_ids = (select(listed.id).where(listed.donor_id == donor_id)
                .order_by(listed.pledged_on.desc(), listed.id.desc())
                .limit(PLEDGES_PER_PAGE).offset((page - 1) * PLEDGES_PER_PAGE))
    pledges_total = (select(func.count(listed.id)).where(listed.donor_id == Donor.id)
                     .correlate(Donor).scalar_subquery())
    contributions_total = (select(func.count(Contribution.id)).where(Contribution.donor_id == Donor.id)
                           .correlate(Donor).scalar_subquery())
    rows = db.session.execute(
        select(Donor, pledges_total, contributions_total, Pledge)
        .outerjoin(Pledge, and_(Pledge.donor_id == Donor.id, Pledge.id.in_(page_ids)))
        .where(Donor.id == donor_id).options(joinedload(Pledge.instalments))
        .order_by(Pledge.pledged_on.desc(), Pledge.id.desc())
    ).unique().all()
    if not rows:
        return None, Page([], page, PLEDGES_PER_PAGE, 0), 0
    donor, pledge_count, contribution_count, _first = rows[0]
    pledges = [pledge for *_donor, pledge in rows if pledge is not None]
    return donor, Page(pledges, page, PLEDGES_PER_PAGE, pledge_count), contribution_count


def _detail(donor_id: int, errors: dict, failed_pledge: int | None, status: int = 200):
    """The donor's page in five statements whatever its history: the signed-in user; the donor with a page of
    its pledges and the counts; a page of its contributions; the kept balances of the donor and of those pledges
    (its totals, the pledges' figures and the exchange difference); the use of its money."""
    donor, pledges, contribution_count = _donor_and_pledges(donor_id, _page_number("pledges_page"))
    ensure_view(donor)
    page = _page_number("page")
    contributions = Page(db.session.execute(
        operations.contributions_query(donor.id)
        .limit(CONTRIBUTIONS_PER_PAGE).offset((page - 1) * CONTRIBUTIONS_PER_PAGE)
    ).scalars().all(), page, CONTRIBUTIONS_PER_PAGE, contribution_count)
    rows = balances.usd_by_account_kind_scopes([(balances.DONOR, [donor.id]),
                                                (balances.PLEDGE, [p.id for p in pledges.items])])
    summaries = operations.summarise(pledges.items, balance_rows=rows[balances.PLEDGE])
    figures = donors_figures([donor.id], rows=rows[balances.DONOR])[donor.id]
    html = render_template("donors/detail.html", donor=donor, summaries=[summaries[p.id] for p in pledges.items],
                           pledges=pledges, figures=figures, totals=pledge_totals(figures),
                           contributions=contributions, shown_pledges={p.id for p in pledges.items},
                           use=attribution.donor_use(donor.id, dt.date.min, utcnow().date()),
                           method=str(statements.METHOD),
                           errors=errors, failed_pledge=failed_pledge, open_statuses=OPEN,
                           can_write=current_user.has_any_role(*WRITE))
    return html, status


def pledge_totals(figures: DonorFigures) -> dict:
    """The donor's totals as lines that add up: pledged - received against pledges - written off + exchange
    difference = outstanding, and contributions without a pledge beside them.

    Pledges are carried in USD at the rate of the month they were booked, payments at the rate of the month they
    arrived; the difference goes to the ledger's exchange account (``fx_gain_loss``, with the donor's id), which
    the donor's figures read with the rest of its kept balances (``exchange``). It is a gain or a loss of the fund,
    not money the donor owes."""
    against_pledges = figures.pledged - figures.written_off + figures.exchange - figures.outstanding
    return {"pledged": figures.pledged, "received_against_pledges": against_pledges,
            "written_off": figures.written_off, "exchange": figures.exchange, "outstanding": figures.outstanding,
            "unpledged": figures.received - against_pledges, "received": figures.received}


# Pledges ------------------------------------------------------------------------------------------------------


def _pledge_data(form: dict) -> tuple[dict, dict]:
    """The pledge form as PledgeIn input; instalments are typed one per line: "YYYY-MM-DD amount"."""
    data = {k: form[k] for k in ("amount", "currency", "pledged_on", "status", "confirmed_on", "note") if k in form}
    errors: dict[str, list[str]] = {}
    if form.get("earmark_type") or form.get("earmark_value"):
        data["earmark"] = {"type": form.get("earmark_type", ""), "value": form.get("earmark_value", "")}
    instalments = []
    for n, line in enumerate((form.get("instalments") or "").splitlines(), start=1):
        if not line.strip():
            continue
        match = DATE_AMOUNT.match(line)
        if not match:
            errors.setdefault("instalments", []).append(
                _("Line %(n)d: write the due date and the amount, such as 2027-03-31 25000.00.", n=n))
            continue
        instalments.append({"due_on": match.group(1), "amount": match.group(2)})
    data["instalments"] = instalments
    return data, errors


@bp.route("/<int:donor_id>/pledges/new", methods=["GET", "POST"])
@access(*WRITE)
def new_pledge(donor_id: int):
    donor = ensure_edit(db.session.get(Donor, donor_id))
    errors: dict = {}
    form = _form() if request.method == "POST" else {"status": "announced"}
    if request.method == "POST":
        data, errors = _pledge_data(form)
        if not errors:
            try:
                pledge = operations.create_pledge(donor, PledgeIn().load(data), actor=current_user)
            except ValidationError as exc:
                errors = flat_errors(exc.messages)
            except FundError as exc:
                errors = refusal_errors(exc, field="amount", passes=())
            else:
                flash(_("Pledge recorded."), "success")
                return redirect(url_for("donors.detail", donor_id=donor.id, _anchor=f"pledge-{pledge.id}"))
        if "earmark" in errors:
            errors["earmark_value"] = errors.pop("earmark")
    html = render_template("donors/pledge_form.html", donor=donor, form=form, errors=errors,
                           currencies=rates.currency_choices(), earmark_types=EARMARK_TYPES)
    return html, (422 if errors else 200)


def _pledge_action(pledge_id: int, action):
    pledge = ensure_edit(db.session.get(Pledge, pledge_id))
    donor_id = pledge.donor_id
    try:
        message = action(pledge, _form())
    except ValidationError as exc:
        errors, status = flat_errors(exc.messages), 422
    except FundError as exc:
        errors, status = refusal_errors(exc, field="status", passes=(403, 404)), exc.status
    else:
        flash(message, "success")
        return redirect(url_for("donors.detail", donor_id=donor_id,
                                pledges_page=request.args.get("pledges_page", type=int), _anchor=f"pledge-{pledge_id}"))
    return _detail(donor_id, errors, pledge_id, status)


@bp.route("/pledges/<int:pledge_id>/confirm", methods=["POST"])
@access(*WRITE)
def confirm_pledge(pledge_id: int):
    def act(pledge, form):
        operations.confirm_pledge(pledge, actor=current_user)
        return _("Pledge %(id)d confirmed and booked as receivable.", id=pledge.id)

    return _pledge_action(pledge_id, act)


@bp.route("/pledges/<int:pledge_id>/cancel", methods=["POST"])
@access(*WRITE)
def cancel_pledge(pledge_id: int):
    def act(pledge, form):
        data = CancelIn().load({"reason": form.get("reason", "")})
        operations.cancel_pledge(pledge, reason=data["reason"], actor=current_user)
        return _("Pledge %(id)d cancelled.", id=pledge.id)

    return _pledge_action(pledge_id, act)


@bp.route("/pledges/<int:pledge_id>/write-off", methods=["POST"])
@access(*WRITE)
def write_off_pledge(pledge_id: int):
    def act(pledge, form):
        data = WriteOffIn().load({"reason": form.get("reason", ""), **({"amount": form["amount"]}
                                                                         if "amount" in form else {})})
        operations.write_off_pledge(pledge, amount=data.get("amount"), reason=data["reason"], actor=current_user)
        return _("Pledge %(id)d: amount written off.", id=pledge.id)

    return _pledge_action(pledge_id, act)


# Contributions ------------------------------------------------------------------------------------------------


def usual_currency(donor_id: str | None, pledge_id: str | None) -> str:
    """The currency the contribution form starts with: the pledge's, else the donor's usual one (that of its
    latest contribution, else of its latest pledge), else USD; never simply the first of the list."""
    if pledge_id and str(pledge_id).isdigit():
        pledge = db.session.get(Pledge, int(pledge_id))
        if pledge is not None:
            return pledge.currency
    if donor_id and str(donor_id).isdigit():
        for model, when in ((Contribution, Contribution.received_on), (Pledge, Pledge.pledged_on)):
            found = db.session.execute(select(model.currency).where(model.donor_id == int(donor_id))
                                       .order_by(when.desc(), model.id.desc()).limit(1)).scalar_one_or_none()
            if found:
                return found
    return rates.BASE_CURRENCY


@bp.route("/contributions/new", methods=["GET", "POST"])
@access(*WRITE)
def new_contribution():
    errors: dict = {}
    form = _form() if request.method == "POST" else {k: v for k, v in request.args.items() if k in ("donor_id",
                                                                                                    "pledge_id")}
    if request.method == "GET":
        form["currency"] = usual_currency(form.get("donor_id"), form.get("pledge_id"))
    if request.method == "POST":
        data = {k: form[k] for k in ("donor_id", "pledge_id", "amount", "currency", "received_on", "bank_reference",
                                     "note") if k in form}
        try:
            for key in ("donor_id", "pledge_id"):
                if key in data:
                    if not data[key].isdigit():
                        raise ValidationError({key: [_("Choose from the list.")]})
                    data[key] = int(data[key])
            loaded = ContributionIn().load(data)
            donor = db.session.get(Donor, loaded["donor_id"])
            if donor is None:
                raise ValidationError({"donor_id": [_("Choose a donor from the list.")]})
            ensure_edit(donor)
            contribution = operations.record_contribution(donor, loaded, actor=current_user)
        except ValidationError as exc:
            errors = flat_errors(exc.messages)
        except FundError as exc:
            errors = refusal_errors(exc, field="amount")
        else:
            flash(_("Contribution %(ref)s recorded: %(amount)s = %(usd)s.", ref=contribution.bank_reference,
                    amount=money(contribution.amount, contribution.currency),
                    usd=money(contribution.usd_amount, "USD")), "success")
            return redirect(url_for("donors.detail", donor_id=contribution.donor_id))
    donors = db.session.execute(select(Donor).order_by(Donor.name)).scalars().all()
    open_pledges = db.session.execute(
        select(Pledge).where(Pledge.status.in_(OPEN)).order_by(Pledge.donor_id, Pledge.id)).scalars().all()
    summaries = operations.summarise(list(open_pledges))
    html = render_template("donors/contribution_form.html", form=form, errors=errors, donors=donors,
                           pledges=[summaries[p.id] for p in open_pledges], currencies=rates.currency_choices())
    return html, (422 if errors else 200)


# Statements, use of funds and results --------------------------------------------------------------------------


def _statement_donor(donor_id: int) -> Donor:
    """The donor of the URL: 404 if there is none, 403 if it is not the user's (donor users see their own)."""
    donor = db.session.get(Donor, donor_id)
    if donor is None:
        abort(404)
    if not can_view(current_user, donor):
        abort(403)
    return donor


def _issued(number: str, *, edit: bool = False) -> IssuedStatement:
    issued = db.session.execute(select(IssuedStatement).where(IssuedStatement.number == number)).scalar_one_or_none()
    if issued is None:
        abort(404)
    if not can_view(current_user, issued) or (edit and not can_edit(current_user, issued)):
        abort(403)
    return issued


def _default_period() -> tuple[dt.date, dt.date]:
    today = utcnow().date()
    return dt.date(today.year, 1, 1), today


@bp.route("/<int:donor_id>/statement")
@access(*READ)
def statement(donor_id: int):
    """The donor's figures for a period: pledges, payments and outstanding amounts, the use of its money and what
    those grants achieved; ``format=pdf|csv|json`` downloads the same statement."""
    donor = _statement_donor(donor_id)
    start, end = _default_period()
    fmt = request.args.get("format") or "html"
    form = {"from": request.args.get("from") or start.isoformat(), "to": request.args.get("to") or end.isoformat(),
            "lang": request.args.get("lang") or donor.language}
    try:
        args = StatementQuery().load({**form, "format": "pdf" if fmt == "html" else fmt})
    except ValidationError as exc:
        html = render_template("donors/statement.html", donor=donor, form=form, errors=flat_errors(exc.messages),
                               s=None)
        return html, 422
    built = statements.build_statement(donor, args["date_from"], args["date_to"], args["lang"])
    if fmt != "html":
        return statements.as_response(built, args["format"])
    html = render_template("donors/statement.html", donor=donor, form=form, errors={}, s=built,
                           data=statements.context(built),
                           results=statements.results_view(built.results, built.use.grants),
                           labels=statements.movement_labels(), method=str(statements.METHOD),
                           results_note=str(statements.RESULTS_NOTE),
                           withdrawn_note=str(statements.WITHDRAWN_NOTE),
                           can_issue=current_user.has_any_role(*ISSUE))
    return html, 200


def _statements_page(donor: Donor, errors: dict, form: dict, failed: str | None = None, status: int = 200):
    page = db.paginate(statements.issued_statements(donor.id), page=request.args.get("page", 1, type=int),
                       per_page=50, error_out=False)
    start, end = _default_period()
    last_year = dt.date(end.year - 1, 1, 1), dt.date(end.year - 1, 12, 31)
    form = form or {"from": last_year[0].isoformat(), "to": last_year[1].isoformat(), "lang": donor.language}
    html = render_template("donors/statements.html", donor=donor, page=page, errors=errors, form=form,
                           failed=failed, can_issue=current_user.has_any_role(*ISSUE),
                           can_void=current_user.has_any_role(*WRITE))
    return html, status


@bp.route("/<int:donor_id>/statements")
@access(*READ)
def statements_page(donor_id: int):
    """The donor's issued statements, and the form to issue one."""
    return _statements_page(_statement_donor(donor_id), {}, {})


@bp.route("/<int:donor_id>/statements", methods=["POST"])
@access(*ISSUE)
def issue_statement(donor_id: int):
    donor = _statement_donor(donor_id)
    form = {k: v for k, v in _form().items() if k in ("from", "to", "lang")}
    try:
        data = StatementIn().load(form)
        issued = operations.issue_statement(donor, {"date_from": data["date_from"], "date_to": data["date_to"],
                                                    "language": data.get("lang")}, actor=current_user)
    except ValidationError as exc:
        return _statements_page(donor, flat_errors(exc.messages), form, status=422)
    except FundError as exc:
        errors = refusal_errors(exc, field="from", passes=(403, 404))
        return _statements_page(db.session.get(Donor, donor_id), errors, form, status=exc.status)
    flash(_("Statement %(number)s issued.", number=issued.number), "success")
    return redirect(url_for("donors.statements_page", donor_id=donor.id))


@bp.route("/statements")
@access(*READ)
def statements_index():
    """Every issued statement (staff); a donor user is taken to its statement and use of funds (the page with
    figures for any period, which links to its issued statements)."""
    if _donor_user():
        if current_user.donor_id is None:
            return render_template("donors/no_donor.html")
        return redirect(url_for("donors.statement", donor_id=current_user.donor_id))
    page = db.paginate(statements.issued_statements(), page=request.args.get("page", 1, type=int), per_page=50,
                       error_out=False)
    return render_template("donors/statements_all.html", page=page)


@bp.route("/statements/<string:number>")
@access(*READ)
def issued_statement(number: str):
    """The issued statement's PDF, exactly as issued."""
    issued = _issued(number)
    return statements.issued_response(issued, operations.stored_pdf(issued))


@bp.route("/statements/<string:number>/void", methods=["POST"])
@access(*WRITE)
def void_statement(number: str):
    issued = _issued(number, edit=True)
    donor_id = issued.donor_id
    try:
        data = VoidIn().load({"reason": _form().get("reason", "")})
        operations.void_statement(issued, reason=data["reason"], actor=current_user)
    except ValidationError as exc:
        return _statements_page(db.session.get(Donor, donor_id), flat_errors(exc.messages), {}, failed=number,
                                status=422)
    except FundError as exc:
        errors = refusal_errors(exc, field="reason", passes=(403, 404))
        return _statements_page(db.session.get(Donor, donor_id), errors, {}, failed=number, status=exc.status)
    flash(_("Statement %(number)s is void.", number=number), "success")
    return redirect(url_for("donors.statements_page", donor_id=donor_id))


# Public verification of issued statements ---------------------------------------------------------------------

verify_bp = Blueprint("verify", __name__, url_prefix="/verify")


@verify_bp.route("/")
@public
def verify_form():
    """A form to type a verification code (for readers of a printed statement)."""
    code = operations.normalise_code(request.args.get("code", ""))
    if code:
        return redirect(url_for("verify.verify", code=code))
    return render_template("donors/verify.html", issued=None, unknown=False, code="")


@verify_bp.route("/<string:code>")
@public
@limiter.limit("60 per minute")
def verify(code: str):
    """Whether a statement is valid or void, with only its donor's name (or "anonymous donor"), period, totals and
    the SHA-256 of the issued file. An unknown code says so, and nothing else."""
    normalised = operations.normalise_code(code)
    issued = None
    if len(normalised) == 19:
        issued = db.session.execute(
            select(IssuedStatement).where(IssuedStatement.verification_code == normalised)).scalar_one_or_none()
    if issued is None:
        return render_template("donors/verify.html", issued=None, unknown=True, code=""), 404
    return render_template("donors/verify.html", issued=issued, unknown=False, code=normalised,
                           name=issued.public_name, totals=issued.totals)
