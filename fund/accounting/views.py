"""Portal pages of the fund's finances: the fund position dashboard, UN operational rates of exchange (list and
entry), the ledger browser (entries with their postings, filters, reversal) and the attribution of payments to
donors (the donor x grant matrix finance checks the statements with)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from fund.accounting import attribution, figures, ledger, rates
from fund.accounting.api import READ, WRITE, EntryQuery, PeriodQuery, RateIn, RateQuery, ReverseIn, entries_query
from fund.accounting.ledger_text import describe
from fund.charts import Chart, Series, usd
from fund.db import db
from fund.errors import FundError
from fund.models import User
from fund.permissions import access
from fund.views import form_errors

bp = Blueprint("finance", __name__, url_prefix="/finance")
bp.add_app_template_filter(describe, "ledger_description")

#: Translated names of the ledger's accounts and entry kinds (fund.accounting.ledger keeps the English ones).
ACCOUNT_LABELS = {
    ledger.CASH: _l("Cash"),
    ledger.RECEIVABLE: _l("Contributions receivable"),
    ledger.REVENUE: _l("Contribution revenue"),
    ledger.WRITE_OFFS: _l("Pledges written off"),
    ledger.COMMITMENTS: _l("Fund balance committed to grants"),
    ledger.GRANTS_PAYABLE: _l("Grants payable (commitments)"),
    ledger.PSC_RESERVE: _l("Programme support costs on commitments"),
    ledger.GRANT_EXPENSE: _l("Grant expense"),
    ledger.PSC: _l("Programme support costs"),
    ledger.FX: _l("Exchange gain or loss"),
}
KIND_LABELS = {
    ledger.PLEDGE_CONFIRMED: _l("Pledge confirmed"),
    ledger.PLEDGE_CANCELLED: _l("Pledge cancelled"),
    ledger.PLEDGE_WRITE_OFF: _l("Pledge written off"),
    ledger.CONTRIBUTION: _l("Contribution received"),
    ledger.COMMITMENT: _l("Grant committed"),
    ledger.COMMITMENT_RELEASE: _l("Commitment released"),
    ledger.DISBURSEMENT: _l("Disbursement paid"),
    ledger.GRANT_REFUND: _l("Grantee refund"),
    ledger.PSC_CHARGE: _l("Programme support costs"),
}


def _form() -> dict:
    return {k: v.strip() for k, v in request.form.items() if k != "csrf_token" and v.strip() != ""}


@bp.route("/")
@access(*READ)
def position():
    return render_template("fund/finance/position.html", position=figures.fund_position(),
                           cash=figures.cash_by_currency(), psc_rate=figures.psc_rate())


# Rates --------------------------------------------------------------------------------------------------------


@bp.route("/rates", endpoint="rates")
@access(*READ)
def rates_page():
    return _rates({}, {})


def _rates(errors: dict, form: dict, status: int = 200):
    try:
        args = RateQuery().load(request.args.to_dict())
    except ValidationError as exc:
        args, errors = {"page": 1, "per_page": 50, "all_versions": False}, {**errors, **form_errors(exc)}
    query = rates.rates_query(args.get("currency"), args.get("month"), all_versions=args["all_versions"])
    page = db.paginate(query, page=args["page"], per_page=args["per_page"], error_out=False)
    html = render_template("fund/finance/rates.html", page=page, errors=errors, form=form, filters=request.args,
                           currencies=rates.currency_choices(), can_write=current_user.has_any_role(*WRITE))
    return html, status


@bp.route("/rates", methods=["POST"])
@access(*WRITE)
def set_rate():
    form = _form()
    try:
        data = RateIn().load({k: form.get(k, "") for k in ("currency", "month", "units_per_usd")})
        change = rates.set_rate(data["currency"], data["month"], data["units_per_usd"], actor=current_user)
    except ValidationError as exc:
        return _rates(form_errors(exc), form, 422)
    except FundError as exc:
        db.session.rollback()
        return _rates(exc.fields or {"currency": [exc.message]}, form, exc.status)
    r = change.rate
    if change.added:
        flash(_("Rate %(currency)s %(month)s saved: %(rate)s per USD 1 (version %(version)d).", currency=r.currency,
                month=r.month_label, rate=r.units_per_usd, version=r.version), "success")
    else:
        flash(_("%(currency)s %(month)s already has this rate; nothing changed.", currency=r.currency,
                month=r.month_label), "success")
    return redirect(url_for("finance.rates"))


# Attribution ----------------------------------------------------------------------------------------------------


@bp.route("/attribution", endpoint="attribution")
@access(*READ)
def attribution_page():
    """The donor x grant matrix of a period, as the fund recorded it when the money moved (``format=csv``: CSV)."""
    errors = {}
    try:
        args = PeriodQuery().load(request.args.to_dict())
    except ValidationError as exc:
        args, errors = PeriodQuery().load({}), form_errors(exc)
    data = attribution.matrix_data(attribution.matrix(args["date_from"], args["date_to"]))
    if request.args.get("format") == "csv" and not errors:
        return _matrix_csv(data)
    html = render_template("fund/finance/attribution.html", m=data, errors=errors,
                           filters={"from": request.args.get("from", args["date_from"].isoformat()),
                                    "to": request.args.get("to", args["date_to"].isoformat())})
    return html, 422 if errors else 200


def _matrix_csv(data: dict) -> Response:
    """One row per donor (its USD per grant, total, PSC, received), then the grants' totals, what they were paid
    and what stays unattributed. UTF-8 with BOM; text a spreadsheet would run as a formula is quoted."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def cell(value) -> str:
        text = "" if value is None else str(value)
        return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) and not _is_number(text) else text

    grants = data["grants"]
    writer.writerow(["donor_id", "donor", *[cell(g["number"]) for g in grants], "total", "psc", "received"])
    for d in data["donors"]:
        writer.writerow([d["id"], cell(d["name"]), *d["cells"], d["attributed"], d["psc"], d["received"]])
    t = data["totals"]
    writer.writerow(["", "total", *[g["attributed"] for g in grants], t["attributed"], t["psc_attributed"],
                     t["received"]])
    writer.writerow(["", "paid", *[g["paid"] for g in grants], t["paid"], t["psc_charged"], ""])
    writer.writerow(["", "unattributed", *[g["unattributed"] for g in grants], t["unattributed"],
                     t["psc_charged"] - t["psc_attributed"], ""])
    period = data["period"]
    response = Response(("\ufeff" + out.getvalue()).encode("utf-8"), mimetype="text/csv")  # charset added
    response.headers["Content-Disposition"] = (
        f'attachment; filename="attribution-{period["from"]:%Y%m%d}-{period["to"]:%Y%m%d}.csv"')
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


# Ledger -------------------------------------------------------------------------------------------------------


@bp.route("/ledger", endpoint="ledger")
@access(*READ)
def ledger_page():
    errors = {}
    raw = {k: v for k, v in request.args.items() if v != ""}
    try:
        filters = EntryQuery().load(raw)
    except ValidationError as exc:
        filters, errors = {"page": 1, "per_page": 50}, form_errors(exc)
    page = db.paginate(entries_query(filters), page=filters["page"], per_page=filters["per_page"],
                       error_out=False)
    return render_template("fund/finance/ledger.html", page=page, filters=request.args, errors=errors,
                           kinds=KIND_LABELS, accounts=ACCOUNT_LABELS)


@bp.route("/ledger/<int:entry_id>")
@access(*READ)
def entry(entry_id: int):
    return _entry(db.get_or_404(ledger.JournalEntry, entry_id), {}, {})


def _entry(entry, errors: dict, form: dict, status: int = 200):
    author = db.session.get(User, entry.created_by_id) if entry.created_by_id else None
    rate_ids = {p.exchange_rate_id for p in entry.postings if p.exchange_rate_id}
    rate_rows = {r.id: r for r in db.session.execute(
        select(rates.ExchangeRate).where(rates.ExchangeRate.id.in_(rate_ids))).scalars()} if rate_ids else {}
    html = render_template("fund/finance/entry.html", entry=entry, author=author, rates=rate_rows, errors=errors,
                           form=form, accounts=ACCOUNT_LABELS, kinds=KIND_LABELS,
                           can_write=current_user.has_any_role(*WRITE))
    return html, status


@bp.route("/ledger/<int:entry_id>/reverse", methods=["POST"])
@access(*WRITE)
def reverse(entry_id: int):
    original = db.get_or_404(ledger.JournalEntry, entry_id)
    form = _form()
    try:
        data = ReverseIn().load({"reason": form.get("reason", "")})
        reversal = ledger.reverse_entry(original.id, reason=data["reason"], actor=current_user)
    except ValidationError as exc:
        return _entry(original, form_errors(exc), form, 422)
    except FundError as exc:
        db.session.rollback()
        original = db.session.get(ledger.JournalEntry, entry_id)
        return _entry(original, exc.fields or {"reason": [exc.message]}, form, exc.status)
    flash(_("Entry %(id)d reversed by entry %(rev)d.", id=entry_id, rev=reversal.id), "success")
    return redirect(url_for("finance.entry", entry_id=reversal.id))


# The finance dashboard's chart ----------------------------------------------------------------------------------


def position_chart(months: int = 24) -> Chart:
    from flask_babel import format_date
    from flask_babel import gettext as _

    history = figures.position_history(months)
    return Chart(
        "chart-position", _("The fund position over time"),
        _("Cash, commitments to grants not yet paid (with their programme support costs) and the balance available "
          "for new grants at the end of each month, in US dollars."),
        [format_date(d, "MMM y") for d, *_rest in history],
        [Series(_("Cash"), [c for _d, c, _k, _a in history]),
         Series(_("Committed"), [k for _d, _c, k, _a in history]),
         Series(_("Available"), [a for _d, _c, _k, a in history])],
        kind="line", unit="USD", format=usd, extra={"category_label": _("Month")})
