"""The heaviest API reads answered from memory until the fund changes.

Every change to the fund's data writes an audit event in the same transaction (:mod:`fund.audit`), so the id of
the chain's last event is a version of the whole fund: two requests that read the same head read the same data.
A view marked :func:`cached` keeps its successful responses under a key made of that version and of everything
else its answer depends on: the URL (path, query and host, as links in the answer are absolute), the caller (what
they may see is decided inside the view), their language and time zone, and the day (reports fall overdue, calls
close). Any change elsewhere in the fund moves the head and with it every key, so nothing is ever invalidated by
hand and nothing stale is ever served; a worker that restarts, or another server, simply fills its own copy.

Mark only views whose answer is a function of that key: data written through the operations (never sign-in
counts, token use or anything else written without an audit event), the caller, the language and the day.
Permission checks made in decorators above ``cached`` run on every request; those inside the view are part of
the caller's answer.

The head is read first in the request, before the caller or anything else is loaded: on PostgreSQL each statement
sees the latest commits, so an answer kept under a version is never older than that version.

Each process keeps at most ``RESPONSE_CACHE_BYTES`` of answers (least recently used first out; 0 turns the
cache off), and only answers up to ``RESPONSE_CACHE_MAX_ITEM`` bytes.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from cachetools import LRUCache
from flask import Flask, Response, after_this_request, current_app, g, request
from flask_babel import get_locale, get_timezone
from flask_login import current_user
from sqlalchemy import select

from fund.audit import AuditHead
from fund.db import db, utcnow

_VERSION = select(AuditHead.last_id).where(AuditHead.id == 1)
#: Headers a kept answer carries (content type, size, pagination, download name); cookies and the like never.
_KEPT_HEADERS = frozenset({"content-type", "content-disposition", "link", "x-pagination", "cache-control", "etag"})


class _Kept:
    __slots__ = ("body", "headers", "status")

    def __init__(self, body: bytes, status: int, headers: list[tuple[str, str]]):
        self.body, self.status, self.headers = body, status, headers


class _Store:
    """A process's answers, bounded in bytes; one lock, held only to look up or to store."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.cache: LRUCache = LRUCache(maxsize=max_bytes, getsizeof=lambda kept: len(kept.body) + 256)
        self.lock = threading.Lock()

    def get(self, key) -> _Kept | None:
        with self.lock:
            return self.cache.get(key)

    def put(self, key, kept: _Kept) -> None:
        if self.cache.getsizeof(kept) > self.max_bytes:
            return
        with self.lock:
            self.cache[key] = kept

    def clear(self) -> None:
        with self.lock:
            self.cache.clear()


def _store() -> _Store | None:
    max_bytes = current_app.config.get("RESPONSE_CACHE_BYTES", 0)
    if not max_bytes:
        return None
    store = current_app.extensions.get("response_cache")
    if store is None or store.max_bytes != max_bytes:
        store = current_app.extensions["response_cache"] = _Store(max_bytes)
    return store


def clear() -> None:
    """Forget every kept answer of this process (the tests' fixtures start each test with an empty cache)."""
    store = current_app.extensions.get("response_cache")
    if store is not None:
        store.clear()


def version() -> int:
    """The fund's data version: the id of the audit chain's last event (0 before the first)."""
    return db.session.connection().execute(_VERSION).scalar() or 0  # Core: no ORM result to build for one number


def init_app(app: Flask) -> None:
    @app.before_request
    def read_version_first():
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        if getattr(view, "__cached__", False) and request.method == "GET" and _store() is not None:
            g.fund_version = version()


def _key(view: Callable) -> tuple:
    return (view.__module__, view.__qualname__, request.host_url, request.full_path, current_user.get_id(),
            str(get_locale()), str(get_timezone()), utcnow().date(), g.get("fund_version"))


def cached(view: Callable[..., Any]) -> Callable[..., Any]:
    """Keep the view's successful answers until the fund's data version, the day or the caller's context moves."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        store = _store()
        if store is None or request.method != "GET" or "fund_version" not in g:
            return view(*args, **kwargs)
        key = _key(view)
        kept = store.get(key)
        if kept is not None:
            return Response(kept.body, status=kept.status, headers=kept.headers)
        response = current_app.make_response(view(*args, **kwargs))

        # Kept once the view's own after-request functions have run (a list's Link header is set by one).
        @after_this_request
        def keep(final: Response) -> Response:
            if final.status_code == 200 and not final.is_streamed and not final.direct_passthrough:
                body = final.get_data()
                if len(body) <= current_app.config.get("RESPONSE_CACHE_MAX_ITEM", 1 << 20):
                    headers = [(k, v) for k, v in final.headers.items() if k.lower() in _KEPT_HEADERS]
                    store.put(key, _Kept(body, final.status_code, headers))
            return final

        return response

    wrapper.__cached__ = True
    return wrapper
