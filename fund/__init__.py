"""VTF Grants: the platform (app factory, config, database, accounts, permissions, audit, files, mail, PDF)."""

from __future__ import annotations

import logging
from importlib import import_module
from pathlib import Path

from flask import Flask, g, has_request_context, request, session
from flask_login import current_user

from fund.config import build_config, check_production

ROOT = Path(__file__).resolve().parent.parent

#: The packages the app factory initialises, in order (imports flow grants, donors -> fund.accounting -> fund).
PACKAGES = ("fund.accounting", "grants", "donors", "transparency")


def select_locale() -> str:
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands and operations called outside a request
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    lang = getattr(g, "force_lang", None)
    if lang in languages:
        return lang
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.language in languages:
        return current_user.language
    if session.get("lang") in languages:
        return session["lang"]
    return request.accept_languages.best_match(languages) or "en"


def select_timezone() -> str:
    if not has_request_context():
        return "UTC"
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_user.timezone or "UTC"
    return "UTC"


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder="static",
    )
    app.config.update(build_config(Path(app.instance_path), overrides))
    from fund.converters import init_converters

    init_converters(app)
    check_production(app.config)
    logging.basicConfig(level=logging.INFO if app.config["FUND_ENV"] != "production" else logging.WARNING)
    from fund.ops import init_app as init_ops

    init_ops(app)  # first: every request gets its id and timing before another extension can answer it
    if app.config["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
    if app.config.get("TRUSTED_HOSTS"):
        app.wsgi_app = _trusted_hosts_only(app.wsgi_app, app.config["TRUSTED_HOSTS"])

    from fund.auth import init_auth
    from fund.extensions import api, babel, csrf, db, limiter, migrate

    db.init_app(app)
    # First of the request hooks: a cached read takes the fund's data version before anything else is loaded.
    from fund import response_cache

    response_cache.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    csrf.init_app(app)
    limiter.init_app(app)
    init_auth(app)
    api.init_app(app)

    from fund import models  # noqa: F401  (register the models)
    from fund.charts import init_app as init_charts
    from fund.errors import register_error_handlers
    from fund.templating import init_templating

    register_error_handlers(app)
    init_templating(app)
    init_charts(app)

    from fund.api import blp as fund_api
    from fund.views import bp as fund_views

    app.register_blueprint(fund_views)
    api.register_blueprint(fund_api)
    csrf.exempt(fund_api)
    # The domain packages, each with its pages, API, CLI and dashboard links. The public face reads every
    # package, so it comes last.
    for package in PACKAGES:
        import_module(package).init_app(app)

    from fund.cli import register_cli
    from fund.privacy import init_app as init_privacy
    from fund.retention import init_app as init_retention

    register_cli(app)
    init_retention(app)
    init_privacy(app)
    _mark_library_routes(app)
    _request_boundary(app)
    return app


def _mark_library_routes(app: Flask) -> None:
    """Routes that libraries register guard themselves; declare them public for the permission matrix."""
    from fund.permissions import LIBRARY_PUBLIC_ENDPOINTS

    for endpoint in app.view_functions:
        if endpoint == "static" or endpoint.startswith(("security.", "api-docs.")):
            LIBRARY_PUBLIC_ENDPOINTS.add(endpoint)


def _request_boundary(app: Flask) -> None:
    """One transaction per request: commit once when the response is a success, otherwise roll back."""
    from fund.auth import touch_token
    from fund.db import db

    @app.after_request
    def commit_session(response):
        if response.status_code < 400:
            touch_token()
            db.session.commit()
        else:
            db.session.rollback()
        return response

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if app.config["HSTS_SECONDS"]:
            response.headers.setdefault("Strict-Transport-Security",
                                        f"max-age={app.config['HSTS_SECONDS']}; includeSubDomains")
        if _private(response):
            response.cache_control.no_store = True
            response.cache_control.private = True
            response.cache_control.public = False
            response.cache_control.max_age = None
        if not request.path.startswith("/api/v1/docs"):
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                "frame-ancestors 'none'; form-action 'self'",
            )
        return response


def _trusted_hosts_only(wsgi_app, hosts: list[str]):
    """Answer a request for a host not in TRUSTED_HOSTS with a plain 400, before any page (or error page) tries
    to build a URL with it."""
    from werkzeug.exceptions import BadRequest, SecurityError
    from werkzeug.wsgi import get_host

    def guarded(environ, start_response):
        try:
            get_host(environ, trusted_hosts=hosts)
        except SecurityError:
            return BadRequest("Unknown host.")(environ, start_response)
        return wsgi_app(environ, start_response)

    return guarded


def _private(response) -> bool:
    """Pages and files that must not be kept by a browser or a proxy: anything answered to a signed-in user or
    a bearer token, and every page of the account area (sign-in, second factor, password)."""
    if request.endpoint == "static":
        return False
    if request.path.startswith("/account/") or getattr(g, "api_token", None) is not None:
        return True
    return bool(getattr(current_user, "is_authenticated", False))
