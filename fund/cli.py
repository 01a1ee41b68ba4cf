"""Command-line interface: `flask --app wsgi users|audit|mail|demo ...`."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from fund import mail, operations
from fund.db import db
from fund.errors import FundError
from fund.models import ROLES, User

users_cli = AppGroup("users", help="Manage user accounts.")
audit_cli = AppGroup("audit", help="The tamper-evident audit trail.")
mail_cli = AppGroup("mail", help="The outgoing mail queue.")
demo_cli = AppGroup("demo", help="Demonstration data.")
db_roles_cli = AppGroup("db-roles", help="The PostgreSQL roles of the owner and the application.")


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _user(email: str) -> User:
    user = db.session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()
    if user is None:
        _fail(f"no user with e-mail {email}")
    return user


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--password", required=True)
@click.option("--name", default=None)
@click.option("--organisation", "organisation_id", type=int, default=None, help="Organisation id (applicants).")
@click.option("--donor", "donor_id", type=int, default=None, help="Donor id (donor users).")
@click.option("--language", type=click.Choice(["en", "fr"]), default="en")
def users_create(email, role, password, name, organisation_id, donor_id, language):
    """Create a user with one role."""
    try:
        user = operations.create_user(email, role, password, name=name, organisation_id=organisation_id,
                                      donor_id=donor_id, language=language)
        db.session.commit()
    except FundError as exc:
        db.session.rollback()
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
        _fail(f"{exc.message} {details}".strip())
    click.echo(f"Created user {user.id} {user.email} ({role})")
    if user.needs_two_factor:
        click.echo("This role signs in with a second factor: set it up at first sign-in.")


@users_cli.command("create-token")
@click.argument("email")
@click.option("--name", default="cli", help="A label for the token.")
def users_create_token(email, name):
    """Create a personal API token; the token alone is printed on the last line."""
    user = _user(email)
    _token, secret = operations.create_token(user, name)
    db.session.commit()
    click.echo(f"API token for {user.email} (shown once; store it safely):")
    click.echo(secret)


def _run(action) -> None:
    """Run one account operation, commit, and print its message; a refusal is printed and exits 1."""
    try:
        message = action()
        db.session.commit()
    except FundError as exc:
        db.session.rollback()
        details = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in exc.fields.items())
        _fail(f"{exc.message} {details}".strip())
    click.echo(message)


@users_cli.command("invite")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(operations.INVITABLE_ROLES))
@click.option("--name", default=None)
@click.option("--donor", "donor_id", type=int, default=None, help="Donor id (donor users).")
@click.option("--language", type=click.Choice(["en", "fr"]), default="en")
def users_invite(email, role, name, donor_id, language):
    """Invite someone: their account is created with the role, and a single-use link to choose a password is
    e-mailed to them (and printed here)."""

    def invite():
        user, link = operations.invite_user(email, role, name=name, donor_id=donor_id, language=language)
        return f"Invited {user.email} ({role}); link valid {operations.STAFF_INVITATION_DAYS} days:\n{link}"

    _run(invite)


@users_cli.command("resend-invitation")
@click.argument("email")
def users_resend_invitation(email):
    """Send a new invitation link (earlier links stop working)."""
    user = _user(email)
    _run(lambda: f"Invitation sent again to {user.email}:\n{operations.resend_invitation(user)}")


@users_cli.command("set-role")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--donor", "donor_id", type=int, default=None, help="Donor id (for the donor role).")
def users_set_role(email, role, donor_id):
    """Change a user's role (their sessions are revoked)."""
    user = _user(email)
    _run(lambda: operations.set_role(user, role, donor_id=donor_id) and f"{user.email} is now {role}")


#: Account operations of the command line that take only the e-mail: (command, operation of fund.operations,
#: help, message when done).
ACCOUNT_COMMANDS = (
    ("deactivate", "deactivate_user",
     "Stop a user signing in or using their API tokens (refused for the last active administrator).",
     "{email} deactivated"),
    ("reactivate", "reactivate_user", "Let a deactivated user sign in again.", "{email} reactivated"),
    ("reset-two-factor", "reset_two_factor",
     "Forget a user's second factor (a lost phone): they set up a new one at their next sign-in.",
     "Second factor of {email} reset"),
)


def _account_command(name: str, operation: str, help_text: str, done: str) -> None:
    @users_cli.command(name, help=help_text)
    @click.argument("email")
    def command(email):
        user = _user(email)
        _run(lambda: getattr(operations, operation)(user) and done.format(email=user.email))


for _command in ACCOUNT_COMMANDS:
    _account_command(*_command)


@users_cli.command("totp-code")
@click.argument("email")
def users_totp_code(email):
    """Print a user's current second-factor code (development and demonstrations only)."""
    if current_app.config["FUND_ENV"] == "production":
        _fail("not available in production")
    from fund.demo import current_totp

    user = _user(email)
    if not user.tf_totp_secret:
        _fail(f"{user.email} has no second factor set up")
    click.echo(current_totp(user))


@audit_cli.command("verify")
def audit_verify():
    """Check the chain (hashes, HMAC codes, erasures) and every signed checkpoint; exit 1 and name the first bad
    event if it was tampered with."""
    from fund.checkpoints import verify_all

    result = verify_all()
    if result.ok:
        click.echo(f"OK: {result.events} events verified against {result.checkpoints} checkpoints "
                   f"({result.erased} with erased personal data)")
        return
    where = f"first bad event {result.first_bad_event} " if result.first_bad_event is not None else ""
    click.echo(f"FAILED: {where}({result.reason}); {result.events} events verified before it", err=True)
    sys.exit(1)


@audit_cli.command("checkpoint")
def audit_checkpoint():
    """Verify the chain, then write a signed checkpoint of its head to AUDIT_CHECKPOINT_DIR (schedule hourly)."""
    from fund.checkpoints import CheckpointError, write

    try:
        cp = write()
    except CheckpointError as exc:
        _fail(str(exc))
    click.echo(f"Checkpoint {cp.name}: event {cp.event_id}, hash {cp.hash}")


@audit_cli.command("public-key")
def audit_public_key():
    """Print the public key that checks checkpoints (give it to the auditors: AUDIT_VERIFY_KEY_FILE)."""
    from fund.checkpoints import public_key_pem, signing_key

    click.echo(public_key_pem(signing_key().public_key()), nl=False)


@db_roles_cli.command("grant")
def db_roles_grant():
    """Grant the application's role (DATABASE_URL) what it needs, connecting as the owner (DATABASE_OWNER_URL);
    `flask db upgrade` does it too."""
    from sqlalchemy import create_engine

    from fund.dbroles import app_role, grant_app_role

    role = app_role(current_app.config)
    if role is None:
        _fail("DATABASE_OWNER_URL must name the owner, and DATABASE_URL another PostgreSQL role")
    engine = create_engine(current_app.config["DATABASE_OWNER_URL"])
    try:
        with engine.begin() as conn:
            granted = grant_app_role(conn, role)
    finally:
        engine.dispose()
    for table, privileges in granted.items():
        click.echo(f"{table}: {privileges}")
    click.echo(f"{role} granted on {len(granted)} tables")


@mail_cli.command("send")
@click.option("--limit", default=500, show_default=True)
def mail_send(limit):
    """Deliver queued mail over SMTP (or to the log when MAIL_SERVER is not set)."""
    counts = mail.send_pending(limit=limit)
    click.echo(f"sent {counts['sent']}, retry later {counts['retry']}, failed {counts['failed']}")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
def demo_load(if_empty):
    """Load demonstration data and print the demo accounts."""
    from fund.demo import load_demo

    if if_empty and db.session.execute(select(User.id).limit(1)).first():
        click.echo("Demo data already loaded; see README.md for the demo accounts "
                   "(`flask --app wsgi users totp-code EMAIL` prints a staff account's current code).")
        return
    lines = load_demo()
    db.session.commit()
    for line in lines:
        click.echo(line)


def register_cli(app: Flask) -> None:
    for group in (users_cli, audit_cli, mail_cli, demo_cli, db_roles_cli):
        app.cli.add_command(group)
