"""Every list of the JSON API, one way: paginated, filterable and sortable.

- **Arguments**: the endpoint's query schema derives from :class:`fund.schemas.PageQuery` (``page`` from 1,
  ``per_page`` from 1 to 200, 50 by default) and declares ``sort`` with :class:`fund.schemas.Sort`: the names it
  allows (an enum in the OpenAPI document), each mapped to its column, and the default order. Filters are plain
  fields of the same schema (``status``, ``grant_id``...), validated before any query runs.
- **One function**: :func:`list_page` applies the equality filters it is given, the requested order (then the
  default one, a unique key last, so pages never overlap) and the page, and returns ``{"items", "meta"}``;
  :func:`list_rows` does the same for a list computed in memory (the ranking of a call), :func:`envelope` wraps a
  page computed otherwise (the staff search, ranked by relevance across kinds of record). Filters that are not a
  plain equality (a role's scope, a text search) are applied to the query before it is handed over.
- **One shape**: ``meta`` is ``{page, per_page, total, pages}`` and the response carries an RFC 8288 ``Link``
  header with the ``first``, ``prev``, ``next`` and ``last`` pages (the same query string otherwise), documented on
  every list operation (fund.openapi). A page past the last is an empty page, not an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from flask import after_this_request, request
from sqlalchemy import Select, func, nulls_first, nulls_last, select

from fund.db import db


def list_page(query: Select, args: Mapping[str, Any], *, filters: Mapping[str, Any] | None = None,
              present: Callable[[list], Iterable] | None = None) -> dict:
    """One page of ``query``: ``filters`` maps an argument name to the column it must equal (applied when the
    argument was given), ``args["sort"]`` (loaded by :class:`fund.schemas.Sort`) orders it, ``present`` turns the
    page's records into what the response schema dumps (one call for the whole page, so it can load in bulk)."""
    for name, column in (filters or {}).items():
        if args.get(name) is not None:
            query = query.where(column == args[name])
    order = []
    for key in args.get("sort") or ():
        # NULLs sort as the largest value on both databases (PostgreSQL's default; SQLite's is the smallest).
        order.append(nulls_first(key.target.desc()) if key.descending else nulls_last(key.target.asc()))
    query = query.order_by(None).order_by(*order)
    items, total = page_of(query, args["page"], args["per_page"])
    return envelope(list(present(items)) if present else items, args["page"], args["per_page"], total)


def page_of(query: Select, page: int, per_page: int) -> tuple[list, int]:
    """A page (from 1) of ``query``'s entities and how many there are in all. The page is read alone, so that an
    ordered index gives its rows without reading the others; a page that is not full is the last, which gives the
    total; only a full page (or one past the last) counts apart, a count the database answers from an index.
    (A window count over the whole list in the page's own statement would save that statement, but reads and
    sorts every row of the list on every page.)"""
    offset = (max(page, 1) - 1) * per_page
    rows = db.session.execute(query.limit(per_page).offset(offset)).unique().scalars().all()
    if 0 < len(rows) < per_page or (not rows and offset == 0):
        return rows, offset + len(rows)
    return rows, db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def list_rows(rows: list, args: Mapping[str, Any], *, present: Callable[[list], Iterable] | None = None) -> dict:
    """:func:`list_page` for rows already in memory: each sort key's target is a key function (a ``None`` key
    sorts last ascending, first descending, as in the database)."""
    rows = list(rows)
    for key in reversed(list(args.get("sort") or ())):
        present_, missing = ([r for r in rows if key.target(r) is not None],
                             [r for r in rows if key.target(r) is None])
        present_.sort(key=key.target, reverse=key.descending)
        rows = missing + present_ if key.descending else present_ + missing
    start = (args["page"] - 1) * args["per_page"]
    items = rows[start:start + args["per_page"]]
    return envelope(list(present(items)) if present else items, args["page"], args["per_page"], len(rows))


def envelope(items: list, page: int, per_page: int, total: int) -> dict:
    """The list body and the ``Link`` header, for a page computed some other way (the staff search, which ranks
    several kinds of record together)."""
    pages = (total + per_page - 1) // per_page
    links = {"first": 1, "last": max(pages, 1)}
    if page > 1:
        links["prev"] = min(page - 1, max(pages, 1))
    if page < pages:
        links["next"] = page + 1
    header = ", ".join(f'<{_page_url(number)}>; rel="{rel}"' for rel, number in links.items())

    @after_this_request
    def _link(response):
        response.headers["Link"] = header
        return response

    return {"items": items, "meta": {"page": page, "per_page": per_page, "total": total, "pages": pages}}


def _page_url(number: int) -> str:
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
    return f"{request.base_url}?{urlencode([*args, ('page', number)])}"
