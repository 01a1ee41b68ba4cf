"""Permissions in one place.

Route level: every view function declares who may call it with :func:`access` (or :func:`public`). The
url_map test fails for any route without a declaration, and checks the declarations against its role x route
matrix. Object level: domain packages register rules with :func:`rule`; views call :func:`ensure_view` or
:func:`ensure_edit` once, at their boundary.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from flask import abort, redirect, request, url_for
from flask_login import current_user

from fund.db import db
from fund.models import ADMIN, AUDITOR, ROLES, User

#: Every signed-in role.
ANY_ROLE = frozenset(ROLES)


#: Endpoints registered by libraries (Flask-Security, the OpenAPI docs, static files) that guard themselves.
LIBRARY_PUBLIC_ENDPOINTS: set[str] = set()


def declared_access(endpoint: str, view: Callable) -> frozenset | str | None:
    """What a route declares: "public", the frozenset of roles, or None when it declares nothing."""
    if endpoint in LIBRARY_PUBLIC_ENDPOINTS:
        return "public"
    return getattr(view, "__access__", None)


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def public(fn: Callable) -> Callable:
    """Declare a view open to everyone, signed in or not."""
    fn.__access__ = "public"
    return fn


def access(*roles: str | Iterable[str]) -> Callable[[Callable], Callable]:
    """Declare and enforce the roles that may call a view.

    Anonymous callers get 401 on the API and are sent to the sign-in page in the portal; a signed-in caller
    without one of the roles gets 403. Staff whose role requires a second factor but who have not set one up
    are sent to set it up.
    """
    allowed: set[str] = set()
    for r in roles:
        if isinstance(r, str):
            allowed.add(r)
        else:
            allowed.update(r)
    unknown = allowed - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any):
            user = current_user
            if not user or not user.is_authenticated:
                if is_api_request():
                    abort(401)
                return redirect(url_for("security.login", next=request.full_path.rstrip("?")))
            if user.needs_two_factor and not user.tf_primary_method and not is_api_request():
                return redirect(url_for("security.two_factor_setup"))
            if not user.has_any_role(*allowed):
                abort(403)
            return fn(*args, **kwargs)

        wrapper.__access__ = frozenset(allowed)
        return wrapper

    return decorator


# Object-level rules -------------------------------------------------------------------------------------------

_view_rules: dict[type, Callable[[User, Any], bool]] = {}
_edit_rules: dict[type, Callable[[User, Any], bool]] = {}


def rule(model: type, *, view: Callable[[User, Any], bool], edit: Callable[[User, Any], bool]) -> None:
    """Register who may view and who may edit objects of ``model``."""
    _view_rules[model] = view
    _edit_rules[model] = edit


def _lookup(rules: dict, obj: Any) -> Callable[[User, Any], bool]:
    for cls in type(obj).__mro__:
        if cls in rules:
            return rules[cls]
    raise LookupError(f"no permission rule for {type(obj).__name__}")


def can_view(user: User, obj: Any) -> bool:
    if not user or not user.is_authenticated:
        return False
    if user.has_any_role(ADMIN, AUDITOR):
        return True
    return _lookup(_view_rules, obj)(user, obj)


def can_edit(user: User, obj: Any) -> bool:
    if not user or not user.is_authenticated or user.has_any_role(AUDITOR):
        return False
    return _lookup(_edit_rules, obj)(user, obj)


def ensure_view(obj: Any) -> Any:
    """404 for an object the current user may not see (its existence is not revealed)."""
    if obj is None or not can_view(current_user, obj):
        abort(404)
    return obj


def ensure_edit(obj: Any) -> Any:
    """404 if the user may not see the object, 403 if they may see but not change it."""
    ensure_view(obj)
    if not can_edit(current_user, obj):
        abort(403)
    return obj


def rule_for_user_owned(model: type) -> None:
    """Objects owned by one user (``user_id``): the owner views and edits; admins and auditors view."""
    rule(
        model,
        view=lambda u, o: o.user_id == u.id,
        edit=lambda u, o: o.user_id == u.id or u.has_any_role(ADMIN),
    )


def guarded(model, arg: str, *, edit: bool = False):
    """Check the object rule before the request body is validated (placed between ``@access`` and
    ``@blp.arguments``), so that someone else's object is a 404/403 whatever the body says."""

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            obj = db.session.get(model, kwargs[arg])
            ensure_edit(obj) if edit else ensure_view(obj)
            return fn(*args, **kwargs)

        return wrapper

    return decorator
