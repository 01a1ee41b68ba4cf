"""Donor statements: a donor's :class:`Statement` over a period, put together by :func:`build_statement` from the
figures of :mod:`donors.statement_figures`, and the forms it takes. A statement is plain data: the same object gives
the portal page, the PDF, the CSV and the JSON, so they always agree; the labels, the attribution method
(:data:`METHOD`) and the notes on results are given in the statement's language.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import asdict, dataclass
from decimal import Decimal

from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from donors.models import ANNOUNCED, CANCELLED, Donor, IssuedStatement, Pledge
from donors.statement_figures import (
    ZERO,
    FundContext,
    GrantShare,
    Movement,
    Payment,
    PledgeLine,
    UseOfFunds,
    fund_context,
    payments_received,
    pledge_movements,
    results_of,
    use_of_funds,
)
from fund.accounting.rates import BASE_CURRENCY, from_minor
from fund.db import db, plan_for_these_values
from fund.vocabulary import (
    AGE_BAND_LABELS,
    ASSISTANCE_TYPES,
    FORMS_OF_EXPLOITATION,
    NOT_RECORDED,
    NOT_RECORDED_LABEL,
    SEX_LABELS,
)

#: The attribution method, as printed on the donor page, the portal statement and the PDF.
METHOD = _l(
    "How your money is attributed to grants: the fund records, at each payment to a grant, whose money paid it. "
    "Earmarked money pays first, and only grants of its funding window, region or theme; money without an earmark "
    "then pays the rest. Within each, every donor pays in proportion to its money not yet spent at that moment, "
    "whatever the year it was received. Programme support costs charged on the payment are paid the same way. "
    "When a grantee refunds money, it returns to the donors whose money paid that grant, in proportion to what "
    "each paid. Amounts are rounded to the cent by the largest remainder, so that they add up exactly. The "
    "figures are kept as recorded: a later contribution, yours or another donor's, never changes them, and "
    "together the statements of all donors never attribute to a grant more than the fund paid it.")
WITHDRAWN_NOTE = _l("Too few people were assisted to break these results down without risk of identifying "
                    "anyone: only the total is shown.")
RESULTS_NOTE = _l(
    "Results are those the fund publishes on its public pages, from every grantee report it has accepted to date: "
    "for each grant your money paid in the period, and for all the fund's grants together. People are counted, "
    "never named. A count from 1 to 4 shows as “<5”; “x” marks a figure withheld so that a small count cannot be "
    "worked out from the totals; “—” marks a total not published for the same reason.")

#: Labels of the one vocabulary (fund.vocabulary); a report's breakdowns may also count "not recorded".
AGE_LABELS = AGE_BAND_LABELS
FORM_LABELS = {**FORMS_OF_EXPLOITATION, NOT_RECORDED: NOT_RECORDED_LABEL}
ASSISTANCE_LABELS = {**ASSISTANCE_TYPES, NOT_RECORDED: NOT_RECORDED_LABEL}
EARMARK_LABELS = {"funding_window": _l("Funding window"), "region": _l("Region"), "theme": _l("Theme")}


def _label(table: dict, code: str) -> str:
    label = table.get(code)
    return str(label) if label is not None else code.replace("_", " ")


def country_label(code: str) -> str:
    """The country's name in the current language."""
    if code == "not_recorded":
        return str(_l("Not recorded"))
    locale = get_locale()
    return locale.territories.get(code, code) if locale is not None else code


# The statement ------------------------------------------------------------------------------------------------


@dataclass
class Statement:
    """A donor's statement over a period, from the figures of :mod:`donors.statement_figures`; an issued statement
    also carries its number, time of issue and verification code and URL."""

    donor_id: int
    donor_name: str
    anonymous: bool
    date_from: dt.date
    date_to: dt.date
    language: str
    currencies: list[Movement]
    usd: Movement
    pledges: list[PledgeLine]
    announced: list[PledgeLine]
    payments: list[Payment]
    use: UseOfFunds
    results: dict
    fund: FundContext
    number: str | None = None
    issued_at: dt.datetime | None = None
    verification_code: str | None = None
    verification_url: str | None = None

    # Payment totals ---------------------------------------------------------------------------------------

    @property
    def received_usd(self) -> Decimal:
        """All payments of the period at the rates of their months (against pledges and unpledged)."""
        return sum((p.usd for p in self.payments), ZERO)

    @property
    def received_against_pledges_usd(self) -> Decimal:
        return sum((p.usd for p in self.payments if p.pledge_id is not None), ZERO)

    @property
    def unpledged_usd(self) -> Decimal:
        return sum((p.usd for p in self.payments if p.pledge_id is None), ZERO)

    @property
    def exchange_difference(self) -> Decimal:
        """Booking value of what payments took off the pledges minus their value at the receipt rates."""
        return self.usd.received - self.received_against_pledges_usd

    def payment_totals(self) -> list[tuple[str, Decimal, Decimal]]:
        """(currency, amount, USD) of the period's payments, per currency."""
        totals: dict[str, list] = {}
        for p in self.payments:
            t = totals.setdefault(p.currency, [from_minor(0, p.currency), ZERO])
            t[0] += p.amount
            t[1] += p.usd
        return [(c, a, u) for c, (a, u) in sorted(totals.items())]

    def totals(self) -> dict:
        """The totals printed on the statement (kept with an issued statement for its verification page)."""
        return {
            "currency": BASE_CURRENCY,
            "opening": str(self.usd.opening), "pledged": str(self.usd.pledged), "received": str(self.usd.received),
            "written_off": str(self.usd.written_off), "closing": str(self.usd.closing),
            "payments_received": str(self.received_usd),
            "by_currency": [{"currency": m.currency, "opening": str(m.opening), "pledged": str(m.pledged),
                             "received": str(m.received), "written_off": str(m.written_off),
                             "closing": str(m.closing)} for m in self.currencies],
        }


def build_statement(donor: Donor, date_from: dt.date, date_to: dt.date, language: str | None = None) -> Statement:
    """The donor's statement for [date_from, date_to] (inclusive), in ``language`` (default: the donor's)."""
    if date_from > date_to:
        raise ValueError("the period ends before it starts")
    plan_for_these_values()  # the statement's reads filter on one donor's rows, of very unequal numbers
    movements = pledge_movements(donor.id, date_from, date_to)
    pledges = {p.id: p for p in db.session.execute(select(Pledge).where(Pledge.donor_id == donor.id)
                                                   .order_by(Pledge.pledged_on, Pledge.id)).scalars()}
    pledge_lines, announced = [], []
    by_currency: dict[str, Movement] = {}
    usd = Movement.zero(BASE_CURRENCY)
    for pledge in pledges.values():
        own, in_usd = movements.get(pledge.id, (Movement.zero(pledge.currency), Movement.zero(BASE_CURRENCY)))
        line = PledgeLine(pledge.id, pledge.pledged_on, pledge.confirmed_on, pledge.amount, pledge.currency,
                          pledge.status, pledge.earmark_type, pledge.earmark_value, own, in_usd)
        if pledge.id in movements:
            by_currency.setdefault(pledge.currency, Movement.zero(pledge.currency)).add(own)
            usd.add(in_usd)
            moved = any(getattr(own, n) for n in ("pledged", "received", "written_off"))
            if own.closing or own.opening or moved:
                pledge_lines.append(line)
        elif pledge.status == ANNOUNCED and pledge.pledged_on <= date_to:
            announced.append(line)
        elif pledge.status == CANCELLED and date_from <= pledge.pledged_on <= date_to:
            announced.append(line)
    payments = payments_received(donor.id, date_from, date_to)
    use = use_of_funds(donor.id, date_from, date_to)
    results = results_of([g.grant_id for g in use.grants], date_from, date_to)
    return Statement(
        donor_id=donor.id, donor_name=donor.name, anonymous=donor.anonymous, date_from=date_from, date_to=date_to,
        language=language or donor.language, currencies=[by_currency[c] for c in sorted(by_currency)], usd=usd,
        pledges=pledge_lines, announced=announced, payments=payments, use=use, results=results,
        fund=fund_context(date_from, date_to))


# Presentation: plain data for the templates, the PDF, CSV and JSON -------------------------------------------


def results_view(results: dict, grants: list[GrantShare]) -> dict:
    """The public results (:func:`results_of`) with labels in the current language, as plain lists: ``grants`` and
    ``grants_total`` (None when not published) for the statement's grants, the rest for the whole fund."""
    numbers = {g.grant_id: g for g in grants}
    return {
        "reported": bool(results["reported"]),
        "grants_total": results["grants_total"],
        "withdrawn": results["withdrawn"],
        "total": results["total"],
        "grants": [{"number": numbers[g].number if g in numbers else f"#{g}",
                    "organisation": numbers[g].organisation if g in numbers else "", "victims": v}
                   for g, v in results["grants"].items()],
        "sexes": [{"code": s, "label": _label(SEX_LABELS, s), "total": results["sexes"][s],
                   "cells": [results["sex_age"][(s, a)] for a in results["ages"]]} for s in results["sexes"]],
        "ages": [{"code": a, "label": _label(AGE_LABELS, a), "total": results["ages"][a]} for a in results["ages"]],
        "by_form": [{"code": c, "label": _label(FORM_LABELS, c), "count": v} for c, v in results["by_form"].items()],
        "by_assistance": [{"code": c, "label": _label(ASSISTANCE_LABELS, c), "count": v}
                          for c, v in results["by_assistance"].items()],
        "by_country": [{"code": c, "label": country_label(c), "count": v}
                       for c, v in results["by_country"].items()],
    }


def _movement_dict(m: Movement) -> dict:
    return {"currency": m.currency, "opening": m.opening, "pledged": m.pledged, "received": m.received,
            "written_off": m.written_off, "closing": m.closing}


def context(statement: Statement) -> dict:
    """The statement as plain data (codes, amounts as Decimals, dates), for JSON and the templates."""
    s = statement
    return {
        "donor": {"id": s.donor_id, "name": s.donor_name},
        "period": {"from": s.date_from, "to": s.date_to},
        "language": s.language,
        "number": s.number,
        "issued_at": s.issued_at,
        "verification_code": s.verification_code,
        "verification_url": s.verification_url,
        "currency": BASE_CURRENCY,
        "summary": {
            **{k: v for k, v in _movement_dict(s.usd).items() if k != "currency"},
            "reconciles": s.usd.reconciles and all(m.reconciles for m in s.currencies),
            "payments_received": s.received_usd,
            "received_against_pledges_at_receipt_rates": s.received_against_pledges_usd,
            "exchange_difference": s.exchange_difference,
            "unpledged_received": s.unpledged_usd,
        },
        "reconciliation": [_movement_dict(m) for m in s.currencies],
        "pledges": [{"id": p.id, "pledged_on": p.pledged_on, "confirmed_on": p.confirmed_on, "amount": p.amount,
                     "currency": p.currency, "status": p.status,
                     "earmark": {"type": p.earmark_type, "value": p.earmark_value} if p.earmark_type else None,
                     "movement": _movement_dict(p.movement), "usd": _movement_dict(p.usd)} for p in s.pledges],
        "announced": [{"id": p.id, "pledged_on": p.pledged_on, "amount": p.amount, "currency": p.currency,
                       "status": p.status} for p in s.announced],
        "payments": [{"date": p.date, "reference": p.reference, "pledge_id": p.pledge_id, "currency": p.currency,
                      "amount": p.amount, "rate": p.rate, "rate_month": p.rate_month, "usd": p.usd,
                      "reversal": p.reversal} for p in s.payments],
        "payment_totals": [{"currency": c, "amount": a, "usd": u} for c, a, u in s.payment_totals()],
        "use_of_funds": {
            "opening": s.use.opening, "received": s.use.received, "attributed": s.use.attributed,
            "psc": s.use.psc, "held": s.use.held,
            "grants": [{"grant_id": g.grant_id, "number": g.number, "organisation": g.organisation,
                        "title": g.title, "countries": g.countries, "paid_in_period": g.paid_in_period,
                        "unearmarked": g.unearmarked, "earmarked": g.earmarked, "total": g.total}
                       for g in s.use.grants],
            "earmarks": [{"type": e.type, "value": e.value, "opening": e.opening, "received": e.received,
                          "attributed": e.attributed, "psc": e.psc, "held": e.held, "grants": e.grants}
                         for e in s.use.earmarks],
        },
        "results": {k: (v if not isinstance(v, dict) else
                        {("|".join(key) if isinstance(key, tuple) else str(key)): val for key, val in v.items()})
                    for k, v in s.results.items()},
        "fund": asdict(s.fund),
    }


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def as_json(statement: Statement) -> dict:
    """The statement as JSON-ready data (amounts as decimal strings beside their currency, ISO dates)."""
    data = _jsonable(context(statement))
    data["method"] = str(METHOD)
    return data


def json_bytes(statement: Statement) -> bytes:
    return json.dumps(as_json(statement), ensure_ascii=False).encode("utf-8")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula is prefixed with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, Decimal | int):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


CSV_COLUMNS = ("section", "item", "label", "date", "currency", "amount", "rate", "usd", "value")


def csv_bytes(statement: Statement) -> bytes:
    """The statement as CSV (UTF-8 with BOM, one row per figure), labels in the statement's language."""
    s = statement
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)

    def row(section, item, label="", date=None, currency=None, amount=None, rate=None, usd=None, value=None):
        writer.writerow([_cell(v) for v in (section, item, label, date, currency, amount, rate, usd, value)])

    with force_locale(s.language):
        row("statement", "donor", s.donor_name, value=s.donor_id)
        row("statement", "period_from", date=s.date_from)
        row("statement", "period_to", date=s.date_to)
        if s.number:
            row("statement", "number", value=s.number)
            row("statement", "verification_code", value=s.verification_code)
        labels = movement_labels()
        for key in ("opening", "pledged", "received", "written_off", "closing"):
            row("summary", key, labels[key], currency=BASE_CURRENCY, usd=getattr(s.usd, key))
        row("summary", "payments_received", str(_l("Payments received (at the rates of their months)")),
            currency=BASE_CURRENCY, usd=s.received_usd)
        row("summary", "exchange_difference", str(_l("Exchange difference on payments against pledges")),
            currency=BASE_CURRENCY, usd=s.exchange_difference)
        row("summary", "unpledged_received", str(_l("Payments without a pledge")), currency=BASE_CURRENCY,
            usd=s.unpledged_usd)
        for m in s.currencies:
            for key in ("opening", "pledged", "received", "written_off", "closing"):
                row("reconciliation", key, labels[key], currency=m.currency, amount=getattr(m, key))
        for p in s.pledges:
            row("pledge", p.id, p.earmark_value or "", date=p.pledged_on, currency=p.currency, amount=p.amount,
                usd=p.usd.closing, value=p.status)
        for p in s.payments:
            row("payment", p.reference, str(_l("Reversal")) if p.reversal else "", date=p.date, currency=p.currency,
                amount=p.amount, rate=p.rate, usd=p.usd, value=p.pledge_id)
        for c, a, u in s.payment_totals():
            row("payment_total", c, currency=c, amount=a, usd=u)
        row("use_of_funds", "opening", str(_l("Your money not yet spent at the start of the period")),
            currency=BASE_CURRENCY, usd=s.use.opening)
        row("use_of_funds", "received", str(_l("Your payments in the period")), currency=BASE_CURRENCY,
            usd=s.use.received)
        row("use_of_funds", "attributed", str(_l("Paid to grants")), currency=BASE_CURRENCY, usd=s.use.attributed)
        row("use_of_funds", "psc", str(_l("Programme support costs")), currency=BASE_CURRENCY, usd=s.use.psc)
        row("use_of_funds", "held", str(_l("Held by the fund for grants to come")), currency=BASE_CURRENCY,
            usd=s.use.held)
        for g in s.use.grants:
            row("use_of_funds_grant", g.number, g.organisation, currency=BASE_CURRENCY, usd=g.total)
        view = results_view(s.results, s.use.grants)
        for g in view["grants"]:
            row("results_grant", g["number"], g["organisation"], value=g["victims"])
        row("results_grants", "total", str(_l("Victims assisted by these grants")), value=view["grants_total"])
        row("results", "total", str(_l("Victims assisted by all the fund's grants")), value=view["total"])
        for sex in view["sexes"]:
            for age, cell in zip(view["ages"], sex["cells"], strict=True):
                row("results_sex_age", f"{sex['code']}|{age['code']}", f"{sex['label']}, {age['label']}", value=cell)
            row("results_sex", sex["code"], sex["label"], value=sex["total"])
        for age in view["ages"]:
            row("results_age", age["code"], age["label"], value=age["total"])
        for name in ("by_form", "by_assistance", "by_country"):
            for item in view[name]:
                row(f"results_{name[3:]}", item["code"], item["label"], value=item["count"])
        for key, value in asdict(s.fund).items():
            row("fund", key, currency=BASE_CURRENCY if isinstance(value, Decimal) else None,
                usd=value if isinstance(value, Decimal) else None, value=None if isinstance(value, Decimal) else value)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def movement_labels() -> dict[str, str]:
    return {
        "opening": str(_l("Outstanding pledges at the start of the period")),
        "pledged": str(_l("Pledges confirmed in the period (net of cancellations)")),
        "received": str(_l("Paid against pledges")),
        "written_off": str(_l("Written off")),
        "closing": str(_l("Outstanding pledges at the end of the period")),
    }


# The PDF ------------------------------------------------------------------------------------------------------

#: Payment rows per preformatted block (a long list is laid out as blocks of text, not as a table: WeasyPrint
#: lays out long tables slowly).
ROWS_PER_BLOCK = 40


def _pad(text: str, width: int, right: bool = False) -> str:
    text = text.replace("\u202f", " ").replace("\xa0", " ")
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.rjust(width) if right else text.ljust(width)


def payment_blocks(statement: Statement) -> tuple[str, list[str]]:
    """The payment list as fixed-width text: a header line and blocks of :data:`ROWS_PER_BLOCK` lines."""
    from fund.templating import money

    header = "  ".join([_pad(str(_l("Date")), 10), _pad(str(_l("Reference")), 26), _pad(str(_l("Pledge")), 10),
                        _pad(str(_l("Amount")), 21, True), _pad(str(_l("Rate")), 12, True),
                        _pad("USD", 17, True)])
    lines = []
    for p in statement.payments:
        reference = p.reference + (" (" + str(_l("reversal")) + ")" if p.reversal else "")
        lines.append("  ".join([
            _pad(p.date.isoformat(), 10), _pad(reference, 26),
            _pad(str(p.pledge_id) if p.pledge_id else "—", 10), _pad(money(p.amount, p.currency), 21, True),
            _pad(format_rate(p.rate), 12, True), _pad(money(p.usd, BASE_CURRENCY), 17, True)]))
    blocks = ["\n".join(lines[i:i + ROWS_PER_BLOCK]) for i in range(0, len(lines), ROWS_PER_BLOCK)]
    return header, blocks


def format_rate(rate: Decimal) -> str:
    from flask_babel import format_decimal

    text = format(rate.normalize(), "f")
    places = len(text.split(".")[1]) if "." in text else 0
    return format_decimal(rate, format="#,##0." + "0" * max(places, 1) if places else "#,##0")


def qr_data_uri(url: str) -> str:
    import segno

    return segno.make(url, error="m").png_data_uri(scale=3, border=2)


def pdf_context(statement: Statement, *, preview: bool) -> dict:
    """Plain data for templates/pdf/statement.html (call under the statement's locale)."""
    header, blocks = payment_blocks(statement)
    data = context(statement)
    data["results_view"] = results_view(statement.results, statement.use.grants)
    data["labels"] = movement_labels()
    data["method"] = str(METHOD)
    data["results_note"] = str(RESULTS_NOTE)
    data["withdrawn_note"] = str(WITHDRAWN_NOTE)
    data["payment_header"] = header
    data["payment_blocks"] = blocks
    data["preview"] = preview
    data["lang"] = statement.language
    data["qr"] = qr_data_uri(statement.verification_url) if statement.verification_url else None
    data["earmark_labels"] = {k: str(v) for k, v in EARMARK_LABELS.items()}
    return data


def render_statement_pdf(statement: Statement, *, preview: bool) -> bytes:
    """The statement as PDF, rendered in the statement's language within the configured limits."""
    from fund.pdf import html_to_pdf_bounded, pdf_limits, render_html

    with force_locale(statement.language):
        html = render_html("pdf/statement.html", pdf_context(statement, preview=preview))
    timeout, memory = pdf_limits()
    return html_to_pdf_bounded(html, timeout, memory_mb=memory)


def issued_statements(donor_id: int | None = None):
    """Issued statements, newest first (a query to paginate)."""
    query = select(IssuedStatement).order_by(IssuedStatement.issued_at.desc(), IssuedStatement.id.desc())
    if donor_id is not None:
        query = query.where(IssuedStatement.donor_id == donor_id)
    return query


__all__ = ["METHOD", "Statement", "as_json", "build_statement", "csv_bytes", "json_bytes", "render_statement_pdf",
           "results_view"]


# HTTP responses -----------------------------------------------------------------------------------------------


def file_name(statement: Statement, extension: str) -> str:
    return f"statement-{statement.donor_id}-{statement.date_from:%Y%m%d}-{statement.date_to:%Y%m%d}.{extension}"


def as_response(statement: Statement, fmt: str):
    """The statement as a download: PDF (a preview, not an issued statement), CSV or JSON."""
    from flask import Response

    from fund.errors import FundError
    from fund.i18n import translate
    from fund.pdf import PdfError

    if fmt == "json":
        return Response(json_bytes(statement), mimetype="application/json")
    if fmt == "csv":
        data, mimetype = csv_bytes(statement), "text/csv"  # werkzeug adds "; charset=utf-8"
    else:
        try:
            data = render_statement_pdf(statement, preview=True)
        except PdfError as exc:
            raise FundError(translate("The statement could not be produced; try again later."), status=503,
                            code="pdf_failed") from exc
        mimetype = "application/pdf"
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{file_name(statement, fmt)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def issued_response(issued: IssuedStatement, data: bytes):
    """The stored PDF of an issued statement, as issued."""
    from flask import Response

    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{issued.number}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["ETag"] = f'"{issued.sha256}"'
    return response
