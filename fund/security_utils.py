"""Flask-Security utility classes: one-time codes that cannot be replayed, and the password policy.

- :class:`FundTotp`: a second-factor code is accepted once. Each user's last accepted time step is stored in
  ``user.tf_totp_last_counter`` and claimed with a conditional ``UPDATE ... WHERE last < step``, so two
  requests racing with the same code cannot both pass.
- :class:`FundPasswordUtil`: Flask-Security's own policy (``SECURITY_PASSWORD_LENGTH_MIN`` and the zxcvbn
  complexity checker, ``SECURITY_ZXCVBN_MINIMUM_SCORE``) plus "not the e-mail address", with messages of our
  catalog in the reader's language (zxcvbn's own hints are English only).
"""

from __future__ import annotations

import time
import typing as t

from flask import current_app
from flask_babel import gettext as _
from flask_security import PasswordUtil, Totp
from passlib.totp import TokenError
from sqlalchemy import or_, update

from fund.db import db
from fund.models import User


class FundTotp(Totp):
    """Totp with replay protection: a code (a time step) is accepted at most once per user."""

    def get_last_counter(self, user) -> int | None:
        return getattr(user, "tf_totp_last_counter", None)

    def set_last_counter(self, user, tmatch) -> None:
        user.tf_totp_last_counter = tmatch.counter

    def verify_totp(self, token: str, totp_secret: str, user, window: int = 0) -> bool:
        try:
            match = self._totp.verify(token, totp_secret, window=window, last_counter=self.get_last_counter(user))
        except TokenError:
            return False
        return claim_counter(user, match.counter)

    def next_code(self, totp_secret: str, last_counter: int | None) -> str:
        """The code the next sign-in will accept: the current one, or the following step if the current one
        was used already (development and tests: ``users totp-code``)."""
        totp = self._totp.from_source(totp_secret)
        counter = int(time.time()) // totp.period
        if last_counter is not None and counter <= last_counter:
            counter = last_counter + 1
        return totp.generate(counter * totp.period).token


def claim_counter(user, counter: int) -> bool:
    """Record ``counter`` as the user's last accepted step, unless that step (or a later one) was used."""
    column = User.tf_totp_last_counter
    result = db.session.execute(
        update(User)
        .where(User.id == user.id, or_(column.is_(None), column < counter))
        .values(tf_totp_last_counter=counter)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    user.tf_totp_last_counter = counter
    return True


def _email_like(password: str, email: str | None) -> bool:
    if not email:
        return False
    folded, email = password.casefold().strip(), email.casefold().strip()
    local = email.split("@", 1)[0]
    return folded == email or folded == local or (len(local) >= 4 and folded.startswith(local) and
                                                   len(folded) - len(local) < 4)


class FundPasswordUtil(PasswordUtil):
    """Flask-Security's length and zxcvbn checks, the e-mail check, and messages in both languages."""

    def validate(self, password: str, is_register: bool, **kwargs: t.Any) -> tuple[list | None, str]:
        problems, normalized = super().validate(password, is_register, **kwargs)
        user = kwargs.get("user")
        email = kwargs.get("email") if is_register else getattr(user, "email", None)
        minimum = current_app.config["SECURITY_PASSWORD_LENGTH_MIN"]
        if len(normalized) < minimum:
            return [_("Use at least %(n)d characters.", n=minimum)], normalized
        if _email_like(normalized, email):
            return [_("The password must not be your e-mail address.")], normalized
        if problems:
            return [_("This password is too easy to guess. Use a longer phrase of unrelated words, not a common "
                      "password, a repeated pattern or your own name.")], normalized
        return None, normalized


def password_problems(password: str, email: str | None) -> list[str]:
    """The password policy's objections to ``password`` for the account ``email`` (empty when it is fine), for
    accounts created outside Flask-Security's forms (by an administrator, the CLI, an invitation)."""
    security = current_app.extensions["security"]
    problems, _normalized = security.password_util.validate(password or "", True, email=email or "")
    return list(problems or [])
