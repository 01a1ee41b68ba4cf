"""Routes of the core package (portal and API)."""

from tests.matrix import ALL, PUBLIC, Route, roles

STAFF_READ = roles("auditor", "admin")


def NO_USER(users):  # noqa: N802  (used like the constants above)
    return {"user_id": 999999}


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
    ("fund.invite_user", "POST"): Route(roles("admin"), body={}),
    ("fund.user_detail", "GET"): Route(STAFF_READ, args=lambda users: {"user_id": users["reviewer"].id}),
    # Writes name no account (404 for whoever may call them): the matrix's own users must stay as they are.
    ("fund.set_user_role", "POST"): Route(roles("admin"), args=NO_USER, body={"role": "auditor"}),
    ("fund.deactivate_user", "POST"): Route(roles("admin"), args=NO_USER),
    ("fund.reactivate_user", "POST"): Route(roles("admin"), args=NO_USER),
    ("fund.reset_two_factor", "POST"): Route(roles("admin"), args=NO_USER),
    ("fund.resend_invitation", "POST"): Route(roles("admin"), args=NO_USER),
    ("fund.accept_invitation", "GET"): Route(PUBLIC, args=lambda users: {"token": "not-a-token"}),
    ("fund.accept_invitation", "POST"): Route(PUBLIC, args=lambda users: {"token": "not-a-token"}, body={}),
    ("fund.audit_events", "GET"): Route(STAFF_READ),
    ("fund.audit_verify", "POST"): Route(STAFF_READ),
    ("fund.audit_csv", "GET"): Route(STAFF_READ),
    ("fund_api.me", "GET"): Route(ALL),
    ("fund_api.audit_verify", "GET"): Route(STAFF_READ),
    ("fund_api.list_users", "GET"): Route(roles("fund_manager", "finance_officer", "auditor", "admin")),
    ("fund_api.get_user", "GET"): Route(roles("fund_manager", "finance_officer", "auditor", "admin"),
                                        args=lambda users: {"user_id": users["reviewer"].id}),
    ("fund_api.audit_events", "GET"): Route(STAFF_READ),
    ("fund_api.invite_user", "POST"): Route(roles("admin"), body={}),
    ("fund_api.get_account", "GET"): Route(STAFF_READ, args=lambda users: {"user_id": users["reviewer"].id}),
    ("fund_api.set_role", "POST"): Route(roles("admin"), args=NO_USER, body={"role": "auditor"}),
    ("fund_api.deactivate", "POST"): Route(roles("admin"), args=NO_USER),
    ("fund_api.reactivate", "POST"): Route(roles("admin"), args=NO_USER),
    ("fund_api.reset_two_factor", "POST"): Route(roles("admin"), args=NO_USER),
    ("fund_api.resend_invitation", "POST"): Route(roles("admin"), args=NO_USER),
}
