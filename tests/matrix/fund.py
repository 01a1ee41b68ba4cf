"""Routes of the core package (portal and API)."""

from tests.matrix import ALL, PUBLIC, Route, roles

STAFF_READ = roles("auditor", "admin")

ROUTES: dict = {
    ("fund.index", "GET"): Route(PUBLIC),
    ("ops.healthz", "GET"): Route(PUBLIC),
    ("ops.readyz", "GET"): Route(PUBLIC),
    ("ops.metrics", "GET"): Route(PUBLIC),  # guarded by METRICS_TOKEN or a loopback client (tests/fund/test_ops.py)
    ("fund.set_language", "POST"): Route(PUBLIC, body={"lang": "fr", "next": "/"}),
    ("fund.dashboard", "GET"): Route(ALL),
    ("fund.tokens", "GET"): Route(ALL),
    ("fund.tokens", "POST"): Route(ALL, body={"name": "matrix"}),
    ("fund.revoke_token", "POST"): Route(ALL, args=lambda users: {"token_id": 999999}),
    ("fund.users", "GET"): Route(STAFF_READ),
    ("fund.create_user", "POST"): Route(roles("admin"), body={}),
    ("fund.audit_events", "GET"): Route(STAFF_READ),
    ("fund.audit_verify", "POST"): Route(STAFF_READ),
    ("fund.audit_csv", "GET"): Route(STAFF_READ),
    ("fund_api.me", "GET"): Route(ALL),
    ("fund_api.audit_verify", "GET"): Route(STAFF_READ),
    ("fund_api.list_users", "GET"): Route(roles("fund_manager", "finance_officer", "auditor", "admin")),
    ("fund_api.get_user", "GET"): Route(roles("fund_manager", "finance_officer", "auditor", "admin"),
                                        args=lambda users: {"user_id": users["reviewer"].id}),
    ("fund_api.audit_events", "GET"): Route(STAFF_READ),
}
