"""Plain data for the API and for PDFs, built from the models (what a viewer may see, in their language)."""

from __future__ import annotations

import datetime as dt

from flask import g, url_for
from flask_babel import format_decimal, get_locale
from sqlalchemy import select

from fund.db import db
from fund.models import APPLICANT, User
from fund.templating import datetime_text, money
from grants import payee
from grants.checklist import (
    budget_totals,
    checklist,
    documents_of_many,
    organisation_missing,
    psea_policy,
    request_texts,
)
from grants.models import Application, Call, Document, Organisation
from grants.permissions import can_see_bank_details, member_of
from grants.taxonomies import (
    AGE_BANDS,
    ASSISTANCE_TYPES,
    BUDGET_CATEGORIES,
    DOCUMENT_KINDS,
    FORMS_OF_EXPLOITATION,
    SEXES,
    WINDOWS,
    country_name,
)
from grants.workflow import APPLICANT_STATUS, APPLICANT_STATUS_LABELS, APPLICATION_WORKFLOW


def language() -> str:
    return str(get_locale() or "en")[:2]


def sees_plain_status(user: User, application: Application) -> bool:
    """Applicants see plain status names; the fund sees the workflow state."""
    return member_of(user, application.organisation_id) and not user.is_staff


def status_for(user: User, application: Application) -> tuple[str, str]:
    """(code, label) of the application's status as ``user`` reads it."""
    return _status(application, sees_plain_status(user, application))


def _status(application: Application, plain: bool) -> tuple[str, str]:
    texts = request_texts()
    if plain:
        code = APPLICANT_STATUS[application.status]
        return code, texts.label(APPLICANT_STATUS_LABELS, code)
    return application.status, texts.label(APPLICATION_WORKFLOW.states, application.status)


def organisation_dict(org: Organisation, user: User, *, full_bank: bool = False) -> dict:
    doc = psea_policy(org.id)
    missing = organisation_missing(org, doc)
    full = full_bank and can_see_bank_details(user)
    data = {c: getattr(org, c) for c in (
        "id", "name", "acronym", "registration_number", "registration_date", "country", "address", "website",
        "year_established", "org_type", "contact_name", "contact_email", "contact_phone",
        "years_direct_assistance", "created_at")}
    data.update(bank=payee.bank_details(org, full=full, actor=user),
                psea_policy_document_id=doc.id if doc else None, complete=not missing, missing=missing)
    return data


def call_dict(call: Call) -> dict:
    data = {c: getattr(call, c) for c in (
        "id", "title_en", "title_fr", "description_en", "description_fr", "window", "window_code", "opens_at",
        "closes_at", "currency", "envelope", "min_grant", "max_grant", "max_duration_months", "eligible_countries",
        "priority_forms", "required_documents", "status")}
    data["criteria"] = [{"id": c.id, "name_en": c.name_en, "name_fr": c.name_fr, "weight": c.weight}
                        for c in call.criteria]
    return data


def documents_of(application: Application) -> list[Document]:
    return list(db.session.execute(
        select(Document).where(Document.application_id == application.id).order_by(Document.id)).scalars())


def document_url(document_id: int) -> str:
    """``url_for("grants_api.get_document", document_id=...)``, built once per request: a page of applications lists
    a hundred documents whose addresses differ only in the id, their last segment."""
    prefix = g.get("document_url_prefix")
    if prefix is None:
        prefix = g.document_url_prefix = url_for("grants_api.get_document", document_id=1).removesuffix("1")
    return f"{prefix}{document_id}"


def document_dict(doc: Document) -> dict:
    return {"id": doc.id, "kind": doc.kind, "filename": doc.filename, "content_type": doc.content_type,
            "size": doc.size, "sha256": doc.sha256, "uploaded_at": doc.uploaded_at, "url": document_url(doc.id)}


#: The columns of an application that a list shows (:class:`grants.schemas.ApplicationSummaryOut`), besides its status.
SUMMARY_COLUMNS = ("id", "call_id", "organisation_id", "reference", "submitted_at", "created_at", "updated_at",
                   "project_title", "countries", "start_date", "duration_months", "forms_of_exploitation",
                   "assistance_types", "requested_amount", "currency")
#: The rest of an application, shown when it is read alone.
DETAIL_COLUMNS = ("summary", "objectives", "locations", "identification_referral", "partners", "risks_safeguarding",
                  "monitoring_plan")


def application_summaries(applications: list[Application], user: User) -> list[dict]:
    """Applications as a list shows them: their own columns only (nothing related is read), the status as
    :func:`status_for` names it (the reader's roles looked at once for the page: :func:`sees_plain_status` for an
    applicant of the application's organisation who is not staff)."""
    plain_of = user.organisation_id if user.has_any_role(APPLICANT) and not user.is_staff else None
    items = []
    for a in applications:
        data = {c: getattr(a, c) for c in SUMMARY_COLUMNS}
        data["status"], data["status_label"] = _status(a, plain_of is not None and a.organisation_id == plain_of)
        items.append(data)
    return items


def application_dict(application: Application, user: User) -> dict:
    """An application as the API shows it alone: the summary, its texts, beneficiaries, budget, documents and
    checklist."""
    a = application
    documents = documents_of_many([a])
    docs = documents.of(a)
    totals = budget_totals(a)
    items = checklist(a, docs, documents.psea(a.organisation_id))
    data = application_summaries([a], user)[0]
    data.update({c: getattr(a, c) for c in DETAIL_COLUMNS})
    data.update(
        beneficiaries=[{"sex": b.sex, "age_band": b.age_band, "count": b.count} for b in a.beneficiaries],
        budget_lines=[{"id": line.id, "category": line.category, "description": line.description,
                       "quantity": str(line.quantity), "unit_cost": line.unit_cost, "total": line.total,
                       "currency": a.currency} for line in a.budget_lines],
        direct_costs=totals["direct"], indirect_costs=totals["indirect"],
        documents=[document_dict(d) for d in docs],
        complete=all(i.done for i in items), missing=[i.problem or i.label for i in items if not i.done],
    )
    return data


def _date(value: dt.datetime | None) -> str:
    return datetime_text(value, "long")  # to the minute, with the time zone


def application_pdf_context(application: Application, now: dt.datetime) -> dict:
    """Everything the acknowledgement shows, as plain data in the current language."""
    a, lang = application, language()
    org = a.organisation
    totals = budget_totals(a)
    docs = [d for d in documents_of(a) if d.kind != "acknowledgement"]
    cells = {(b.sex, b.age_band): b.count for b in a.beneficiaries}
    return {
        "lang": lang,
        "reference": a.reference,
        "submitted_at": _date(now),
        "call_title": a.call.title(lang),
        "window": str(WINDOWS[a.call.window][1]),
        "organisation": {"name": org.name, "acronym": org.acronym or "", "country": country_name(org.country, lang),
                         "registration_number": org.registration_number or ""},
        "project_title": a.project_title or "",
        "summary": a.summary or "",
        "objectives": a.objectives or "",
        "countries": ", ".join(country_name(c, lang) for c in a.countries),
        "locations": a.locations or "",
        "start_date": a.start_date,
        "duration_months": a.duration_months,
        "forms": [str(FORMS_OF_EXPLOITATION.get(f, f)) for f in a.forms_of_exploitation],
        "assistance": [str(ASSISTANCE_TYPES.get(t, t)) for t in a.assistance_types],
        "beneficiaries": {
            "sexes": [str(v) for v in SEXES.values()],
            "rows": [{"band": str(label), "counts": [cells.get((s, band), 0) for s in SEXES]}
                     for band, label in AGE_BANDS.items()],
            "total": sum(cells.values()),
        },
        "identification_referral": a.identification_referral or "",
        "partners": a.partners or "",
        "risks_safeguarding": a.risks_safeguarding or "",
        "monitoring_plan": a.monitoring_plan or "",
        "budget": [{"category": str(BUDGET_CATEGORIES.get(line.category, line.category)),
                    "description": line.description,
                    "quantity": format_decimal(line.quantity, format="#,##0.##"),
                    "unit_cost": money(line.unit_cost, a.currency), "total": money(line.total, a.currency)}
                   for line in a.budget_lines],
        "direct": money(totals["direct"], a.currency),
        "indirect": money(totals["indirect"], a.currency),
        "requested": money(totals["total"], a.currency),
        "documents": [{"kind": str(DOCUMENT_KINDS.get(d.kind, d.kind)), "filename": d.filename,
                       "sha256": d.sha256, "size": d.size} for d in docs],
    }
