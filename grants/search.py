"""Search across organisations, applications and grants, for the fund's staff.

Who: fund managers, administrators and auditors search all three; finance officers search organisations and
grants (they do not read applications, grants.permissions); reviewers, applicants and donors do not search (a
reviewer sees only the applications assigned to them, from their own inbox). The route refuses them (403).

What matches:

- an organisation by its name, acronym or registration number;
- an application by its reference, project title or summary, or by its organisation's name;
- a grant by its number or title, or by its organisation's name.

How, on PostgreSQL: full-text search with the ``simple`` configuration (no stemming, no stop words: the names are
in many languages), ``websearch_to_tsquery`` (words, "quoted phrases", ``or``, ``-excluded``), ranked with
``ts_rank``. Each table has a GIN index on exactly the expression :func:`_tsv` builds (migration
0013_users_search): the constants are written inline, never bound, so the planner recognises the expression.

How, on SQLite (development and the default test run): every word of the query must occur in the same text,
``LIKE`` without regard to ASCII case; results are ordered by kind and newest first. No FTS5: it would need a
shadow table kept in step by triggers, for a database that only serves development.

Filters: ``call_id`` (applications and grants of that call, organisations that applied to it), ``status`` (an
application's or a grant's state: only that kind then), ``country`` (the organisation's country, for all three)
and ``kind``. A page costs two statements whatever its size and the number of rows: the count, then the page of
one ``UNION ALL`` whose rows carry everything the page prints (tests/grants/test_search.py counts them).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from flask import Blueprint, Flask, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_smorest import Blueprint as ApiBlueprint
from marshmallow import Schema, ValidationError, fields, post_load, validate
from sqlalchemy import ColumnElement, Index, and_, exists, func, literal, literal_column, or_, select, union_all

from fund.db import db
from fund.listing import envelope
from fund.models import ADMIN, AUDITOR, FINANCE_OFFICER, FUND_MANAGER
from fund.permissions import access
from fund.schemas import Id, QuerySchema, paged
from grants.awards.models import Grant
from grants.awards.workflow import GRANT_STATES
from grants.models import Application, Call, Organisation
from grants.taxonomies import country_codes
from grants.workflow import APPLICATION_STATES

SEARCHERS = (FUND_MANAGER, FINANCE_OFFICER, ADMIN, AUDITOR)
#: Who also finds applications (grants.permissions: finance officers do not read them).
APPLICATION_SEARCHERS = frozenset({FUND_MANAGER, ADMIN, AUDITOR})
KINDS = {"organisation": _l("Organisation"), "application": _l("Application"), "grant": _l("Grant")}
PER_PAGE = 20
MAX_WORDS = 8

_SPACE = literal_column("' '")
_EMPTY = literal_column("''")
_SIMPLE = literal_column("'simple'::regconfig")


def _text(*columns) -> ColumnElement:
    """``coalesce(a, '') || ' ' || coalesce(b, '') ...``, constants inline (the GIN indexes name this expression)."""
    expr = func.coalesce(columns[0], _EMPTY)
    for column in columns[1:]:
        expr = expr.op("||")(_SPACE).op("||")(func.coalesce(column, _EMPTY))
    return expr


ORGANISATION_TEXT = (Organisation.name, Organisation.acronym, Organisation.registration_number)
APPLICATION_TEXT = (Application.reference, Application.project_title, Application.summary)
GRANT_TEXT = (Grant.number, Grant.title)


def _tsv(*columns) -> ColumnElement:
    return func.to_tsvector(_SIMPLE, _text(*columns))


# The GIN indexes (created by migration 0013_users_search), declared so that models and migrations agree; PostgreSQL
# only (SQLite searches with LIKE).
for _name, _model, _columns in (("ix_organisation_search", Organisation, ORGANISATION_TEXT),
                                ("ix_application_search", Application, APPLICATION_TEXT),
                                ("ix_grant_award_search", Grant, GRANT_TEXT)):
    if _name not in {i.name for i in _model.__table__.indexes}:
        Index(_name, _tsv(*_columns), postgresql_using="gin", _table=_model.__table__).ddl_if(dialect="postgresql")


def _known_country(code: str) -> None:
    if code not in country_codes():
        raise ValidationError(str(_l("Unknown country code.")))


class SearchQuery(QuerySchema):
    q = fields.String(load_default="", validate=validate.Length(max=200),
                      metadata={"description": "Words to find (PostgreSQL: web search syntax, \"a phrase\", or, "
                                               "-word)."})
    kind = fields.String(validate=validate.OneOf(list(KINDS)))
    call_id = Id(metadata={"description": "Applications and grants of this call, organisations that applied to it."})
    status = fields.String(validate=validate.OneOf([*APPLICATION_STATES, *GRANT_STATES]),
                           metadata={"description": "An application's or a grant's state (only that kind then)."})
    country = fields.String(validate=[validate.Regexp(r"^[A-Z]{2}$"), _known_country],
                            metadata={"description": "The organisation's country (ISO 3166-1 alpha-2)."})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))

    @post_load
    def _strip(self, data, **kwargs):
        data["q"] = data["q"].strip()
        return data


@dataclass
class Hit:
    kind: str
    id: int
    title: str
    detail: str | None
    organisation: str
    country: str
    status: str | None
    call_title_en: str | None
    call_title_fr: str | None
    rank: float

    @property
    def url(self) -> str:
        if self.kind == "organisation":
            return url_for("grants.organisation", organisation_id=self.id)
        if self.kind == "application":
            return url_for("grants.application_overview", application_id=self.id)
        return url_for("grants_awards.grant_detail", grant_id=self.id)

    @property
    def status_label(self) -> str:
        table = APPLICATION_STATES if self.kind == "application" else GRANT_STATES
        return str(table.get(self.status, self.status)) if self.status else ""


@dataclass
class Results:
    items: list[Hit]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def _words(q: str) -> list[str]:
    return [w for w in re.split(r"\s+", q.replace('"', " ").lower()) if w.strip("-")][:MAX_WORDS]


def _matcher(dialect: str, q: str):
    """``match(columns) -> (condition, rank)`` for the query ``q``, on this database."""
    if dialect == "postgresql":
        tsquery = func.websearch_to_tsquery(_SIMPLE, q)

        def match(columns):
            vector = _tsv(*columns)
            return vector.op("@@")(tsquery), func.ts_rank(vector, tsquery)
    else:
        words = _words(q)

        def match(columns):
            text = func.lower(_text(*columns))
            condition = and_(*(text.contains(w.lstrip("-"), autoescape=True) for w in words)) if words else \
                literal(False)
            return condition, literal(0.0)
    return match


def search_select(filters: dict, roles: set[str], dialect: str):
    """The ``UNION ALL`` of the kinds ``roles`` may find that match ``filters`` (columns: kind, id, title,
    detail, organisation, country, status, call_title_en, call_title_fr, rank)."""
    q, kind, status = filters.get("q", ""), filters.get("kind"), filters.get("status")
    call_id, country = filters.get("call_id"), filters.get("country")
    match = _matcher(dialect, q) if q else None
    kinds = set(KINDS) if kind is None else {kind}
    if not roles & APPLICATION_SEARCHERS:
        kinds.discard("application")
    if status is not None:
        kinds &= {"application"} if status in APPLICATION_STATES else {"grant"}
        kinds.discard("organisation")
    parts = []
    org_match = match(ORGANISATION_TEXT) if match else None
    if "organisation" in kinds:
        condition, rank = org_match if match else (literal(True), literal(0.0))
        stmt = select(
            literal("organisation").label("kind"), Organisation.id.label("id"), Organisation.name.label("title"),
            Organisation.acronym.label("detail"), Organisation.name.label("organisation"),
            Organisation.country.label("country"), literal(None).label("status"),
            literal(None).label("call_title_en"), literal(None).label("call_title_fr"), rank.label("rank"),
        ).where(condition)
        if call_id is not None:
            stmt = stmt.where(exists().where(Application.organisation_id == Organisation.id,
                                             Application.call_id == call_id))
        if country:
            stmt = stmt.where(Organisation.country == country)
        parts.append(stmt)

    def by_organisation(organisation_id):
        """The row's organisation matches the words (its own GIN index answers the subquery)."""
        condition, _rank = org_match
        return organisation_id.in_(select(Organisation.id).where(condition))

    def linked(kind_name: str, model, text, title, detail):
        """Applications and grants: matched on their own text or their organisation's, filtered by the call,
        their status and the organisation's country."""
        condition, rank = match(text) if match else (literal(True), literal(0.0))
        if match:
            condition = or_(condition, by_organisation(model.organisation_id))
        stmt = (
            select(
                literal(kind_name).label("kind"), model.id.label("id"), title.label("title"), detail.label("detail"),
                Organisation.name.label("organisation"), Organisation.country.label("country"),
                model.status.label("status"), Call.title_en.label("call_title_en"),
                Call.title_fr.label("call_title_fr"), rank.label("rank"),
            )
            .join(Organisation, Organisation.id == model.organisation_id)
        )
        if model is not Application:
            stmt = stmt.join(Application, Application.id == model.application_id)
        stmt = stmt.join(Call, Call.id == Application.call_id).where(condition)
        if call_id is not None:
            stmt = stmt.where(Application.call_id == call_id)
        if status is not None:
            stmt = stmt.where(model.status == status)
        if country:
            stmt = stmt.where(Organisation.country == country)
        return stmt

    if "application" in kinds:
        parts.append(linked("application", Application, APPLICATION_TEXT,
                            func.coalesce(Application.project_title, Application.reference, _EMPTY),
                            Application.reference))
    if "grant" in kinds:
        parts.append(linked("grant", Grant, GRANT_TEXT, Grant.title, Grant.number))
    return union_all(*parts) if parts else None


def has_criteria(filters: dict) -> bool:
    return any(filters.get(k) for k in ("q", "kind", "call_id", "status", "country"))


def search(filters: dict, roles: set[str], *, per_page: int = PER_PAGE) -> Results:
    """One page of results: two statements (the count, then the page), whatever the page size or the data."""
    page = filters.get("page", 1)
    union = search_select(filters, roles, db.session.get_bind().dialect.name) if has_criteria(filters) else None
    if union is None:
        return Results([], page, per_page, 0)
    rows = union.subquery("hits")
    total = db.session.execute(select(func.count()).select_from(rows)).scalar_one()
    if total == 0:
        return Results([], page, per_page, 0)
    page_rows = db.session.execute(
        select(rows).order_by(rows.c.rank.desc(), rows.c.kind, rows.c.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    items = [Hit(r.kind, r.id, r.title or "", r.detail, r.organisation or "", r.country or "", r.status,
                 r.call_title_en, r.call_title_fr, float(r.rank or 0)) for r in page_rows]  # ok-float: relevance
    return Results(items, page, per_page, total)


# The portal page and the API ----------------------------------------------------------------------------------

bp = Blueprint("search", __name__)
blp = ApiBlueprint("search_api", __name__, url_prefix="/api/v1", description="Search (the fund's staff)")


def _errors(exc: ValidationError) -> dict:
    return {k: v if isinstance(v, list) else [str(v)] for k, v in exc.messages.items()}


@bp.route("/search")
@access(*SEARCHERS)
def search_page():
    from grants.presenters import language
    from grants.taxonomies import countries

    raw = {k: v for k, v in request.args.items() if v != ""}
    try:
        filters, errors = SearchQuery().load(raw), {}
    except ValidationError as exc:
        errors = _errors(exc)
        filters = {"q": (raw.get("q") or "")[:200].strip(), "page": 1}
    results = search(filters, current_user.role_names)
    calls = db.session.execute(select(Call.id, Call.title_en, Call.title_fr).order_by(Call.opens_at.desc())).all()
    lang = language()
    kinds = {k: v for k, v in KINDS.items()
             if k != "application" or current_user.role_names & APPLICATION_SEARCHERS}
    html = render_template(
        "grants/search.html", results=results, args=raw, errors=errors, kinds=kinds, calls=calls, lang=lang,
        application_states=APPLICATION_STATES if "application" in kinds else {}, grant_states=GRANT_STATES,
        countries=countries(lang), country_names=dict(countries(lang)), searched=has_criteria(filters) and not errors,
    )
    return html, (422 if errors else 200)


class HitOut(Schema):
    kind = fields.String(validate=validate.OneOf(list(KINDS)))
    id = fields.Integer()
    title = fields.String()
    detail = fields.String(allow_none=True, metadata={"description": "Acronym, application reference or grant "
                                                                     "number."})
    organisation = fields.String()
    country = fields.String()
    status = fields.String(allow_none=True)
    call_title_en = fields.String(allow_none=True)
    call_title_fr = fields.String(allow_none=True)
    rank = fields.Float(metadata={"description": "Relevance on PostgreSQL (higher first); 0 on SQLite."})  # ok-float


@blp.route("/search")
@access(*SEARCHERS)
@blp.arguments(SearchQuery, location="query")
@blp.response(200, paged(HitOut, name="SearchHitPage"))
def search_api(args):
    """Organisations, applications (not for finance officers) and grants matching the words and filters, best
    first on PostgreSQL; 20 a page. Without any word or filter the list is empty."""
    results = search(args, current_user.role_names)
    return envelope(results.items, results.page, results.per_page, results.total)


def _nav_search():
    """``search_action`` for base.html: the search box of the staff navigation, for those who may search."""
    allowed = getattr(current_user, "is_authenticated", False) and current_user.has_any_role(*SEARCHERS)
    return {"search_action": url_for("search.search_page") if allowed else None}


def init_app(app: Flask) -> None:
    from fund.extensions import api, csrf

    app.register_blueprint(bp)
    api.register_blueprint(blp)
    csrf.exempt(blp)
    app.context_processor(_nav_search)
