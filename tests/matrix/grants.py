"""Routes of the grants package (portal and API)."""

from tests.matrix import Route  # noqa: F401

ROUTES: dict = {}
