"""Every route of the application is declared public or covered by the role x route matrix, its declaration
in the code matches the matrix, and requests from anonymous callers and from every role are answered as the
matrix says. Every HTML page served on the way passes the page checks of tests/html_checks.py."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import tests.matrix
from fund.db import db
from fund.models import ROLES
from fund.permissions import LIBRARY_PUBLIC_ENDPOINTS, declared_access
from tests.html_checks import page_problems
from tests.matrix import PUBLIC


def _load_matrix() -> dict:
    """Merge ROUTES of every module in tests/matrix/ (one per package or feature area)."""
    merged: dict = {}
    for info in pkgutil.iter_modules(tests.matrix.__path__):
        module = importlib.import_module(f"tests.matrix.{info.name}")
        overlap = set(merged) & set(module.ROUTES)
        assert not overlap, f"routes declared twice: {overlap}"
        merged.update(module.ROUTES)
    return merged


MATRIX = _load_matrix()
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def app_routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            yield rule, method


def test_every_route_is_declared_and_in_the_matrix(app):
    missing, undeclared, mismatched = [], [], []
    for rule, method in app_routes(app):
        endpoint = rule.endpoint
        view = app.view_functions[endpoint]
        declared = declared_access(endpoint, view)
        if declared is None:
            undeclared.append(f"{method} {rule.rule} ({endpoint})")
            continue
        if endpoint in LIBRARY_PUBLIC_ENDPOINTS:
            continue
        spec = MATRIX.get((endpoint, method))
        if spec is None:
            missing.append(f"{method} {rule.rule} ({endpoint})")
        elif spec.roles != declared:
            mismatched.append(f"{method} {rule.rule}: code {sorted(declared) if declared != PUBLIC else PUBLIC}, "
                              f"matrix {sorted(spec.roles) if spec.roles != PUBLIC else PUBLIC}")
    assert not undeclared, "routes without an access declaration:\n" + "\n".join(undeclared)
    assert not missing, "routes missing from the matrix:\n" + "\n".join(missing)
    assert not mismatched, "declarations that differ from the matrix:\n" + "\n".join(mismatched)


def test_matrix_names_only_existing_routes(app):
    existing = {(rule.endpoint, method) for rule, method in app_routes(app)}
    stale = sorted(set(MATRIX) - existing)
    assert not stale, f"matrix entries with no route: {stale}"


@pytest.fixture
def role_clients(app, make_user, login_as):
    users = {role: make_user(role) for role in ROLES}
    clients = {role: login_as(users[role]) for role in ROLES}
    clients[None] = app.test_client()
    return users, clients


def test_requests_are_answered_as_the_matrix_says(app, role_clients, api_token):
    users, clients = role_clients
    tokens = {role: api_token(users[role]) for role in ROLES}
    app.config["WTF_CSRF_ENABLED"] = False  # CSRF has its own tests; here a refusal must come from access rules
    failures = []
    try:
        for rule, method in app_routes(app):
            spec = MATRIX.get((rule.endpoint, method))
            if spec is None:
                continue
            with app.app_context():
                kwargs = spec.args(users) if spec.args else {}
                db.session.commit()
            with app.test_request_context():
                from flask import url_for

                url = url_for(rule.endpoint, **kwargs)
            is_api = rule.rule.startswith("/api/")
            for role in (None, *ROLES):
                allowed = spec.roles == PUBLIC or (role is not None and role in spec.roles)
                if is_api:
                    client = app.test_client()
                    headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
                    resp = client.open(url, method=method, headers=headers,
                                       json=spec.body if method != "GET" else None)
                else:
                    client = clients[role]
                    resp = client.open(url, method=method, data=spec.body if method != "GET" else None)
                resp.get_data()
                resp.close()  # streamed responses hold their request context until closed
                status = resp.status_code
                location = resp.headers.get("Location", "")
                if status >= 500 or status == 0:
                    failures.append(f"{method} {url} as {role}: {status}")
                elif method == "GET" and status == 200 and resp.mimetype == "text/html" and allowed:
                    problems = page_problems(resp.get_data(as_text=True))
                    if problems:
                        failures.append(f"GET {url} as {role}: {'; '.join(problems)}")
                elif allowed and (status in (401, 403) or "/account/login" in location):
                    failures.append(f"{method} {url} as {role}: refused ({status}) but the matrix allows it")
                elif not allowed:
                    if role is None:
                        ok = status == 401 if is_api else (status in (302, 303) and "/account/login" in location)
                    else:
                        ok = status in (403, 404)
                    if not ok:
                        failures.append(f"{method} {url} as {role}: answered {status} but the matrix refuses it")
    finally:
        app.config["WTF_CSRF_ENABLED"] = True
    assert not failures, "\n".join(failures)
