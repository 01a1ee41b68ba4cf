"""Schemas of account management (fund.operations: invitations, roles, deactivation, second factor), shared by the
portal's forms (fund.views, which add the CSRF field) and the API (fund.api)."""

from __future__ import annotations

from marshmallow import fields, validate

from fund.models import ROLES
from fund.operations import INVITABLE_ROLES, is_invited
from fund.schemas import Id, InSchema, UserOut


class InviteUserIn(InSchema):
    email = fields.Email(required=True, validate=validate.Length(max=255))
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    role = fields.String(required=True, validate=validate.OneOf(INVITABLE_ROLES), metadata={
        "description": "Applicants sign up themselves or are invited by their organisation."})
    donor_id = Id(load_default=None, allow_none=True, metadata={"description": "Required for the donor role."})
    language = fields.String(load_default="en", validate=validate.OneOf(["en", "fr"]),
                             metadata={"description": "The language of the invitation e-mail and of the account."})


class SetRoleIn(InSchema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    donor_id = Id(load_default=None, allow_none=True,
                  metadata={"description": "For the donor role (the user's current donor when left out)."})


class AccountOut(UserOut):
    """A user's account as an administrator or an auditor sees it."""

    active = fields.Boolean(metadata={"description": "False: the account cannot sign in nor use its API tokens."})
    invited = fields.Function(lambda u: is_invited(u), metadata={
        "type": "boolean", "description": "Invited, and no password chosen yet."})
    two_factor = fields.Function(lambda u: bool(u.tf_primary_method), metadata={
        "type": "boolean", "description": "A second factor (TOTP) is set up."})
    last_sign_in_at = fields.DateTime(allow_none=True, attribute="current_login_at")
    sign_in_count = fields.Integer(attribute="login_count", allow_none=True)
    created_at = fields.DateTime(attribute="create_datetime")
