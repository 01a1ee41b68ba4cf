"""Completeness: what an organisation profile and an application still need before submission.

The same checklist is shown to the applicant while they fill in the form and is the guard of the "submit"
transition, so the refusal message lists exactly what the page shows as missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from flask import g
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, or_, select

from fund.db import db
from fund.templating import money
from grants.models import Application, Document, Organisation
from grants.taxonomies import DOCUMENT_KINDS, INDIRECT

INDIRECT_RATE = Decimal("0.07")

ORGANISATION_FIELDS = {
    "name": _l("Name"),
    "registration_number": _l("Registration number"),
    "registration_date": _l("Registration date"),
    "country": _l("Country"),
    "address": _l("Address"),
    "org_type": _l("Type of organisation"),
    "contact_name": _l("Contact person"),
    "contact_email": _l("Contact e-mail"),
    "years_direct_assistance": _l("Years of direct assistance to victims"),
    "bank_account_holder": _l("Account holder"),
    "bank_name": _l("Bank"),
    "bank_account_number": _l("IBAN or account number"),
    "bank_swift": _l("SWIFT / BIC"),
}

#: The sections of the application form, in order: code -> title.
SECTIONS = {
    "project": _l("The project"),
    "location": _l("Where and when"),
    "focus": _l("Forms of exploitation and assistance"),
    "beneficiaries": _l("Expected beneficiaries"),
    "approach": _l("Approach"),
    "budget": _l("Budget"),
    "documents": _l("Documents"),
}


class Item(NamedTuple):
    """A requirement: met (``done``) or not, and then why (``problem``)."""

    section: str
    label: str
    done: bool
    problem: str | None = None


#: "Not looked up yet": the checklist then queries the PSEA policy itself.
UNKNOWN = object()


def psea_policy(organisation_id: int) -> Document | None:
    return db.session.execute(
        select(Document).where(Document.organisation_id == organisation_id, Document.application_id.is_(None),
                               Document.kind == "psea_policy").order_by(Document.id.desc()).limit(1)
    ).scalar_one_or_none()


@dataclass(frozen=True)
class Documents:
    """The documents of several applications and the PSEA policies of their organisations, read together."""

    by_application: dict[int, list[Document]]
    psea_by_organisation: dict[int, Document]

    def of(self, application: Application) -> list[Document]:
        return self.by_application.get(application.id, [])

    def psea(self, organisation_id: int) -> Document | None:
        return self.psea_by_organisation.get(organisation_id)


#: The statement of :func:`documents_of_many`, built once rather than on every page of applications (SQLAlchemy
#: caches its compiled form, but building it and deriving its cache key are repeated for each new statement).
DOCUMENTS_OF_MANY = select(Document).where(or_(
    Document.application_id.in_(bindparam("app_ids", expanding=True)),
    and_(Document.organisation_id.in_(bindparam("org_ids", expanding=True)), Document.application_id.is_(None),
         Document.kind == "psea_policy"),
)).order_by(Document.id)


def documents_of_many(applications: list[Application]) -> Documents:
    """The documents of ``applications`` and the latest PSEA policy of each of their organisations, with one
    query whatever the number of applications (the checklist of a page of applications)."""
    app_ids = sorted({a.id for a in applications})
    org_ids = sorted({a.organisation_id for a in applications})
    by_application: dict[int, list[Document]] = {i: [] for i in app_ids}
    psea: dict[int, Document] = {}
    if not app_ids:
        return Documents(by_application, psea)
    rows = db.session.execute(DOCUMENTS_OF_MANY, {"app_ids": app_ids, "org_ids": org_ids}).scalars()
    for doc in rows:
        if doc.application_id is None:
            psea[doc.organisation_id] = doc  # ordered by id: the latest one wins
        else:
            by_application[doc.application_id].append(doc)
    return Documents(by_application, psea)


def organisation_missing(org: Organisation, psea=UNKNOWN) -> list[str]:
    """Labels of what the organisation profile still lacks (``psea``: its PSEA policy, when already read)."""
    missing = [str(label) for name, label in ORGANISATION_FIELDS.items() if getattr(org, name) in (None, "")]
    if (psea_policy(org.id) if psea is UNKNOWN else psea) is None:
        missing.append(str(DOCUMENT_KINDS["psea_policy"]))
    return missing


def budget_totals(application: Application) -> dict[str, Decimal]:
    direct = sum((line.total for line in application.budget_lines if line.category != INDIRECT), Decimal("0.00"))
    indirect = sum((line.total for line in application.budget_lines if line.category == INDIRECT), Decimal("0.00"))
    return {"direct": direct, "indirect": indirect, "total": direct + indirect,
            "indirect_limit": (direct * INDIRECT_RATE).quantize(Decimal("0.01"))}


def budget_problems(application: Application) -> list[str]:
    call, cur = application.call, application.currency
    totals = budget_totals(application)
    problems = []
    if not application.budget_lines:
        problems.append(_("Add the budget lines."))
        return problems
    if totals["total"] < call.min_grant:
        problems.append(_("The requested amount (%(amount)s) is below the call's minimum of %(limit)s.",
                          amount=money(totals["total"], cur), limit=money(call.min_grant, cur)))
    if totals["total"] > call.max_grant:
        problems.append(_("The requested amount (%(amount)s) is above the call's maximum of %(limit)s.",
                          amount=money(totals["total"], cur), limit=money(call.max_grant, cur)))
    indirect = indirect_problem(application, totals)
    if indirect:
        problems.append(indirect)
    return problems


def indirect_problem(application: Application, totals: dict | None = None) -> str | None:
    """Indirect costs above 7 % of direct costs: the message, else None."""
    totals = totals or budget_totals(application)
    if totals["indirect"] > totals["indirect_limit"]:
        cur = application.currency
        return _("Indirect costs (%(amount)s) are more than 7 %% of direct costs (at most %(limit)s).",
                 amount=money(totals["indirect"], cur), limit=money(totals["indirect_limit"], cur))
    return None


class RequestTexts:
    """Texts of the current language, each translated once for the request: a page of 50 applications runs the
    checklist and names the status 50 times with the same labels, and each gettext call looks the language and its
    catalog up again. Formatting follows gettext's: the translated text with ``%`` and the variables, if any."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.labels: dict[tuple[int, str], str] = {}

    def gettext(self, text: str, **variables) -> str:
        translated = self.texts.get(text)
        if translated is None:
            translated = self.texts[text] = _(text)
        return translated % variables if variables else translated

    def label(self, table: dict, code: str) -> str:
        """``str(table.get(code, code))`` for one of the module-level tables of lazy labels (DOCUMENT_KINDS, a
        workflow's states...)."""
        key = (id(table), code)
        translated = self.labels.get(key)
        if translated is None:
            translated = self.labels[key] = str(table.get(code, code))
        return translated


def request_texts() -> RequestTexts:
    """The current language's :class:`RequestTexts`, kept on ``g`` (one per language, should it change)."""
    by_language = g.setdefault("request_texts", {})
    language = str(get_locale() or "")
    if language not in by_language:
        by_language[language] = RequestTexts()
    return by_language[language]


def checklist(application: Application, documents: list[Document] | None = None, psea=UNKNOWN) -> list[Item]:
    """Every requirement of the application with whether it is met (and, if not, why). ``documents`` and
    ``psea`` (the organisation's PSEA policy or None), when given, save the look-ups (see
    :func:`documents_of_many`)."""
    a, call = application, application.call
    texts = request_texts()
    _ = texts.gettext  # the texts below keep the name under which they are extracted for translation
    if documents is None:
        documents = list(db.session.execute(
            select(Document).where(Document.application_id == a.id)).scalars())
    if psea is UNKNOWN:
        psea = psea_policy(a.organisation_id)
    items: list[Item] = []

    org_missing = organisation_missing(a.organisation, psea)
    items.append(Item("organisation", _("Organisation profile complete"), not org_missing,
                      _("The organisation profile lacks: %(fields)s.", fields=", ".join(org_missing))
                      if org_missing else None))

    def text(section: str, value, label: str) -> None:
        done = bool(value and (not isinstance(value, str) or value.strip()))
        items.append(Item(section, label, done, None if done else _("Missing: %(what)s.", what=label)))

    text("project", a.project_title, _("Project title"))
    text("project", a.summary, _("Summary"))
    text("project", a.objectives, _("Objectives"))
    text("location", a.countries, _("Countries"))
    text("location", a.locations, _("Locations"))
    text("location", a.start_date, _("Start date"))
    if a.duration_months and a.duration_months > call.max_duration_months:
        items.append(Item("location", _("Duration"), False,
                          _("The duration is longer than the call's maximum of %(n)d months.",
                            n=call.max_duration_months)))
    else:
        text("location", a.duration_months, _("Duration"))
    if call.eligible_countries and a.countries:
        outside = [c for c in a.countries if c not in call.eligible_countries]
        if outside:
            items.append(Item("location", _("Eligible countries"), False,
                              _("These countries are not eligible for this call: %(c)s.", c=", ".join(outside))))
    text("focus", a.forms_of_exploitation, _("Forms of exploitation addressed"))
    text("focus", a.assistance_types, _("Types of assistance"))
    total = sum(c.count for c in a.beneficiaries)
    items.append(Item("beneficiaries", _("Expected beneficiaries"), total > 0,
                      None if total > 0 else _("Missing: %(what)s.", what=_("Expected beneficiaries"))))
    text("approach", a.identification_referral, _("How victims are identified and referred"))
    text("approach", a.partners, _("Partners"))
    text("approach", a.risks_safeguarding, _("Risks and safeguarding"))
    text("approach", a.monitoring_plan, _("Monitoring plan"))

    problems = budget_problems(a)
    items.append(Item("budget", _("Budget within the call's limits"), not problems,
                      " ".join(problems) if problems else None))

    kinds = {d.kind for d in documents}
    for kind in call.required_documents:
        label = texts.label(DOCUMENT_KINDS, kind)
        if kind == "psea_policy":
            present = psea is not None
        else:
            present = kind in kinds
        items.append(Item("documents", label, present,
                          None if present else _("Missing document: %(what)s.", what=label)))
    return items


def missing(application: Application) -> list[str]:
    return [item.problem or item.label for item in checklist(application) if not item.done]
