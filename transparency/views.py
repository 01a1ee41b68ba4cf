"""The public transparency pages: the fund in figures, the grants it made, what they achieved, how to contribute.

No sign-in, no JavaScript. Every page is computed by aggregate queries (figures: two over the ledger; grants: one
page of grants and one aggregate query of their payments; results: the publication of :mod:`transparency.
publication`, kept in memory until an accepted report changes it), and answered with ``Cache-Control`` and an
``ETag`` so that browsers and proxies revalidate cheaply. ``?lang=fr`` or ``?lang=en`` chooses the language of a
page (each language has its own URL, so a cache never serves one for the other).
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, Response, abort, current_app, g, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy import func, select

from fund.accounting.figures import grants_figures
from fund.charts import Chart, Series
from fund.db import db
from fund.permissions import public
from fund.suppression import SMALL, WITHHELD
from fund.templating import money
from fund.views import Page
from fund.vocabulary import AGE_BAND_LABELS as AGE_LABELS
from fund.vocabulary import SEX_LABELS
from grants.awards.directory import regions_of
from grants.awards.models import Grant
from grants.awards.workflow import GRANT_STATES
from grants.models import Application, Call, Organisation
from grants.taxonomies import ASSISTANCE_TYPES, FORMS_OF_EXPLOITATION, WINDOWS, countries, country_name
from transparency import figures
from transparency.publication import publication

bp = Blueprint("transparency", __name__, url_prefix="/transparency")

#: Grants shown to the public: every grant the Board approved that was not terminated before its agreement.
PUBLIC_STATES = ("pending_signature", "active", "suspended", "closed", "terminated")
REGION_LABELS = {"Africa": _l("Africa"), "Americas": _l("Americas"), "Asia": _l("Asia"), "Europe": _l("Europe"),
                 "Oceania": _l("Oceania")}
MAX_AGE = 300
DONORS_PER_PAGE = 50


@bp.before_request
def choose_language():
    lang = request.args.get("lang")
    if lang in current_app.config["LANGUAGES"]:
        g.force_lang = lang


def cacheable(view):
    """Conditional GET (ETag of the page) and Cache-Control: public for anonymous readers, private otherwise."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        response = make_response(view(*args, **kwargs))
        if response.status_code == 200:
            response.add_etag()
            if current_user.is_authenticated:
                response.cache_control.private = True
            else:
                response.cache_control.public = True
            response.cache_control.max_age = MAX_AGE
            response.vary.add("Cookie")
            response.vary.add("Accept-Language")
            response.make_conditional(request)
        return response

    return wrapper


def lang() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "en")


def count_text(value) -> str:
    if value in (SMALL, WITHHELD):
        return value
    return f"{value:,}"


def label(table: dict, code: str) -> str:
    value = table.get(code)
    return str(value) if value is not None else code.replace("_", " ")


# The fund in figures ------------------------------------------------------------------------------------------


def figures_charts(years: list) -> list:
    """The charts of the fund in figures, for the page and its PDF."""
    types = [t for t in figures.DONOR_TYPE_LABELS if any(t in y.by_type for y in years)]
    usd = lambda v: money(v, "USD")  # noqa: E731
    regions = grants_by_region()
    return [
        Chart("chart-contributions", _("Contributions received by year and type of donor"),
              _("Contributions received in US dollars each year, one bar per type of donor."),
              [str(y.year) for y in years],
              [Series(str(figures.DONOR_TYPE_LABELS[t]), [y.by_type.get(t, figures.ZERO) for y in years])
               for t in types], unit="USD", format=usd, extra={"category_label": _("Year")}),
        Chart("chart-grants", _("Grants committed and paid by year"),
              _("Grants committed and disbursements paid in US dollars each year."),
              [str(y.year) for y in years],
              [Series(_("Committed"), [y.committed for y in years]),
               Series(_("Paid"), [y.disbursed for y in years])],
              unit="USD", format=usd, extra={"category_label": _("Year")}),
        Chart("chart-regions", _("Grants by region"),
              _("Amount granted in US dollars to projects working in each region (a project in several regions "
                "counts in each)."),
              [str(REGION_LABELS[r]) for r in regions], [Series(_("Amount granted"), list(regions.values()))],
              unit="USD", format=usd, extra={"category_label": _("Region")}),
    ]


@bp.route("/figures.pdf")
@public
@cacheable
def figures_pdf():
    from fund.pdf import render_pdf

    years = figures.by_year()
    total = figures.totals(years)
    keys = ("contributions", "committed", "disbursed", "refunded", "psc", "balance")
    context = {
        "lang": lang(),
        "years": [{"year": y.year, **{k: getattr(y, k) for k in keys}} for y in years],
        "total": {k: getattr(total, k) for k in keys},
        "charts": [c.as_data() for c in figures_charts(years) if c.categories],
    }
    pdf = render_pdf("transparency/pdf/figures.html", context)
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": "inline; filename=fund-in-figures.pdf"})


@bp.route("/")
@public
@cacheable
def index():
    years = figures.by_year()
    total = figures.totals(years)
    contributions, grants_chart, region_chart = figures_charts(years)
    year = request.args.get("year", type=int)
    shown = next((y for y in years if y.year == year), years[-1] if years else None)
    page = max(1, request.args.get("page", 1, type=int))
    donors = shown.donors[(page - 1) * DONORS_PER_PAGE: page * DONORS_PER_PAGE] if shown else []
    pages = max(1, -(-len(shown.donors) // DONORS_PER_PAGE)) if shown else 1
    return render_template("transparency/index.html", years=years, total=total, contributions=contributions,
                           grants_chart=grants_chart, region_chart=region_chart,
                           type_labels=figures.DONOR_TYPE_LABELS, shown=shown,
                           donors=donors, page=min(page, pages), pages=pages)


_regions: dict = {}


def grants_by_region() -> dict:
    """Amount granted per region (USD), kept until a grant changes (its number and latest change name the state)."""
    mark = db.session.execute(select(func.count(Grant.id), func.max(Grant.updated_at))
                              .where(Grant.status.in_(PUBLIC_STATES))).one()
    key = (current_app.config["SQLALCHEMY_DATABASE_URI"], tuple(str(v) for v in mark))
    if key not in _regions:
        totals: dict = {}
        rows = db.session.execute(select(Application.countries, Grant.amount)
                                  .join(Application, Application.id == Grant.application_id)
                                  .where(Grant.status.in_(PUBLIC_STATES)))
        for country_codes, amount in rows:
            for region in regions_of(country_codes or []):
                totals[region] = totals.get(region, figures.ZERO) + amount
        _regions.clear()
        _regions[key] = {r: totals[r] for r in REGION_LABELS if r in totals}
    return _regions[key]


# Grants -------------------------------------------------------------------------------------------------------


class GrantQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    q = fields.String(load_default=None, validate=validate.Length(max=100))
    country = fields.String(load_default=None, validate=validate.Length(equal=2))
    region = fields.String(load_default=None, validate=validate.OneOf(list(REGION_LABELS)))
    window = fields.String(load_default=None, validate=validate.OneOf(list(WINDOWS)))
    form = fields.String(load_default=None, validate=validate.OneOf(list(FORMS_OF_EXPLOITATION)))
    assistance = fields.String(load_default=None, validate=validate.OneOf(list(ASSISTANCE_TYPES)))
    status = fields.String(load_default=None, validate=validate.OneOf(list(PUBLIC_STATES)))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))


GRANT_COLUMNS = (Grant.id, Grant.number, Grant.title, Grant.amount, Grant.currency, Grant.status, Grant.start_date,
                 Grant.end_date, Organisation.name.label("organisation"), Application.countries,
                 Application.forms_of_exploitation, Application.assistance_types, Call.window)
_grant_rows: dict = {}


def public_grants() -> list:
    """Every public grant as a plain row of :data:`GRANT_COLUMNS`, newest first: one query, kept in memory until a
    grant or an organisation changes (their number and latest change name the state)."""
    mark = db.session.execute(
        select(func.count(Grant.id), func.max(Grant.updated_at),
               select(func.max(Organisation.updated_at)).scalar_subquery())).one()
    key = (current_app.config["SQLALCHEMY_DATABASE_URI"], tuple(str(v) for v in mark))
    if key not in _grant_rows:
        rows = db.session.execute(
            select(*GRANT_COLUMNS).join(Application, Application.id == Grant.application_id)
            .join(Call, Call.id == Application.call_id).join(Organisation, Organisation.id == Grant.organisation_id)
            .where(Grant.status.in_(PUBLIC_STATES)).order_by(Grant.start_date.desc(), Grant.id.desc())).all()
        _grant_rows.clear()
        _grant_rows[key] = [(row, regions_of(row.countries or []),
                             f"{row.organisation}\n{row.title}\n{row.number}".lower()) for row in rows]
    return _grant_rows[key]


def matching_grants(args: dict) -> list:
    """The public grants matching the search ``args`` (filtered in memory over :func:`public_grants`)."""
    needle = (args.get("q") or "").lower()
    country = (args.get("country") or "").upper()
    out = []
    for row, regions, text in public_grants():
        if needle and needle not in text:
            continue
        if country and country not in (row.countries or []):
            continue
        if args.get("region") and args["region"] not in regions:
            continue
        if args.get("window") and row.window != args["window"]:
            continue
        if args.get("form") and args["form"] not in (row.forms_of_exploitation or []):
            continue
        if args.get("assistance") and args["assistance"] not in (row.assistance_types or []):
            continue
        if args.get("status") and row.status != args["status"]:
            continue
        out.append(row)
    return out


def grant_view(row, paid, victims, language: str) -> dict:
    country_codes = list(row.countries or [])
    return {
        "id": row.id, "number": row.number, "title": row.title, "organisation": row.organisation,
        "countries": [country_name(c, language) for c in country_codes],
        "regions": [str(REGION_LABELS[r]) for r in regions_of(country_codes)],
        "window": str(WINDOWS[row.window][1]) if row.window in WINDOWS else row.window,
        "forms": [label(FORMS_OF_EXPLOITATION, c) for c in row.forms_of_exploitation or []],
        "assistance": [label(ASSISTANCE_TYPES, c) for c in row.assistance_types or []],
        "amount": row.amount, "currency": row.currency, "paid": paid,
        "status": label(GRANT_STATES, row.status), "start": row.start_date, "end": row.end_date,
        "victims": victims,
    }


def _plain(labels: dict) -> dict:
    """Labels translated once (lazy strings would be translated again at every use in the template)."""
    return {k: str(v) for k, v in labels.items()}


def paginate(rows: list, page: int, per_page: int = 25) -> Page:
    return Page(rows[(page - 1) * per_page: page * per_page], page, per_page, len(rows))


@bp.route("/grants")
@public
@cacheable
def grants():
    errors = {}
    try:
        args = GrantQuery().load(request.args.to_dict())
    except ValidationError as exc:
        errors = exc.messages
        args = {"page": 1}
    page = paginate(matching_grants(args), args["page"])
    paid = grants_figures([row.id for row in page.items])
    published = publication().results.grants
    language = lang()
    rows = [grant_view(row, paid[row.id].paid, published.get(row.id), language) for row in page.items]
    html = render_template(
        "transparency/grants.html", rows=rows, page=page, args=request.args, errors=errors,
        countries=countries(language), regions=_plain(REGION_LABELS),
        windows=_plain({k: v[1] for k, v in WINDOWS.items()}),
        forms=_plain(FORMS_OF_EXPLOITATION), assistance=_plain(ASSISTANCE_TYPES),
        states=_plain({k: GRANT_STATES[k] for k in PUBLIC_STATES}),
        count_text=count_text)
    return html, 422 if errors else 200


@bp.route("/grants/<path:number>")
@public
@cacheable
def grant(number: str):
    row = next((row for row, _regions, _text in public_grants() if row.number == number), None)
    if row is None:
        abort(404)
    paid = grants_figures([row.id])[row.id].paid
    victims = publication().results.grants.get(row.id)
    return render_template("transparency/grant.html", grant=grant_view(row, paid, victims, lang()),
                           count_text=count_text)


# Results ------------------------------------------------------------------------------------------------------


def results_view(language: str) -> dict:
    """The public results (suppressed) with labels, and their charts."""
    r = publication().results
    view = {
        "reported": r.total not in (0,),
        "withdrawn": r.withdrawn,
        "total": r.total,
        "ages": [{"code": a, "label": label(AGE_LABELS, a), "total": r.ages[a]} for a in r.ages],
        "sexes": [{"code": s, "label": label(SEX_LABELS, s), "total": r.sexes[s],
                   "cells": [r.sex_age[(s, a)] for a in r.ages]} for s in r.sexes],
        "by_form": [{"code": c, "label": label(FORMS_OF_EXPLOITATION, c), "count": v} for c, v in r.by_form.items()],
        "by_assistance": [{"code": c, "label": label(ASSISTANCE_TYPES, c), "count": v}
                          for c, v in r.by_assistance.items()],
        "by_country": sorted(({"code": c, "label": country_name(c, language), "count": v}
                              for c, v in r.by_country.items()), key=lambda row: row["label"]),
    }
    view["form_chart"] = Chart(
        "chart-forms", _("Victims assisted by form of exploitation"),
        _("Number of victims assisted, from accepted grantee reports, by form of exploitation. Counts from 1 to 4 "
          "show as <5; x marks a figure withheld so that no small count can be worked out."),
        [row["label"] for row in view["by_form"]], [Series(_("Victims assisted"), [row["count"] for row in
                                                                                   view["by_form"]])],
        format=count_text, extra={"category_label": _("Form of exploitation")})
    view["assistance_chart"] = Chart(
        "chart-assistance", _("Victims assisted by type of assistance"),
        _("Number of victims who received each type of assistance, from accepted grantee reports. Counts from 1 to "
          "4 show as <5; x marks a figure withheld so that no small count can be worked out."),
        [row["label"] for row in view["by_assistance"]],
        [Series(_("Victims assisted"), [row["count"] for row in view["by_assistance"]])],
        format=count_text, extra={"category_label": _("Type of assistance")})
    return view


@bp.route("/results")
@public
@cacheable
def results():
    return render_template("transparency/results.html", results=results_view(lang()), count_text=count_text)


# How to contribute --------------------------------------------------------------------------------------------


@bp.route("/contribute")
@public
@cacheable
def contribute():
    return render_template("transparency/contribute.html", bank=current_app.config["FUND_BANK_DETAILS"],
                           contact=current_app.config["FUND_CONTRIBUTIONS_EMAIL"])
