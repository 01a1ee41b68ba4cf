"""The role x route matrix: what every route of the application allows, declared independently of the code.

Each module here (one per package or feature area: ``fund.py``, ``grants.py``, ``donors.py``, ...) defines
``ROUTES``: a dict from ``(endpoint, method)`` to :class:`Route`. ``tests/test_route_matrix.py`` fails for any route of
``app.url_map`` that is missing here, for any route whose declaration in the code differs, and for any role
whose request is answered differently from what the matrix says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fund.models import ROLES

ALL = frozenset(ROLES)
PUBLIC = "public"


@dataclass(frozen=True)
class Route:
    #: "public", or the roles allowed at route level.
    roles: frozenset | str
    #: Builds the URL arguments: called inside an app context with ``users`` (role -> User, committed; the
    #: applicant and donor users may be linked to an organisation/donor by the builder), returns a dict.
    args: Callable[[dict], dict] | None = None
    #: Request body for the behavioural check (JSON for API routes, form data otherwise).
    body: dict | None = field(default=None)


def roles(*names: str) -> frozenset:
    unknown = set(names) - ALL
    assert not unknown, unknown
    return frozenset(names)
