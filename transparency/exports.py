"""Staff exports as XLSX and CSV: the ledger's postings with their entries, contributions, pledges and their
instalments, grants with their tranches and payments, the attribution of donors' money to grants (finance);
applications with their scores, the ranking, reports with their results (selection and programme).

Each export is a list of typed columns and rows of Python values. XLSX is written by XlsxWriter in constant
memory (row by row): numbers as numbers, dates as dates, money as a number with its currency's decimals
(``#,##0.00``, ``#,##0`` for JPY, ``#,##0.000`` for KWD...) beside its currency code, the header row frozen and an
autofilter on it. CSV has the same columns; a text cell that a spreadsheet would run as a formula is prefixed with
an apostrophe, as in the audit export. Queries stream (``yield_per``) and load related rows in bulk.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

import xlsxwriter
from flask import Blueprint, Response, abort, render_template, stream_with_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from donors.models import Contribution, Pledge
from fund.accounting import ledger
from fund.accounting.figures import grants_figures
from fund.db import db
from fund.models import ADMIN, AUDITOR, FINANCE_OFFICER, FUND_MANAGER
from fund.money import exponent
from fund.permissions import access
from grants.awards.models import Disbursement, Grant, GrantReport, Tranche
from grants.models import Application, Call
from grants.review.ranking import call_ranking

bp = Blueprint("exports", __name__, url_prefix="/exports")

FINANCE = (FINANCE_OFFICER, FUND_MANAGER, ADMIN, AUDITOR)
PROGRAMME = (FUND_MANAGER, ADMIN, AUDITOR)
BATCH = 1000


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"  # text | int | decimal | date | datetime | money (its currency in column ``currency``)
    currency: str | None = None  # for money: the name of the column holding the currency code


@dataclass
class Export:
    name: str
    title: object
    columns: list[Column]
    rows: Callable[[], Iterable[tuple]]


def _usd(cents: int | None) -> Decimal | None:
    return None if cents is None else ledger.from_minor(cents, "USD")


# The exports --------------------------------------------------------------------------------------------------


def ledger_rows():
    query = (select(ledger.Posting, ledger.JournalEntry).join(ledger.JournalEntry)
             .order_by(ledger.JournalEntry.id, ledger.Posting.line).execution_options(yield_per=BATCH))
    for p, e in db.session.execute(query):
        yield (e.id, e.kind, e.value_date, e.posted_at.replace(tzinfo=None), e.reversal_of_id, e.description, p.line,
               p.account, p.currency, ledger.from_minor(p.amount_minor, p.currency), _usd(p.usd_cents), "USD",
               p.donor_id, p.pledge_id, p.grant_id)


def contribution_rows():
    query = select(Contribution).order_by(Contribution.received_on, Contribution.id).execution_options(
        yield_per=BATCH)
    for c in db.session.execute(query).scalars():
        yield (c.id, c.donor_id, c.donor.name, c.pledge_id, c.received_on, c.currency,
               ledger.from_minor(c.amount_minor, c.currency), Decimal(c.units_per_usd), _usd(c.usd_cents), "USD",
               c.bank_reference, c.ledger_entry_id)


def pledge_rows():
    query = select(Pledge).order_by(Pledge.id).execution_options(yield_per=BATCH)
    for p in db.session.execute(query).scalars():
        yield (p.id, p.donor_id, p.donor.name, p.status, p.pledged_on, p.confirmed_on, p.currency,
               ledger.from_minor(p.amount_minor, p.currency), p.earmark_type, p.earmark_value)


def instalment_rows():
    query = select(Pledge).options(selectinload(Pledge.instalments)).order_by(Pledge.id)
    for p in db.session.execute(query).scalars():
        for i in sorted(p.instalments, key=lambda i: (i.due_on, i.id)):
            yield (i.id, p.id, p.donor.name, i.due_on, p.currency, ledger.from_minor(i.amount_minor, p.currency))


def grant_rows():
    grants = db.session.execute(select(Grant).order_by(Grant.id)).scalars().all()
    figures = grants_figures([g.id for g in grants])
    for g in grants:
        f = figures[g.id]
        yield (g.id, g.number, g.organisation.name, g.title, g.status, g.start_date, g.end_date, g.currency,
               g.amount, f.committed, f.paid, f.refunded, f.psc, f.remaining)


def tranche_rows():
    query = (select(Tranche, Grant.number).join(Grant, Grant.id == Tranche.grant_id)
             .order_by(Tranche.grant_id, Tranche.number))
    for t, number in db.session.execute(query):
        yield (t.id, number, t.number, t.condition, t.expected_on, "USD", t.amount)


def payment_rows():
    query = (select(Disbursement, Grant.number).join(Grant, Grant.id == Disbursement.grant_id)
             .order_by(Disbursement.id).execution_options(yield_per=BATCH))
    for d, number in db.session.execute(query):
        yield (d.id, number, d.tranche.number, d.status, d.currency, d.amount, d.psc_usd, d.paid_on,
               d.payment_reference, d.ledger_entry_id)


def application_rows():
    scores = {}
    for call in db.session.execute(select(Call).options(selectinload(Call.criteria))).scalars():
        for row in call_ranking(call):
            scores[row.application.id] = row
    query = select(Application).order_by(Application.id).execution_options(yield_per=BATCH)
    for a in db.session.execute(query).scalars():
        row = scores.get(a.id)
        yield (a.id, a.reference, a.call.title_en, a.organisation.name, a.organisation.country, a.status,
               a.project_title, a.submitted_at.replace(tzinfo=None) if a.submitted_at else None, a.currency,
               a.requested_amount, row.submitted if row else 0, row.score if row else None,
               row.rank if row else None)


def ranking_rows():
    for call in db.session.execute(select(Call).options(selectinload(Call.criteria)).order_by(Call.id)).scalars():
        for row in call_ranking(call):
            a = row.application
            yield (call.id, call.title_en, row.rank, a.reference, a.organisation.name, a.status, a.currency,
                   a.requested_amount, row.submitted, row.score, "yes" if row.disagreement else "no")


def report_rows():
    query = (select(GrantReport, Grant.number).join(Grant, Grant.id == GrantReport.grant_id)
             .options(selectinload(GrantReport.results)).order_by(GrantReport.id))
    for r, number in db.session.execute(query):
        cells = r.results or [None]
        for cell in cells:
            yield (r.id, number, r.kind, r.status, r.period_start, r.period_end, r.due_on, r.total_assisted,
                   r.currency, r.expenditure, cell.breakdown if cell else None, cell.key if cell else None,
                   cell.count if cell else None)


def attribution_rows():
    """The donor x grant attribution matrix over the fund's whole history, one row per cell: what each donor's
    money paid each grant, the PSC it paid, what it brought in, and what no donor's money could be named for."""
    from fund.accounting import attribution

    data = attribution.matrix_data(attribution.matrix(dt.date(2000, 1, 1), dt.date.today()))
    grants = data["grants"]
    for d in data["donors"]:
        for g, value in zip(grants, d["cells"], strict=True):
            if value:
                yield (d["id"], d["name"], g["id"], g["number"], g["organisation"], "grant", value, "USD")
        if d["psc"]:
            yield (d["id"], d["name"], None, None, None, "psc", d["psc"], "USD")
        if d["received"]:
            yield (d["id"], d["name"], None, None, None, "received", d["received"], "USD")
    for g in grants:
        if g["unattributed"]:
            yield (None, None, g["id"], g["number"], g["organisation"], "unattributed", g["unattributed"], "USD")


EXPORTS: dict[str, tuple[tuple, Export]] = {}


def register(roles: tuple, export: Export) -> None:
    EXPORTS[export.name] = (roles, export)


register(FINANCE, Export("ledger", _l("Ledger: entries and postings"), [
    Column("entry_id", "int"), Column("kind"), Column("value_date", "date"), Column("posted_at", "datetime"),
    Column("reversal_of", "int"), Column("description"), Column("line", "int"), Column("account"),
    Column("currency"), Column("amount", "money", "currency"), Column("amount_usd", "money", "usd"),
    Column("usd"), Column("donor_id", "int"), Column("pledge_id", "int"), Column("grant_id", "int")], ledger_rows))
register(FINANCE, Export("contributions", _l("Contributions received"), [
    Column("id", "int"), Column("donor_id", "int"), Column("donor"), Column("pledge_id", "int"),
    Column("received_on", "date"), Column("currency"), Column("amount", "money", "currency"),
    Column("units_per_usd", "decimal"), Column("amount_usd", "money", "usd"), Column("usd"),
    Column("bank_reference"), Column("ledger_entry_id", "int")], contribution_rows))
register(FINANCE, Export("pledges", _l("Pledges"), [
    Column("id", "int"), Column("donor_id", "int"), Column("donor"), Column("status"), Column("pledged_on", "date"),
    Column("confirmed_on", "date"), Column("currency"), Column("amount", "money", "currency"),
    Column("earmark_type"), Column("earmark")], pledge_rows))
register(FINANCE, Export("instalments", _l("Pledge instalments"), [
    Column("id", "int"), Column("pledge_id", "int"), Column("donor"), Column("due_on", "date"), Column("currency"),
    Column("amount", "money", "currency")], instalment_rows))
register(FINANCE, Export("grants", _l("Grants"), [
    Column("id", "int"), Column("number"), Column("organisation"), Column("title"), Column("status"),
    Column("start_date", "date"), Column("end_date", "date"), Column("currency"),
    Column("amount", "money", "currency"), Column("committed_usd", "money", "currency"),
    Column("paid_usd", "money", "currency"), Column("refunded_usd", "money", "currency"),
    Column("psc_usd", "money", "currency"), Column("remaining_usd", "money", "currency")], grant_rows))
register(FINANCE, Export("tranches", _l("Grant tranches"), [
    Column("id", "int"), Column("grant"), Column("tranche", "int"), Column("condition"),
    Column("expected_on", "date"), Column("currency"), Column("amount", "money", "currency")], tranche_rows))
register(FINANCE, Export("payments", _l("Grant payments"), [
    Column("id", "int"), Column("grant"), Column("tranche", "int"), Column("status"), Column("currency"),
    Column("amount", "money", "currency"), Column("psc_usd", "money", "currency"), Column("paid_on", "date"),
    Column("payment_reference"), Column("ledger_entry_id", "int")], payment_rows))
register(FINANCE, Export("attribution", _l("Attribution of donors' money to grants"), [
    Column("donor_id", "int"), Column("donor"), Column("grant_id", "int"), Column("grant"), Column("organisation"),
    Column("kind"), Column("amount_usd", "money", "usd"), Column("usd")], attribution_rows))
register(PROGRAMME, Export("applications", _l("Applications with scores"), [
    Column("id", "int"), Column("reference"), Column("call"), Column("organisation"), Column("country"),
    Column("status"), Column("project_title"), Column("submitted_at", "datetime"), Column("currency"),
    Column("requested", "money", "currency"), Column("reviews_submitted", "int"), Column("score", "decimal"),
    Column("rank", "int")], application_rows))
register(PROGRAMME, Export("ranking", _l("Ranking of applications by call"), [
    Column("call_id", "int"), Column("call"), Column("rank", "int"), Column("reference"), Column("organisation"),
    Column("status"), Column("currency"), Column("requested", "money", "currency"),
    Column("reviews_submitted", "int"), Column("score", "decimal"), Column("reviewers_disagree")], ranking_rows))
register(PROGRAMME, Export("reports", _l("Grantee reports with results"), [
    Column("report_id", "int"), Column("grant"), Column("kind"), Column("status"), Column("period_start", "date"),
    Column("period_end", "date"), Column("due_on", "date"), Column("total_assisted", "int"), Column("currency"),
    Column("expenditure", "money", "currency"), Column("breakdown"), Column("key"), Column("count", "int")],
    report_rows))


# Writing ------------------------------------------------------------------------------------------------------


def csv_safe(value) -> object:
    """A text cell that a spreadsheet will not run as a formula."""
    if isinstance(value, str) and value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


def _csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(csv_safe(value))


def write_csv(export: Export) -> Iterable[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([c.name for c in export.columns])
    for i, row in enumerate(export.rows()):
        writer.writerow([_csv_text(v) for v in row])
        if i % 200 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def write_xlsx(export: Export) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False, "remove_timezone": True})
    sheet = book.add_worksheet(export.name[:31])
    bold = book.add_format({"bold": True, "bottom": 1})
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    number = book.add_format({"num_format": "0.########"})
    money_formats: dict[int, object] = {}

    def money_format(places: int):
        if places not in money_formats:
            money_formats[places] = book.add_format(
                {"num_format": "#,##0" + ("." + "0" * places if places else "")})
        return money_formats[places]

    names = [c.name for c in export.columns]
    for col, name in enumerate(names):
        sheet.write_string(0, col, name, bold)
        sheet.set_column(col, col, max(10, len(name) + 2))
    currency_col = {c.name: names.index(c.currency) if c.currency in names else None for c in export.columns}
    last = 0
    for r, row in enumerate(export.rows(), start=1):
        last = r
        for col, (column, value) in enumerate(zip(export.columns, row, strict=True)):
            if value is None:
                sheet.write_blank(r, col, None)
            elif column.kind == "money":
                index = currency_col[column.name]
                code = row[index] if index is not None else "USD"
                sheet.write_number(r, col, float(value), money_format(exponent(code or "USD")))
            elif column.kind in ("int", "decimal"):
                sheet.write_number(r, col, float(value) if column.kind == "decimal" else int(value), number)
            elif column.kind == "date":
                sheet.write_datetime(r, col, dt.datetime.combine(value, dt.time()), date)
            elif column.kind == "datetime":
                sheet.write_datetime(r, col, value, stamp)
            else:
                sheet.write_string(r, col, str(value))
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, last, len(names) - 1)
    book.close()
    return out.getvalue()


# Views --------------------------------------------------------------------------------------------------------


def _export(name: str, fmt: str, roles: tuple):
    entry = EXPORTS.get(name)
    if entry is None or entry[0] != roles or fmt not in ("xlsx", "csv"):
        abort(404)
    export = entry[1]
    filename = f"{export.name}-{dt.date.today().isoformat()}.{fmt}"
    headers = {"Content-Disposition": f"attachment; filename={filename}", "Cache-Control": "no-store"}
    if fmt == "csv":
        return Response(stream_with_context(write_csv(export)), mimetype="text/csv", headers=headers)
    return Response(write_xlsx(export), headers=headers,
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.route("/")
@access(*FINANCE)
def index():
    from flask_login import current_user

    available = [(export, roles) for roles, export in EXPORTS.values() if current_user.has_any_role(*roles)]
    return render_template("transparency/exports.html", exports=available, finance=FINANCE)


@bp.route("/finance/<name>.<fmt>")
@access(*FINANCE)
def finance(name: str, fmt: str):
    return _export(name, fmt, FINANCE)


@bp.route("/programme/<name>.<fmt>")
@access(*PROGRAMME)
def programme(name: str, fmt: str):
    return _export(name, fmt, PROGRAMME)
