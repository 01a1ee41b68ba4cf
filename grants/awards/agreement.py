"""The grant agreement as PDF (English or French): a plain-data context rendered by :func:`fund.pdf.render_pdf`
(WeasyPrint in a child process, fetching only the application's own assets)."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _

from fund.errors import Conflict
from fund.pdf import render_pdf
from fund.templating import money, percent
from grants.awards.models import FINAL, INTERIM, Grant
from grants.awards.operations.shared import FINAL_REPORT_DAYS
from grants.awards.workflow import CONDITION_LABELS
from grants.taxonomies import BUDGET_CATEGORIES, country_name


def standard_conditions() -> list[str]:
    """The standard conditions of every grant, in the current language."""
    return [
        _("The grant is used only for the project and the budget described in this agreement. A change of more "
          "than 10 % to a budget line needs the fund's written agreement."),
        _("Tranches are paid into the bank account held in the organisation's own name. The first tranche is "
          "paid after this agreement is countersigned; later tranches after the report they depend on is "
          "accepted."),
        _("The organisation submits an interim and a final report, narrative and financial, by the dates below. "
          "Results are reported as aggregate counts only: no report ever names or identifies a victim."),
        _("Victims are assisted with their informed consent, under a victim-centred, human-rights-based approach "
          "sensitive to sex and age, and in confidence. The organisation applies its policy on protection from "
          "sexual exploitation and abuse and reports any allegation to the fund without delay."),
        _("Money not spent on the project at the end of the grant, or spent outside the agreed budget, is "
          "refunded to the fund."),
        _("The organisation keeps its accounts and supporting documents for five years and makes them available "
          "to the fund and its auditors on request."),
        _("The fund may suspend payments, or terminate the grant, if these conditions are not met; the "
          "organisation then refunds the money not yet spent."),
        _("The organisation acknowledges the support of the United Nations Voluntary Trust Fund for Victims of "
          "Trafficking in Persons in its public communication about the project, without identifying any victim."),
    ]


def check_agreement(grant: Grant) -> None:
    """An agreement states one amount: refused (409) while the approved budget does not add up to the award."""
    if grant.budget_total != grant.amount:
        raise Conflict(_("The approved budget adds up to %(total)s but the grant is %(amount)s: revise the budget "
                         "to the award before the agreement is produced.",
                         total=money(grant.budget_total, grant.currency), amount=money(grant.amount, grant.currency)),
                       code="budget_differs")


def agreement_context(grant: Grant, lang: str) -> dict:
    check_agreement(grant)
    org = grant.organisation
    application = grant.application
    by_category: dict[str, Decimal] = {}
    for line in grant.budget_lines:
        by_category[line.category] = by_category.get(line.category, Decimal("0.00")) + line.amount
    interim, final = grant.report(INTERIM), grant.report(FINAL)
    return {
        "lang": lang,
        "number": grant.number,
        "organisation": {"name": org.name, "acronym": org.acronym or "", "country": country_name(org.country, lang),
                         "address": org.address or "", "registration_number": org.registration_number or "",
                         "contact": org.contact_name or "", "email": org.contact_email or ""},
        "title": grant.title,
        "summary": application.summary or "",
        "countries": ", ".join(country_name(c, lang) for c in (application.countries or [])),
        "start_date": grant.start_date, "end_date": grant.end_date,
        "amount": money(grant.amount, grant.currency),
        "budget": [{"category": str(BUDGET_CATEGORIES.get(c, c)), "amount": money(a, grant.currency),
                    "share": percent(a * 100 / grant.budget_total, 1)
                    if grant.budget_total else ""} for c, a in by_category.items()],
        "budget_total": money(grant.budget_total, grant.currency),
        "tranches": [{"number": t.number, "amount": money(t.amount, grant.currency),
                      "share": percent(t.amount * 100 / grant.amount, 2),
                      "condition": str(CONDITION_LABELS[t.condition]), "expected_on": t.expected_on}
                     for t in grant.tranches],
        "reports": [{"kind": _("Interim report"), "period_start": interim.period_start,
                     "period_end": interim.period_end, "due_on": interim.due_on},
                    {"kind": _("Final report"), "period_start": final.period_start, "period_end": final.period_end,
                     "due_on": final.due_on}],
        "final_days": FINAL_REPORT_DAYS,
        "conditions": standard_conditions(),
    }


def render_agreement(grant: Grant, lang: str) -> bytes:
    """The agreement PDF in ``lang`` (call inside ``force_locale(lang)``)."""
    return render_pdf("grants/pdf/grant_agreement.html", agreement_context(grant, lang))
