"""Every HTML page of the portal, as the route matrix (tests/matrix/) declares it: which URL, seen by which role.

``matrix_pages(app, users)`` builds the objects of each GET portal route with the matrix's own builders
(``Route.args``) and lists the roles the matrix allows (anonymous too for public routes); a check asks each of
them for the page and keeps those answered 200 with an HTML body. The accessibility check (axe, in the
browser) and the French completeness check (rendered pages) visit that list; the library's own pages (sign-in,
registration, password reset...) are added for anonymous visitors, since the matrix leaves them to the library.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for

from fund.db import db
from fund.models import ROLES
from tests.matrix import PUBLIC
from tests.test_route_matrix import MATRIX, app_routes

ANONYMOUS = "anonymous"

#: Who visits a public page: a visitor and every role (a call's page shows staff their own links, for instance).
PUBLIC_VIEWERS = (ANONYMOUS, *ROLES)

#: Flask-Security's pages, for a visitor who is not signed in.
LIBRARY_PAGES = ["/account/login", "/account/register", "/account/reset", "/account/confirm"]


@dataclass(frozen=True)
class MatrixPage:
    endpoint: str
    url: str
    viewers: tuple[str, ...]  # the roles of fund.models.ROLES the matrix lets in, and ANONYMOUS for public pages


def matrix_pages(app, users: dict) -> list[MatrixPage]:
    """The GET portal routes of the matrix, each with its URL (objects built by the matrix's builders for
    ``users``, role -> User) and who may see it; then the library's pages, for anonymous visitors. A caller keeps
    the (page, viewer) pairs answered 200 text/html."""
    pages: list[MatrixPage] = []
    for rule, method in app_routes(app):
        spec = MATRIX.get((rule.endpoint, method))
        if method != "GET" or spec is None or rule.rule.startswith("/api/"):
            continue
        with app.app_context():
            kwargs = spec.args(users) if spec.args else {}
            db.session.commit()
        with app.test_request_context():
            url = url_for(rule.endpoint, **kwargs)
        viewers = PUBLIC_VIEWERS if spec.roles == PUBLIC else tuple(r for r in ROLES if r in spec.roles)
        pages.append(MatrixPage(rule.endpoint, url, viewers))
    pages.extend(MatrixPage("security", url, (ANONYMOUS,)) for url in LIBRARY_PAGES)
    return pages
