"""Report bodies for the tests: results that agree across breakdowns, expenditure per budget line."""

from __future__ import annotations

NARRATIVE = {
    "activities": "Shelter, legal counselling and vocational training for survivors of forced labour.",
    "results_narrative": "Fifteen survivors were assisted; nine found work.",
    "challenges": "Referrals from the labour inspectorate were slow in the rainy season.",
    "lessons": "Peer support groups kept survivors in the programme.",
    "consultation": "Survivors' committee met monthly; anonymous feedback box.",
}

RESULTS = {
    "sex_age": [{"sex": "female", "age_band": "18-24", "count": 9},
                {"sex": "male", "age_band": "25-59", "count": 4},
                {"sex": "other_or_not_recorded", "age_band": "not_recorded", "count": 2}],
    "form": {"forced_labour": 12, "not_recorded": 3},
    "assistance": {"shelter": 10, "legal_counselling": 5},
    "country": {"SN": 15},
}


def expenditure(grant: dict, shares: dict[str, str] | None = None, explanations: dict[str, str] | None = None):
    """Spent per budget line of ``grant`` (the API's grant JSON): ``shares`` maps a category to the amount spent
    (default: the whole line)."""
    shares, explanations = shares or {}, explanations or {}
    return [{"budget_line_id": b["id"], "spent": shares.get(b["category"], b["amount"]),
             "explanation": explanations.get(b["category"])} for b in grant["budget_lines"]]


def report_body(kind: str, grant: dict, **kw) -> dict:
    return {"kind": kind, **NARRATIVE, "results": RESULTS, "expenditure": expenditure(grant, **kw)}
