"""Routes of the staff search (grants.search)."""

from tests.matrix import Route, roles

SEARCHERS = roles("fund_manager", "finance_officer", "admin", "auditor")

ROUTES: dict = {
    ("search.search_page", "GET"): Route(SEARCHERS),
    ("search_api.search_api", "GET"): Route(SEARCHERS),
}
