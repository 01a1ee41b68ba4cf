"""Routes of the donors package (portal and API)."""

from tests.matrix import Route  # noqa: F401

ROUTES: dict = {}
