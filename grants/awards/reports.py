"""The rules of grantee reports: results that agree across breakdowns, expenditure explained where it strays
from the budget, and what a report needs before it can be submitted.

Results are aggregate counts of victims assisted during the reporting period, in four breakdowns: sex x age
band (:data:`fund.results.SEXES` x :data:`fund.results.AGE_BANDS`), main form of exploitation, main type of
assistance received and country. Each breakdown may carry "not recorded"; every breakdown must add up to the
same total, so the figures can be trusted side by side. Nothing identifies a person.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from fund.db import db
from fund.errors import FundError
from fund.rates import translate as _
from fund.results import AGE_BANDS, SEXES
from grants.awards.models import (
    BY_ASSISTANCE,
    BY_COUNTRY,
    BY_FORM,
    NOT_RECORDED,
    SEX_AGE,
    Grant,
    GrantBudgetLine,
    GrantReport,
    ReportExpense,
)
from grants.taxonomies import ASSISTANCE_TYPES, FORMS_OF_EXPLOITATION, country_codes

#: The tolerance beyond which a budget line's expenditure must be explained (a fraction of its budget).
VARIANCE_LIMIT = Decimal("0.10")
NARRATIVE_FIELDS = ("activities", "results_narrative", "challenges", "lessons", "consultation")

BREAKDOWN_LABELS = {
    SEX_AGE: _l("victims by sex and age"),
    BY_FORM: _l("victims by form of exploitation"),
    BY_ASSISTANCE: _l("victims by type of assistance received"),
    BY_COUNTRY: _l("victims by country"),
}
SEX_LABELS = {"female": _l("Female"), "male": _l("Male"), "other_or_not_recorded": _l("Other or not recorded")}
AGE_LABELS = {"0-11": "0–11", "12-17": "12–17", "18-24": "18–24", "25-59": "25–59", "60+": "60+",
              "not_recorded": _l("Age not recorded")}
NARRATIVE_LABELS = {
    "activities": _l("Activities carried out"),
    "results_narrative": _l("Results achieved"),
    "challenges": _l("Challenges"),
    "lessons": _l("Lessons learned"),
    "consultation": _l("How victims were consulted"),
}


def cell_key(sex: str, age_band: str) -> str:
    return f"{sex}|{age_band}"


def split_cell(key: str) -> tuple[str, str]:
    sex, _sep, band = key.partition("|")
    return sex, band


def allowed_keys(breakdown: str) -> frozenset[str]:
    if breakdown == SEX_AGE:
        return frozenset(cell_key(s, a) for s in SEXES for a in AGE_BANDS)
    if breakdown == BY_FORM:
        return frozenset(FORMS_OF_EXPLOITATION) | {NOT_RECORDED}
    if breakdown == BY_ASSISTANCE:
        return frozenset(ASSISTANCE_TYPES) | {NOT_RECORDED}
    return country_codes() | {NOT_RECORDED}


def check_results(results: dict[str, dict[str, int]]) -> int:
    """Check that every breakdown adds up to the total by sex and age; return that total. Raises FundError (422)
    naming the breakdown (and its field) that disagrees; nothing has been written by then."""
    missing = [b for b in (SEX_AGE, BY_FORM, BY_ASSISTANCE, BY_COUNTRY) if b not in results]
    if missing:
        fields = {"results": {b: [_("Give this breakdown (use \"not recorded\" where needed).")] for b in missing}}
        raise FundError(_("Give all four breakdowns of the results."), fields=fields, code="results_incomplete")
    for breakdown, cells in results.items():
        unknown = sorted(set(cells) - allowed_keys(breakdown))
        if unknown:
            raise FundError(_("Unknown categories in %(what)s: %(keys)s.", what=BREAKDOWN_LABELS[breakdown],
                              keys=", ".join(unknown)),
                            fields={"results": {breakdown: [_("Unknown categories: %(keys)s.",
                                                              keys=", ".join(unknown))]}})
        if any((not isinstance(n, int)) or isinstance(n, bool) or n < 0 for n in cells.values()):
            raise FundError(_("Counts are whole numbers of zero or more."),
                            fields={"results": {breakdown: [_("Counts are whole numbers of zero or more.")]}})
    total = sum(results[SEX_AGE].values())
    for breakdown in (BY_FORM, BY_ASSISTANCE, BY_COUNTRY):
        subtotal = sum(results[breakdown].values())
        if subtotal != total:
            message = _("The totals disagree: %(what)s add up to %(sub)d, but victims by sex and age add up to "
                        "%(total)d. Every breakdown must count the same victims (use \"not recorded\" where "
                        "needed).", what=BREAKDOWN_LABELS[breakdown], sub=subtotal, total=total)
            raise FundError(message, fields={"results": {breakdown: [message]}}, code="totals_disagree")
    return total


def budget_share(grant: Grant, period_end: dt.date) -> Decimal:
    """The share of the grant's duration elapsed at the end of a reporting period (1 for the final report)."""
    total = (grant.end_date - grant.start_date).days + 1
    elapsed = min(max((period_end - grant.start_date).days + 1, 0), total)
    return Decimal(elapsed) / Decimal(total)


def expected_spending(grant: Grant, report: GrantReport, budget: Decimal) -> Decimal:
    """What a budget line should have spent by the end of the report's period: the approved budget, pro rata
    to the time elapsed (the whole budget at the final report)."""
    return (budget * budget_share(grant, report.period_end)).quantize(Decimal("0.01"))


def needs_explanation(expected: Decimal, spent: Decimal) -> bool:
    """More than 10 % away from what the budget expected (any spending on a line budgeted at zero)."""
    if expected == 0:
        return spent != 0
    return abs(spent - expected) > expected * VARIANCE_LIMIT


def check_expenditure(grant: Grant, report: GrantReport, lines: list[dict]) -> Decimal:
    """Check the financial report: lines of this grant's budget, each once, with an explanation wherever a line
    is more than 10 % off; return the total spent. Raises FundError (422) with per-line field messages."""
    budget = {line.id: line for line in grant.budget_lines}
    errors: dict = {}
    seen: set[int] = set()
    for i, row in enumerate(lines):
        line = budget.get(row["budget_line_id"])
        if line is None:
            errors[str(i)] = {"budget_line_id": [_("This is not a line of the grant's budget.")]}
            continue
        if line.id in seen:
            errors[str(i)] = {"budget_line_id": [_("Each budget line may be reported once.")]}
            continue
        seen.add(line.id)
        expected = expected_spending(grant, report, line.amount)
        if needs_explanation(expected, row["spent"]) and not (row.get("explanation") or "").strip():
            errors[str(i)] = {"explanation": [_(
                "Explain why the expenditure on “%(line)s” (USD %(spent)s) is more than 10 %% away from the "
                "budget for the period (USD %(expected)s).", line=line.description, spent=row["spent"],
                expected=expected)]}
    if errors:
        raise FundError(_("Some lines of the financial report need attention."), fields={"expenditure": errors},
                        code="expenditure_invalid")
    return sum((row["spent"] for row in lines), Decimal("0.00"))


def missing(report: GrantReport) -> list[str]:
    """What the report still lacks before it can be submitted (empty when complete)."""
    found = []
    for name in NARRATIVE_FIELDS:
        if not (getattr(report, name) or "").strip():
            found.append(_("Narrative: “%(part)s” is empty.", part=str(NARRATIVE_LABELS[name])))
    if report.total_assisted is None:
        found.append(_("Give the results: victims assisted in each breakdown."))
    lines = set(db.session.execute(select(GrantBudgetLine.id).where(
        GrantBudgetLine.grant_id == report.grant_id)).scalars())
    reported = set(db.session.execute(select(ReportExpense.budget_line_id).where(
        ReportExpense.report_id == report.id)).scalars())
    if lines - reported:
        found.append(_("Financial report: give the expenditure of every budget line (%(n)d missing).",
                       n=len(lines - reported)))
    return found
