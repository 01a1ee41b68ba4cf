"""The rules of grantee reports: results that agree across breakdowns, expenditure explained where it strays
from the budget, and what a report needs before it can be submitted.

A draft is saved as typed: only what cannot be stored at all is refused on saving (:func:`check_categories`,
:func:`check_lines`). Breakdowns that disagree and unexplained lines are the rules of *submission*
(:func:`rule_problems`): the portal and the API show them as warnings on the saved draft, and the "submit"
transition refuses them (with :func:`missing`, what is still empty).

Results are aggregate counts of victims assisted during the reporting period, in four breakdowns: sex x age
band (:data:`fund.grant_directory.SEXES` x :data:`fund.grant_directory.AGE_BANDS`), main form of exploitation,
main type of assistance received and country. Each breakdown may carry "not recorded"; every breakdown must add up
to the same total, so the figures can be trusted side by side. Nothing identifies a person.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from fund.db import db
from fund.errors import FundError
from fund.i18n import translate as _
from fund.vocabulary import AGE_BAND_LABELS as AGE_LABELS  # noqa: F401 (the cells' labels, for transparency.views)
from fund.vocabulary import (
    AGE_BANDS,
    SEX_LABELS,  # noqa: F401
    SEXES,
)
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


def check_categories(results: dict[str, dict[str, int]]) -> None:
    """Refuse what cannot be stored at all: unknown breakdowns or categories, counts that are not whole numbers
    of zero or more. Raises FundError (422) naming the breakdown; nothing has been written by then."""
    for breakdown, cells in results.items():
        if breakdown not in BREAKDOWN_LABELS:
            raise FundError(_("Unknown breakdown: %(what)s.", what=breakdown),
                            fields={"results": {breakdown: [_("Unknown breakdown.")]}})
        unknown = sorted(set(cells) - allowed_keys(breakdown))
        if unknown:
            raise FundError(_("Unknown categories in %(what)s: %(keys)s.", what=BREAKDOWN_LABELS[breakdown],
                              keys=", ".join(unknown)),
                            fields={"results": {breakdown: [_("Unknown categories: %(keys)s.",
                                                              keys=", ".join(unknown))]}})
        if any((not isinstance(n, int)) or isinstance(n, bool) or n < 0 for n in cells.values()):
            raise FundError(_("Counts are whole numbers of zero or more."),
                            fields={"results": {breakdown: [_("Counts are whole numbers of zero or more.")]}})


def results_problems(results: dict[str, dict[str, int]]) -> dict[str, list[str]]:
    """What keeps the results from being submitted, per breakdown: a breakdown not given, or one that does not
    add up to the total by sex and age. Empty when every breakdown agrees. A draft is saved with these problems
    (shown as warnings); the submission refuses them."""
    problems: dict[str, list[str]] = {}
    for b in (SEX_AGE, BY_FORM, BY_ASSISTANCE, BY_COUNTRY):
        if b not in results:
            problems[b] = [_("Give this breakdown (use \"not recorded\" where needed).")]
    total = sum(results.get(SEX_AGE, {}).values())
    for breakdown in (BY_FORM, BY_ASSISTANCE, BY_COUNTRY):
        if breakdown not in results:
            continue
        subtotal = sum(results[breakdown].values())
        if subtotal != total:
            problems[breakdown] = [_(
                "The totals disagree: %(what)s add up to %(sub)d, but victims by sex and age add up to %(total)d. "
                "Every breakdown must count the same victims (use \"not recorded\" where needed).",
                what=BREAKDOWN_LABELS[breakdown], sub=subtotal, total=total)]
    return problems


def stored_results(report: GrantReport) -> dict[str, dict[str, int]] | None:
    """The results kept with a report, every breakdown present (None when no results were given)."""
    if report.total_assisted is None:
        return None
    return {b: report.breakdown(b) for b in (SEX_AGE, BY_FORM, BY_ASSISTANCE, BY_COUNTRY)}


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


def check_lines(grant: Grant, lines: list[dict]) -> None:
    """Refuse what cannot be stored: a line that is not of this grant's budget, or a line given twice. Raises
    FundError (422) with per-line field messages (keyed by the line's position in ``lines``)."""
    budget = {line.id for line in grant.budget_lines}
    errors: dict = {}
    seen: set[int] = set()
    for i, row in enumerate(lines):
        if row["budget_line_id"] not in budget:
            errors[str(i)] = {"budget_line_id": [_("This is not a line of the grant's budget.")]}
        elif row["budget_line_id"] in seen:
            errors[str(i)] = {"budget_line_id": [_("Each budget line may be reported once.")]}
        seen.add(row["budget_line_id"])
    if errors:
        raise FundError(_("Some lines of the financial report need attention."), fields={"expenditure": errors},
                        code="expenditure_invalid")


def expenditure_problems(grant: Grant, report: GrantReport, lines: list[dict]) -> dict[int, list[str]]:
    """What keeps the financial report from being submitted, per budget line id: expenditure more than 10 %
    away from the budget expected for the period and not explained. Empty when every line is fine."""
    budget = {line.id: line for line in grant.budget_lines}
    problems: dict[int, list[str]] = {}
    for row in lines:
        line = budget.get(row["budget_line_id"])
        if line is None:
            continue
        expected = expected_spending(grant, report, line.amount)
        if needs_explanation(expected, row["spent"]) and not (row.get("explanation") or "").strip():
            problems[line.id] = [_(
                "Explain why the expenditure on “%(line)s” (USD %(spent)s) is more than 10 %% away from the "
                "budget for the period (USD %(expected)s).", line=line.description, spent=row["spent"],
                expected=expected)]
    return problems


def stored_lines(grant: Grant, report: GrantReport) -> list[dict]:
    """The expenditure kept with a report, in the order of the grant's budget (the order of the API's
    ``expenditure_lines``)."""
    kept = {e.budget_line_id: e for e in report.expenses}
    return [{"budget_line_id": line.id, "spent": kept[line.id].spent, "explanation": kept[line.id].explanation}
            for line in grant.budget_lines if line.id in kept]


def rule_problems(grant: Grant, report: GrantReport) -> dict:
    """The rules a saved report breaks, in the shape of the API's error fields: ``{"results": {breakdown:
    [...]}, "expenditure": {"<position in expenditure_lines>": {"explanation": [...]}}}``. Empty when none.
    Saving keeps a report that breaks them (they are warnings); submitting refuses it."""
    found: dict = {}
    results = stored_results(report)
    if results is not None:
        by_breakdown = results_problems(results)
        if by_breakdown:
            found["results"] = by_breakdown
    lines = stored_lines(grant, report)
    by_line = expenditure_problems(grant, report, lines)
    if by_line:
        found["expenditure"] = {str(i): {"explanation": by_line[row["budget_line_id"]]}
                                for i, row in enumerate(lines) if row["budget_line_id"] in by_line}
    return found


def rule_messages(problems: dict) -> list[str]:
    """The messages of :func:`rule_problems`, flat (for the state machine's guard)."""
    out: list[str] = []
    for messages in problems.get("results", {}).values():
        out.extend(messages)
    for row in problems.get("expenditure", {}).values():
        out.extend(row["explanation"])
    return out


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
