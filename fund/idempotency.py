"""``Idempotency-Key`` for API POSTs: a retried request returns the first response instead of acting twice.

Put :func:`idempotent` on a view, under ``@access`` (the key is scoped to the signed-in user) and above
``@blp.arguments``::

    @blp.route("/contributions", methods=["POST"])
    @access(FINANCE_OFFICER, ADMIN)
    @idempotent
    @blp.arguments(ContributionIn)
    @blp.response(201, ContributionOut)
    def create_contribution(data): ...

How it works: the first request with a key inserts a row keyed by (user, key) holding a fingerprint of the
request (method, path, canonical JSON body), runs the view, and stores the response (status and exact body)
in the same transaction as the view's writes. A later request with the key finds the row: the same
fingerprint gets the stored response (same status, same bytes, header ``Idempotent-Replayed: true``); another
fingerprint gets 422. Concurrent requests with one key serialise on the unique index (PostgreSQL: the second
INSERT waits for the first transaction, then fails and reads the stored response; SQLite: transactions are
``BEGIN IMMEDIATE``), so exactly one of them acts. A request that fails (status >= 400) is rolled back with its
key, so it may be retried.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable
from copy import deepcopy

from flask import Response, make_response, request
from flask_login import current_user
from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from fund.db import UTCDateTime, db, utcnow
from fund.errors import Conflict, FundError
from fund.i18n import translate as _

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(100))
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def request_fingerprint() -> str:
    """SHA-256 of the method, the path with its query string, and the body (JSON in canonical form, so key
    order and white space do not matter)."""
    raw = request.get_data(cache=True)
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, UnicodeDecodeError):
        body = raw
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.full_path.rstrip("?").encode(), body):
        digest.update(part)
        digest.update(b"\x00")
    return digest.hexdigest()


def _key_from_header() -> str | None:
    value = request.headers.get(HEADER)
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > MAX_KEY_LENGTH or not value.isprintable():
        raise FundError(_("The Idempotency-Key header is not valid."),
                        fields={HEADER: [_("Give 1 to %(n)d printable characters, such as a UUID.", n=MAX_KEY_LENGTH)]})
    return value


def _stored(user_id: int, key: str) -> IdempotencyKey | None:
    return db.session.execute(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _replay(row: IdempotencyKey, fingerprint: str) -> Response:
    if row.fingerprint != fingerprint:
        raise FundError(_("This Idempotency-Key was already used with a different request."),
                        fields={HEADER: [_("Already used with a different request: use a new key for a new request.")]})
    if row.status_code is None:
        raise Conflict(_("A request with this Idempotency-Key is still being processed; retry shortly."))
    response = Response(row.response_body or "", status=row.status_code, content_type=row.content_type)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotent(view: Callable) -> Callable:
    """Honour an ``Idempotency-Key`` header on the decorated view (see the module documentation)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = _key_from_header()
        if key is None:
            return view(*args, **kwargs)
        user_id = current_user.id
        fingerprint = request_fingerprint()
        row = _stored(user_id, key)
        if row is not None:
            return _replay(row, fingerprint)
        row = IdempotencyKey(user_id=user_id, key=key, method=request.method, path=request.path[:500],
                             fingerprint=fingerprint, created_at=utcnow())
        try:
            with db.session.begin_nested():
                db.session.add(row)
                db.session.flush()
        except IntegrityError:
            # Another request with this key got there first and has committed: answer as it did.
            stored = _stored(user_id, key)
            if stored is None:
                raise Conflict(_("A request with this Idempotency-Key is still being processed; "
                                 "retry shortly.")) from None
            return _replay(stored, fingerprint)
        response = make_response(view(*args, **kwargs))
        if response.status_code < 400:
            row.status_code = response.status_code
            row.content_type = response.content_type
            row.response_body = response.get_data(as_text=True)
            db.session.flush()
        return response

    wrapper._apidoc = deepcopy(getattr(view, "_apidoc", {}))
    manual = wrapper._apidoc.setdefault("manual_doc", {})
    manual["parameters"] = [*manual.get("parameters", []), HEADER_DOC]
    return wrapper


#: The header as the OpenAPI document shows it on every operation that honours it.
HEADER_DOC = {
    "in": "header", "name": HEADER, "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    "description": "A key of your choice (a UUID) that makes a retry safe: the same key with the same request "
                   "returns the first response (header Idempotent-Replayed: true) without acting again; the same "
                   "key with another request is a 422; concurrent requests with one key act once.",
}
