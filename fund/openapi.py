"""The OpenAPI document, generated from the code, and the pieces every API package shares with it.

- :class:`ErrorResponses` (an apispec plugin) gives every operation the error responses it can answer, all with
  the one error schema (:class:`fund.schemas.ErrorSchema`, the body that :mod:`fund.errors` writes): 401 and 403
  everywhere (every operation needs a token and a role), 404 where the path or the query names a record, 400, 409
  and 422 where the operation changes something (a malformed body, a state that refuses the change, a business
  rule), 422 where the query is validated, 413 for uploads. There is no catch-all ``default`` response: a status
  the document does not list is a conformance failure, and the schemathesis run of the test suite looks for them.
- :func:`multipart_arguments` declares and parses an upload: ``multipart/form-data`` with its file part.
- :func:`binary_response` documents a download (PDF, CSV) by media type.
- Every list (an operation with a ``page`` parameter, see :mod:`fund.listing`) documents its ``Link`` header.
- :func:`action` declares an operation that acts on one object ("POST an action"): route, roles, object rule,
  body and response, in one decorator and in that order, for every package.
"""

from __future__ import annotations

import functools

from apispec import BasePlugin
from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema

WRITE_METHODS = {"post", "put", "patch", "delete"}
LINK_HEADER = {
    "description": 'RFC 8288 links to the other pages of the list, with the same query otherwise: rel="first", '
                   '"prev" (not on the first page), "next" (not on the last) and "last".',
    "schema": {"type": "string"},
}


class ErrorResponses(BasePlugin):
    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            if method not in WRITE_METHODS | {"get"}:
                continue
            responses = operation.setdefault("responses", {})
            responses.pop("default", None)
            codes = {401: "UNAUTHORIZED", 403: "FORBIDDEN"}
            params = [p for p in operation.get("parameters", []) if isinstance(p, dict)]
            names_a_record = "{" in (path or "") or any(p.get("in") == "query" and (
                p.get("name", "").endswith("_id") or p.get("name") == "number") for p in params)
            if names_a_record:
                codes[404] = "NOT_FOUND"
            if method in WRITE_METHODS:
                codes.update({400: "BAD_REQUEST", 409: "CONFLICT", 422: "UNPROCESSABLE_ENTITY"})
            elif any(p.get("in") == "query" for p in params):
                codes[422] = "UNPROCESSABLE_ENTITY"
            if "multipart/form-data" in (operation.get("requestBody") or {}).get("content", {}):
                codes[413] = "REQUEST_ENTITY_TOO_LARGE"
            for code, name in codes.items():
                if code not in responses and str(code) not in responses:
                    responses[code] = name
            if method == "get" and any(p.get("in") == "query" and p.get("name") == "page" for p in params):
                ok = responses.get("200", responses.get(200))
                if isinstance(ok, dict):
                    ok.setdefault("headers", {})["Link"] = LINK_HEADER


def multipart_arguments(blp: Blueprint, schema: type[Schema], *, description: str | None = None):
    """Parse a ``multipart/form-data`` body (form fields and files together) with ``schema`` and pass the loaded
    dict as the view's first argument, as ``@blp.arguments`` does for JSON; document it with its file parts."""

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            values: dict = {key: request.form.get(key) for key in request.form}
            values.update({key: request.files.get(key) for key in request.files})
            return fn(schema().load(values), *args, **kwargs)

        body = {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
        if description:
            body["description"] = description
        return blp.doc(requestBody=body)(wrapper)

    return decorator


def binary_response(*media_types: str, description: str, json_schema: type[Schema] | None = None,
                    status: int = 200):
    """The ``responses`` entry of a download: one content entry per media type (a binary string), and the JSON
    schema where JSON is one of the choices."""
    content: dict = {}
    for media_type in media_types:
        if media_type == "application/json" and json_schema is not None:
            content[media_type] = {"schema": json_schema}
        else:
            content[media_type] = {"schema": {"type": "string", "format": "binary"}}
    return {status: {"description": description, "content": content}}


def action(blp: Blueprint, rule: str, *, roles, response: type[Schema] | Schema, model=None, arg: str | None = None,
           edit: bool = True, body: type[Schema] | Schema | None = None, status: int = 200,
           methods: tuple[str, ...] = ("POST",), body_required: bool = True, upload: bool = False,
           idempotent: bool = False, guard=None):
    """Declare an action on one object: ``@blp.route(rule)``, ``@access(*roles)``, the object rule on
    ``model`` named by the path argument ``arg`` (:func:`fund.permissions.guarded`, checked before the body is
    validated, so that someone else's object is a 404/403 whatever the body says), ``@blp.arguments(body)`` and
    ``@blp.response(status, response)``. The view's docstring documents the operation, as with the decorators
    written out.

    ``body_required=False`` accepts a request without a body (the view gets ``None``); ``upload=True`` reads
    ``body`` from ``multipart/form-data`` (:func:`multipart_arguments`); ``idempotent=True`` honours an
    ``Idempotency-Key`` (:func:`fund.idempotency.idempotent`, between the object rule and the body). ``guard`` is
    a package's own object rule (a decorator checked where :func:`fund.permissions.guarded` is, before the body),
    for an object that ``model`` and ``arg`` cannot name (a review that must be the caller's, a statement found
    by its number)."""
    from fund.idempotency import idempotent as honour_key
    from fund.permissions import access, guarded

    def decorator(fn):
        view = blp.response(status, response)(fn)
        if body is not None and upload:
            view = multipart_arguments(blp, body)(view)
        elif body is not None:
            view = blp.arguments(body, required=body_required)(view)
        if idempotent:
            view = honour_key(view)
        if guard is not None:
            view = guard(view)
        if model is not None:
            view = guarded(model, arg, edit=edit)(view)
        view = access(*roles)(view)
        return blp.route(rule, methods=list(methods))(view)

    return decorator
