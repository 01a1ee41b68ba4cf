"""Accounts: users, roles and personal API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

from flask_security import RoleMixin, UserMixin
from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fund.db import UTCDateTime, db, utcnow

APPLICANT = "applicant"
REVIEWER = "reviewer"
FUND_MANAGER = "fund_manager"
FINANCE_OFFICER = "finance_officer"
DONOR = "donor"
AUDITOR = "auditor"
ADMIN = "admin"
ROLES = (APPLICANT, REVIEWER, FUND_MANAGER, FINANCE_OFFICER, DONOR, AUDITOR, ADMIN)
#: Roles whose accounts must sign in with a second factor (TOTP).
TWO_FACTOR_ROLES = frozenset({FUND_MANAGER, FINANCE_OFFICER, AUDITOR, ADMIN})
#: The fund's own staff (everyone but applicants, reviewers and donors).
STAFF_ROLES = frozenset({FUND_MANAGER, FINANCE_OFFICER, AUDITOR, ADMIN})

roles_users = Table(
    "roles_users",
    db.metadata,
    Column("user_id", Integer, ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", Integer, ForeignKey("role.id", ondelete="CASCADE"), primary_key=True),
)


class Role(db.Model, RoleMixin):
    __tablename__ = "role"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str | None] = mapped_column(String(255))
    permissions: Mapped[str | None] = mapped_column(Text)
    update_datetime: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class User(db.Model, UserMixin):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    password: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    fs_uniquifier: Mapped[str] = mapped_column(String(64), unique=True, default=lambda: uuid.uuid4().hex)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    language: Mapped[str] = mapped_column(String(2), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    #: The applicant's organisation (grants.Organisation) and the donor user's donor (donors.Donor).
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    donor_id: Mapped[int | None] = mapped_column(ForeignKey("donor.id"), index=True)
    # Flask-Security tracking and two-factor columns.
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    current_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_login_ip: Mapped[str | None] = mapped_column(String(64))
    current_login_ip: Mapped[str | None] = mapped_column(String(64))
    login_count: Mapped[int | None] = mapped_column(Integer)
    tf_primary_method: Mapped[str | None] = mapped_column(String(64))
    tf_totp_secret: Mapped[str | None] = mapped_column(String(255))
    tf_phone_number: Mapped[str | None] = mapped_column(String(128))
    #: The last second-factor time step accepted: a code is never accepted twice (fund.security_utils).
    tf_totp_last_counter: Mapped[int | None] = mapped_column(BigInteger)
    create_datetime: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    update_datetime: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    roles: Mapped[list[Role]] = relationship(secondary=roles_users, lazy="selectin")

    @property
    def role_names(self) -> set[str]:
        return {r.name for r in self.roles}

    @property
    def role(self) -> str | None:
        """The user's main role (accounts have one role in practice)."""
        names = sorted(self.role_names, key=ROLES.index)
        return names[0] if names else None

    def has_any_role(self, *names: str) -> bool:
        return bool(self.role_names.intersection(names))

    @property
    def needs_two_factor(self) -> bool:
        return bool(self.role_names & TWO_FACTOR_ROLES)

    @property
    def is_staff(self) -> bool:
        return bool(self.role_names & STAFF_ROLES)

    def check_tf_required(self, tf_setup_methods, tf_fresh):
        """Flask-Security hook: staff roles must always pass a second factor."""
        if self.needs_two_factor or tf_setup_methods:
            return True, tf_setup_methods
        return False, tf_setup_methods

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(db.Model):
    """A personal API token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")

    @staticmethod
    def new_secret() -> str:
        return "vtf_" + secrets.token_urlsafe(32)

    @property
    def active(self) -> bool:
        return self.revoked_at is None
