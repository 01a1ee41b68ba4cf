"""One error handler for the whole application.

Under ``/api/`` every error is JSON: ``{"error": {"code", "message", "fields"}}``. Elsewhere an HTML page in
the user's language. Validation errors are 422 with per-field messages. Any unexpected exception rolls the
transaction back and becomes a 500 page without internals.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from marshmallow import ValidationError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from fund.db import db

log = logging.getLogger("fund.errors")


class FundError(Exception):
    """A domain rule refused an operation. Carries its HTTP status and, optionally, field messages."""

    status = 422
    code = "unprocessable"

    def __init__(self, message: str, *, fields: dict | None = None, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class Conflict(FundError):
    """The request conflicts with the current state (a limit reached, a state already changed)."""

    status = 409
    code = "conflict"


CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}

TITLES = {
    400: lazy_gettext("Bad request"),
    401: lazy_gettext("Please sign in"),
    403: lazy_gettext("Access denied"),
    404: lazy_gettext("Page not found"),
    405: lazy_gettext("Method not allowed"),
    409: lazy_gettext("Conflict"),
    413: lazy_gettext("File too large"),
    422: lazy_gettext("Please correct the form"),
    429: lazy_gettext("Too many attempts"),
    500: lazy_gettext("Something went wrong"),
}

#: What a page says when a route gives no reason of its own (werkzeug's English default text otherwise).
DESCRIPTIONS = {
    400: lazy_gettext("The request could not be understood. Go back and try again."),
    403: lazy_gettext("You do not have access to this page. If you think you should, ask the fund's team "
                      "to check your account's role."),
    404: lazy_gettext("There is no page at this address. Check the address, or go back to the home page."),
    405: lazy_gettext("This page cannot be used this way. Go back and use the page's own buttons."),
    413: lazy_gettext("The file is too large."),
    429: lazy_gettext("Too many attempts. Wait a few minutes and try again."),
    500: lazy_gettext("An unexpected error occurred. It has been logged."),
}


def _flatten_webargs(messages: dict) -> dict:
    """webargs nests messages by location ({"json": {...}}); the API reports fields directly."""
    fields: dict = {}
    for location, value in messages.items():
        if isinstance(value, dict) and location in {"json", "query", "form", "files", "headers", "view_args", "path"}:
            fields.update(value)
        else:
            fields[location] = value
    return fields


def _string_keys(messages):
    """Field messages with string keys (marshmallow numbers the items of a list), so that JSON can carry them."""
    if isinstance(messages, dict):
        return {str(key): _string_keys(value) for key, value in messages.items()}
    if isinstance(messages, list | tuple):
        return [_string_keys(value) for value in messages]
    return messages


def error_response(status: int, message: str, fields: dict | None = None, code: str | None = None):
    from fund.ops import request_id

    code = code or CODES.get(status, "error")
    if request.path.startswith("/api/"):
        body = {"error": {"code": code, "message": message, "fields": _string_keys(fields or {}),
                          "request_id": request_id()}}
        return jsonify(body), status
    title = TITLES.get(status, message)
    html = render_template("errors/error.html", status=status, title=title, message=message, fields=fields or {},
                           request_id=request_id())
    return html, status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(FundError)
    def handle_fund_error(exc: FundError):
        db.session.rollback()
        return error_response(exc.status, exc.message, exc.fields, exc.code)

    @app.errorhandler(ValidationError)
    def handle_validation_error(exc: ValidationError):
        db.session.rollback()
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return error_response(422, _("The data sent is not valid."), messages)

    @app.errorhandler(HTTPException)
    def handle_http_exception(exc: HTTPException):
        if exc.code is None or exc.code >= 400:
            db.session.rollback()
        if exc.code and exc.code < 400:
            return exc
        fields = {}
        data = getattr(exc, "data", None) or {}
        if "messages" in data:
            fields = _flatten_webargs(data["messages"])
        message = data.get("message") or exc.description or ""
        if message == type(exc).description and exc.code in DESCRIPTIONS:  # werkzeug's default, in English
            message = DESCRIPTIONS[exc.code]
        if exc.code == 422 and fields:
            message = _("The data sent is not valid.")
        if exc.code == 401 and not request.path.startswith("/api/"):
            message = _("Please sign in to continue.")
        return error_response(exc.code or 500, str(message), fields)

    @app.errorhandler(OperationalError)
    def handle_db_unavailable(exc: OperationalError):
        log.exception("database error")
        db.session.rollback()
        return error_response(503, _("The service is temporarily unavailable. Please try again."))

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return handle_http_exception(exc)
        db.session.rollback()
        if current_app.testing:
            raise exc
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, _("An unexpected error occurred. It has been logged."))

    app.register_error_handler(InternalServerError, handle_http_exception)
