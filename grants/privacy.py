"""The grants package's part of data protection (see :mod:`fund.privacy`).

- A user may not be anonymised while they are a contact of an active grant (pending signature, active or
  suspended): the fund must be able to reach the organisation about its money. The contacts of a grant are
  the people its messages go to (:func:`grants.awards.operations.grant_members`): the organisation's active
  users and its contact address.
- Anonymising a user removes their organisation memberships and the invitations sent to their address.
- :func:`anonymise_organisation_contacts` (an admin action on the organisation's page, and
  ``flask privacy anonymise-organisation``) replaces the organisation's contact person, e-mail and phone,
  anonymises each of its users, and erases the organisation's personal data from the audit trail. The
  organisation itself, its applications, grants and money stay. Refused while it has an active grant.
- A user's copy of their data names their organisation and whether they administer it.
- :func:`personal_data_findings` looks for what identifies a person in free text (e-mail addresses, phone
  numbers, passport-like numbers, dates of birth); the application and report workflows refuse a submission
  that has any, and the forms warn before.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

import click
import phonenumbers
from flask import Blueprint, Flask, flash, redirect, request, url_for
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import delete, select

from fund import audit
from fund import privacy as fund_privacy
from fund.db import db
from fund.errors import Conflict, FundError
from fund.models import ADMIN, User
from fund.permissions import access
from grants.models import Invitation, Organisation, OrganisationAdmin

#: Grant statuses in which the fund must still reach the organisation.
ACTIVE_GRANT_STATUSES = ("pending_signature", "active", "suspended")

#: The application's free-text answers, which may not hold personal data, and their labels.
APPLICATION_TEXT = {
    "project_title": _l("Project title"),
    "summary": _l("Summary"),
    "objectives": _l("Objectives"),
    "locations": _l("Locations"),
    "identification_referral": _l("How victims are identified and referred"),
    "partners": _l("Partners"),
    "risks_safeguarding": _l("Risks and safeguarding"),
    "monitoring_plan": _l("Monitoring plan"),
}

bp = Blueprint("grants_privacy", __name__, url_prefix="/grants")


def _active_grants(organisation_ids) -> list:
    from grants.awards.models import Grant

    ids = [i for i in organisation_ids if i is not None]
    if not ids:
        return []
    return list(db.session.execute(
        select(Grant.number, Grant.status).where(Grant.organisation_id.in_(ids),
                                                 Grant.status.in_(ACTIVE_GRANT_STATUSES)).order_by(Grant.id)
    ).all())


def _grant_list(grants) -> str:
    from grants.awards.workflow import GRANT_STATES

    return ", ".join(f"{number} ({str(GRANT_STATES.get(status, status)).lower()})" for number, status in grants)


def user_guard(user: User) -> list[str]:
    orgs = {user.organisation_id}
    orgs.update(db.session.execute(select(Organisation.id).where(Organisation.contact_email == user.email))
                .scalars())
    grants = _active_grants(orgs)
    if not grants:
        return []
    return [_("%(email)s is a contact of the active grant %(grants)s and cannot be anonymised until it is closed "
              "or another contact replaces them.", email=user.email, grants=_grant_list(grants))]


def on_anonymise_user(user: User, actor) -> None:
    db.session.execute(delete(OrganisationAdmin).where(OrganisationAdmin.user_id == user.id)
                       .execution_options(synchronize_session=False))
    db.session.execute(delete(Invitation).where(Invitation.email == user.email)
                       .execution_options(synchronize_session=False))


def export_user(user: User) -> dict:
    if user.organisation_id is None:
        return {}
    org = db.session.get(Organisation, user.organisation_id)
    is_admin = db.session.get(OrganisationAdmin, (user.organisation_id, user.id)) is not None
    return {"memberships": {"organisation": {"id": org.id, "name": org.name, "administrator": is_admin}}}


def anonymise_organisation_contacts(org: Organisation, *, actor) -> int:
    """Anonymise the organisation's contact details and its users; returns how many users were anonymised."""
    if actor is None or not actor.has_any_role(ADMIN):
        raise FundError(_("Only an administrator may anonymise an account."), status=403, code="forbidden")
    grants = _active_grants([org.id])
    if grants:
        message = _("The contacts of %(name)s cannot be anonymised while it has an active grant: %(grants)s.",
                    name=org.name, grants=_grant_list(grants))
        raise Conflict(message, fields={"organisation": [message]}, code="anonymisation_refused")
    users = db.session.execute(select(User).where(User.organisation_id == org.id).order_by(User.id)).scalars().all()
    for user in users:
        if not fund_privacy.is_anonymised(user):
            fund_privacy.anonymise_user(user, actor=actor, checked=True)
    db.session.execute(delete(Invitation).where(Invitation.organisation_id == org.id)
                       .execution_options(synchronize_session=False))
    org.contact_name = None
    org.contact_email = None
    org.contact_phone = None
    db.session.flush()
    audit.record("organisation.anonymise_contacts", org, actor=actor,
                 summary=f"Contacts of organisation {org.id} anonymised ({len(users)} accounts)",
                 changes={"contact_name": ["erased", None], "contact_email": ["erased", None],
                          "contact_phone": ["erased", None]})
    audit.erase_subject("organisation", org.id, actor=actor)
    return len(users)


@bp.route("/organisations/<int:organisation_id>/anonymise-contacts", methods=["POST"])
@access(ADMIN)
def anonymise_organisation(organisation_id: int):
    from grants.organisation_pages import organisation as organisation_page

    org = db.get_or_404(Organisation, organisation_id)
    try:
        if request.form.get("confirm") != "yes":
            raise FundError(_("Tick the box to confirm."), fields={"confirm": [_("Tick the box to confirm.")]})
        count = anonymise_organisation_contacts(org, actor=current_user)
    except FundError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        html = organisation_page(organisation_id)
        return (html[0] if isinstance(html, tuple) else html), exc.status
    flash(_("The contacts of the organisation and its %(n)d accounts have been anonymised.", n=count), "success")
    return redirect(url_for("grants.organisation", organisation_id=org.id))


@click.command("anonymise-organisation")
@with_appcontext
@click.argument("organisation_id", type=int)
@click.option("--as", "admin_email", required=True, help="The administrator who decides it (their e-mail).")
def anonymise_organisation_command(organisation_id, admin_email):
    """Anonymise an organisation's contact details and its users (refused while it has an active grant)."""
    admin = fund_privacy.cli_admin()
    org = db.session.get(Organisation, organisation_id)
    if org is None:
        click.echo(f"Error: no organisation {organisation_id}", err=True)
        sys.exit(1)
    fund_privacy.run_cli(lambda: f"Contacts of organisation {org.id} anonymised "
                                 f"({anonymise_organisation_contacts(org, actor=admin)} accounts)")


# Personal data in free text ------------------------------------------------------------------------------------

EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: One or two letters then six to nine digits (most passports and national identity cards), or nine digits.
PASSPORT_RE = re.compile(r"\b(?:[A-Z]{1,2}\s?\d{6,9}|\d{9})\b")
_DATE = (r"(?:\d{1,2}[./-]\d{1,2}[./-](?:19|20)?\d{2}|(?:19|20)\d{2}-\d{1,2}-\d{1,2}"
         r"|\d{1,2}(?:st|nd|rd|th|er)?\s+[A-Za-zéû]+\.?\s+(?:19|20)\d{2})")
#: A date next to words that make it a birth date (English and French).
BIRTH_RE = re.compile(
    r"(?:\b(?:born|birth|d\.?o\.?b\.?|n[ée]e?s?|naissance)\b\W{0,3}(?:\w+\W+){0,3}?" + _DATE + ")"
    r"|(?:" + _DATE + r"\W{0,3}\(?(?:born|date of birth|DOB|date de naissance)\b)",
    re.IGNORECASE,
)

KINDS = {
    "email": _l("an e-mail address"),
    "phone": _l("a phone number"),
    "passport": _l("a passport or identity card number"),
    "birth_date": _l("a date of birth"),
}


@dataclass(frozen=True)
class Finding:
    kind: str
    text: str

    @property
    def label(self) -> str:
        return str(KINDS[self.kind])


def personal_data_findings(text: str | None, region: str | None = None) -> list[Finding]:
    """The likely personal data in ``text``: e-mail addresses, phone numbers (international, or national in
    ``region``, an ISO 3166 code), passport-like numbers and dates of birth."""
    if not text:
        return []
    found: list[Finding] = [Finding("email", m.group(0)) for m in EMAIL_RE.finditer(text)]
    spans = [m.span() for m in EMAIL_RE.finditer(text)]
    for match in phonenumbers.PhoneNumberMatcher(text, (region or "ZZ").upper(),
                                                 leniency=phonenumbers.Leniency.VALID):
        if not any(s <= match.start < e for s, e in spans):
            found.append(Finding("phone", match.raw_string))
            spans.append((match.start, match.end))
    for m in PASSPORT_RE.finditer(text):
        if not any(s <= m.start() < e for s, e in spans):
            found.append(Finding("passport", m.group(0)))
    found.extend(Finding("birth_date", m.group(0)) for m in BIRTH_RE.finditer(text))
    return found


def free_text_problems(fields: dict[str, tuple[object, str | None]], region: str | None) -> list[str]:
    """One message per free-text field that holds likely personal data: ``fields`` maps a field's name to its
    label and text."""
    problems = []
    for _name, (label, text) in fields.items():
        findings = personal_data_findings(text, region)
        if findings:
            what = "; ".join(f"{f.label} ({f.text})" for f in findings)
            problems.append(_("%(field)s seems to contain personal data: %(what)s. Remove it before submitting: "
                              "the fund never records who victims are.", field=label, what=what))
    return problems


def application_text_guard(application, actor, data) -> list[str]:
    """Guard of the application's submission: no free-text answer may hold likely personal data."""
    fields = {name: (label, getattr(application, name)) for name, label in APPLICATION_TEXT.items()}
    for line in application.budget_lines:
        fields[f"budget-{line.position}"] = (_("Budget line %(n)d", n=line.position), line.description)
    return free_text_problems(fields, application.organisation.country)


def report_text_guard(report, actor, data) -> list[str]:
    """Guard of a grantee report's submission: the narrative and the explanations of expenditure."""
    from grants.awards.models import Grant
    from grants.awards.reports import NARRATIVE_LABELS

    fields = {name: (label, getattr(report, name)) for name, label in NARRATIVE_LABELS.items()}
    for expense in report.expenses:
        fields[f"explain-{expense.budget_line_id}"] = (
            _("Explanation of %(line)s", line=expense.budget_line.description), expense.explanation)
    grant = db.session.get(Grant, report.grant_id)
    return free_text_problems(fields, grant.organisation.country)


def init_app(app: Flask) -> None:
    from grants.awards.workflow import REPORT_WORKFLOW
    from grants.workflow import APPLICATION_WORKFLOW

    fund_privacy.register(app, guard=user_guard, on_anonymise=on_anonymise_user, export=export_user)
    app.register_blueprint(bp)
    fund_privacy.privacy_cli.add_command(anonymise_organisation_command)
    for workflow, guard in ((APPLICATION_WORKFLOW, application_text_guard), (REPORT_WORKFLOW, report_text_guard)):
        if guard not in workflow["submit"].guards:
            workflow.add_guard("submit", guard)
