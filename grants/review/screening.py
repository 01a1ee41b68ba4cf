"""The eligibility checklist: its items, and suggestions drawn from the organisation's profile.

Suggestions only pre-fill the form: the fund manager decides each item. A possible match with the sanctions
list is never decided here; it suggests "needs information" and is shown with the listed name and reference.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask_babel import format_date
from flask_babel import gettext as _

from fund.db import utcnow
from fund.templating import money
from grants.checklist import psea_policy
from grants.models import Application
from grants.review import sanctions
from grants.review.labels import ITEM_LABELS
from grants.review.models import SCREENING_ITEMS

NONPROFIT_TYPES = frozenset({"ngo", "community_based", "faith_based"})
assert set(ITEM_LABELS) == set(SCREENING_ITEMS)


@dataclass
class Suggestion:
    result: str | None
    note: str


@dataclass
class ScreeningFacts:
    """What the screening page shows beside the form: suggestions and the sanctions check."""

    suggestions: dict[str, Suggestion]
    matches: list[sanctions.Match] = field(default_factory=list)
    list_imported: bool = False


def _one_year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def facts(application: Application) -> ScreeningFacts:
    org, call = application.organisation, application.call
    reference_day = (application.submitted_at or utcnow()).date()
    s: dict[str, Suggestion] = {}

    if org.registration_date is None:
        s["registered_nonprofit"] = Suggestion("needs_info", _("The profile gives no registration date."))
    elif org.registration_date > _one_year_before(reference_day):
        s["registered_nonprofit"] = Suggestion("fail", _("Registered on %(date)s: less than a year before the "
                                                         "submission.", date=format_date(org.registration_date)))
    elif org.org_type not in NONPROFIT_TYPES:
        s["registered_nonprofit"] = Suggestion("needs_info", _("Registered on %(date)s; check the non-profit "
                                                               "status of this type of organisation.",
                                                               date=format_date(org.registration_date)))
    else:
        s["registered_nonprofit"] = Suggestion("pass", _("Registered on %(date)s (number %(number)s).",
                                                         date=format_date(org.registration_date),
                                                         number=org.registration_number or "—"))

    s["applies_directly"] = Suggestion(None, _("Check the project description and the partners: the organisation "
                                               "must carry out the project itself."))

    holder = org.bank_account_holder
    if not holder or not org.bank_account_number:
        s["own_bank_account"] = Suggestion("needs_info", _("The profile gives no bank account."))
    elif sanctions.key(holder) == sanctions.key(org.name):
        s["own_bank_account"] = Suggestion("pass", _("The account holder is the organisation."))
    else:
        s["own_bank_account"] = Suggestion("needs_info", _("The account holder, “%(holder)s”, is not the "
                                                           "organisation's name.", holder=holder))

    policy = psea_policy(org.id)
    if policy is None:
        s["safeguarding_policy"] = Suggestion("needs_info", _("No safeguarding policy has been uploaded."))
    else:
        s["safeguarding_policy"] = Suggestion("pass", _("Policy uploaded: %(name)s (read it before passing this "
                                                        "item).", name=policy.filename))

    years = org.years_direct_assistance
    if years is None:
        s["direct_assistance"] = Suggestion("needs_info", _("The profile does not say how many years."))
    elif years < 1:
        s["direct_assistance"] = Suggestion("fail", _("Less than a year of direct assistance."))
    else:
        s["direct_assistance"] = Suggestion("pass", _("%(n)d years of direct assistance, according to the profile.",
                                                      n=years))

    imported = sanctions.current_import()
    matches = sanctions.find_matches(sanctions.organisation_names(org)) if imported else []
    if imported is None:
        s["not_sanctioned"] = Suggestion("needs_info", _("No sanctions list has been imported: check the UN list "
                                                         "by hand."))
    elif matches:
        s["not_sanctioned"] = Suggestion("needs_info", _("Possible match with the sanctions list: compare the "
                                                         "listed names below before deciding."))
    else:
        s["not_sanctioned"] = Suggestion("pass", _("No match in the list imported on %(date)s.",
                                                   date=format_date(imported.imported_at)))

    amount = application.requested_amount
    if call.min_grant <= amount <= call.max_grant:
        s["budget_within_limits"] = Suggestion("pass", _("%(amount)s requested; the call allows %(min)s to %(max)s.",
                                                         amount=money(amount, application.currency),
                                                         min=money(call.min_grant, call.currency),
                                                         max=money(call.max_grant, call.currency)))
    else:
        s["budget_within_limits"] = Suggestion("fail", _("%(amount)s requested; the call allows %(min)s to "
                                                         "%(max)s.", amount=money(amount, application.currency),
                                                         min=money(call.min_grant, call.currency),
                                                         max=money(call.max_grant, call.currency)))
    return ScreeningFacts(s, matches, imported is not None)
