"""Demonstration data for `make run`: one user per role, then whatever the domain packages add."""

from __future__ import annotations

from collections.abc import Callable

from fund.extensions import security
from fund.models import ADMIN, AUDITOR, FINANCE_OFFICER, FUND_MANAGER, REVIEWER, User

DEMO_PASSWORD = "demo-password-2027"

#: Domain packages append loaders: each takes the dict of demo users by role and returns lines to print.
DEMO_LOADERS: list[Callable[[dict[str, User]], list[str]]] = []


def current_totp(user: User) -> str:
    """The code the user's next second-factor step accepts (a code already used is never accepted again)."""
    return security._totp_factory.next_code(user.tf_totp_secret, user.tf_totp_last_counter)


def enable_totp(user: User) -> str:
    """Give a user an authenticator second factor; returns the key to type into an authenticator app."""
    factory = security._totp_factory
    user.tf_totp_secret = factory.generate_totp_secret()
    user.tf_primary_method = "authenticator"
    return factory.get_totp_pretty_key(user.tf_totp_secret)


def load_demo() -> list[str]:
    from fund import operations

    lines = [f"Demo accounts (password for all: {DEMO_PASSWORD}):"]
    users: dict[str, User] = {}
    specs = [
        (ADMIN, "admin@vtf.example.org", "Amina Diallo"),
        (FUND_MANAGER, "manager@vtf.example.org", "Jonas Berg"),
        (FINANCE_OFFICER, "finance@vtf.example.org", "Mei Tanaka"),
        (FINANCE_OFFICER, "finance2@vtf.example.org", "Carlos Rivera"),
        (AUDITOR, "auditor@vtf.example.org", "Olga Petrova"),
        (REVIEWER, "reviewer@vtf.example.org", "Fatima Haddad"),
        (REVIEWER, "reviewer2@vtf.example.org", "Kwame Mensah"),
    ]
    for role, email, name in specs:
        user = operations.create_user(email, role, DEMO_PASSWORD, name=name)
        users.setdefault(role, user)
        users[email] = user
        extra = ""
        if user.needs_two_factor:
            key = enable_totp(user)
            extra = f"  authenticator key {key}"
        lines.append(f"  {role:16} {email}{extra}")
    for loader in DEMO_LOADERS:
        lines.extend(loader(users))
    lines.append("Staff accounts sign in with a second factor: add the key to an authenticator app, or print the")
    lines.append("current code with `.venv/bin/flask --app wsgi users totp-code EMAIL`.")
    return lines
