"""The ranking of a call, checked against a worked example: three weighted criteria, three reviewers, four
applications. Also the table's sorting and filtering through the query string, and the CSV export."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from sqlalchemy import select

from fund.db import db
from fund.models import Role, User
from grants.review.ranking import mean
from tests.grants import factories as f
from tests.grants.review import factories as rf

CRITERIA = [{"name_en": "Relevance", "name_fr": "Pertinence", "weight": 50},
            {"name_en": "Feasibility", "name_fr": "Faisabilité", "weight": 30},
            {"name_en": "Value for money", "name_fr": "Rapport coût-efficacité", "weight": 20}]

# Scores (relevance, feasibility, value for money) of reviewers R1, R2, R3.
# Weighted score of a review = (relevance x 50 + feasibility x 30 + value x 20) / 100.
EXAMPLE = {
    # Alpha: R1 (5,4,3) = (250+120+60)/100 = 4.30; R2 (4,4,4) = 4.00; R3 (3,5,4) = (150+150+80)/100 = 3.80.
    #        Mean = 12.10 / 3 = 4.0333... -> 4.03. Relevance 5 vs 3: reviewers disagree.
    "Alpha Aid": [(5, 4, 3), (4, 4, 4), (3, 5, 4)],
    # Bravo: R1 (4,4,4) = 4.00; R2 (4,5,4) = (200+150+80)/100 = 4.30; R3 (5,4,4) = (250+120+80)/100 = 4.50.
    #        Mean = 12.80 / 3 = 4.2666... -> 4.27. At most 1 point apart: no disagreement.
    "Bravo Relief": [(4, 4, 4), (4, 5, 4), (5, 4, 4)],
    # Charlie: R1 (3,3,2) = (150+90+40)/100 = 2.80; R2 (2,3,3) = (100+90+60)/100 = 2.50;
    #          R3 (3,2,3) = (150+60+60)/100 = 2.70. Mean = 8.00 / 3 = 2.6666... -> 2.67.
    "Charlie Care": [(3, 3, 2), (2, 3, 3), (3, 2, 3)],
    # Delta: R1 (4,4,4) = 4.00; R2 (3,5,4) = 3.80; R3 (5,4,3) = 4.30. Mean 12.10 / 3 -> 4.03, the same as Alpha:
    #        they share rank 2 (Alpha first by reference) and Charlie is 4th. Relevance 4, 3, 5: disagreement.
    "Delta Shelter": [(4, 4, 4), (3, 5, 4), (5, 4, 3)],
}
EXPECTED = [  # rank, organisation, score, reviewer scores, criterion means, disagreement
    (1, "Bravo Relief", "4.27", ["4.00", "4.30", "4.50"], ["4.33", "4.33", "4.00"], False),
    (2, "Alpha Aid", "4.03", ["4.30", "4.00", "3.80"], ["4.00", "4.33", "3.67"], True),
    (2, "Delta Shelter", "4.03", ["4.00", "3.80", "4.30"], ["4.00", "4.33", "3.67"], True),
    (4, "Charlie Care", "2.67", ["2.80", "2.50", "2.70"], ["2.67", "2.67", "2.67"], False),
]


@pytest.fixture
def ranked(app, within, make_user):
    reviewers = [make_user("reviewer", name=f"Reviewer R{i}") for i in (1, 2, 3)]

    def build():
        call = f.make_call(criteria=CRITERIA, title_en="Worked example")
        for name, scores in EXAMPLE.items():  # submitted in this order: references ...-0001 to ...-0004
            rf.under_review(call=call, reviewers=reviewers, scores=[list(s) for s in scores], name=name)
        rf.submitted(call=call, name="Echo Late")  # not reviewed: not in the ranking
        return call.id

    return within(build)


def test_the_ranking_matches_the_worked_example(api_as, ranked):
    resp = api_as("fund_manager").get(f"/api/v1/calls/{ranked}/ranking")
    assert resp.status_code == 200, resp.json
    rows = resp.json["items"]
    got = [(r["rank"], r["organisation"], r["score"], r["reviewer_scores"], [c["mean"] for c in r["criteria"]],
            r["disagreement"]) for r in rows]
    assert got == EXPECTED
    alpha = rows[1]
    assert [(c["low"], c["high"], c["disagreement"]) for c in alpha["criteria"]] == [
        (3, 5, True), (4, 5, False), (3, 4, False)]
    assert [c["weight"] for c in alpha["criteria"]] == [50, 30, 20]
    assert resp.json["meta"]["total"] == 4


def test_means_round_half_up_once():
    assert mean([Decimal("4.13"), Decimal("4.00")]) == Decimal("4.07")  # 4.065: half up, not to even
    assert mean([Decimal("4.30"), Decimal("4.00"), Decimal("3.80")]) == Decimal("4.03")
    assert mean([]) is None


def test_the_table_sorts_and_filters_without_javascript(app, login_as, ranked):
    fm = login_as("fund_manager")
    base = f"/grants/selection/calls/{ranked}/ranking"

    def order(query=""):
        html = fm.get(base + query).get_data(as_text=True)
        return [name for _pos, name in sorted((html.find(n), n) for n in EXAMPLE if html.find(n) >= 0)]

    assert order() == ["Bravo Relief", "Alpha Aid", "Delta Shelter", "Charlie Care"]
    assert order("?sort=score&direction=asc") == ["Charlie Care", "Delta Shelter", "Alpha Aid", "Bravo Relief"]
    assert order("?sort=organisation") == ["Alpha Aid", "Bravo Relief", "Charlie Care", "Delta Shelter"]
    assert order("?disagreement=true") == ["Alpha Aid", "Delta Shelter"]
    assert order("?min_score=4.1") == ["Bravo Relief"]
    assert order("?q=delta") == ["Delta Shelter"]
    assert order("?sort=nonsense&min_score=abc") == ["Bravo Relief", "Alpha Aid", "Delta Shelter", "Charlie Care"]
    html = fm.get(base).get_data(as_text=True)
    assert "reviewers disagree (scores 3 to 5)" in html
    # Reviewers are not named in the ranking (a name with a space: a random token of the page cannot hold it).
    with app.app_context():
        people = db.session.execute(select(User.name, User.email).join(User.roles).where(Role.name == "reviewer")).all()
    assert len(people) == 3
    for name, email in people:
        assert name not in html and email not in html


def test_the_ranking_exports_as_csv(login_as, ranked):
    resp = login_as("auditor").get(f"/grants/selection/calls/{ranked}/ranking.csv?disagreement=true")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert [(r["rank"], r["organisation"], r["score"], r["disagreement"]) for r in rows] == [
        ("2", "Alpha Aid", "4.03", "yes"), ("2", "Delta Shelter", "4.03", "yes")]
    assert rows[0]["criterion_1_mean (50%)"] == "4.00" and rows[0]["requested_amount"] == "38500.00"


def test_a_formula_in_an_organisation_name_is_not_run_by_a_spreadsheet(login_as, within, make_user):
    reviewers = [make_user("reviewer"), make_user("reviewer")]
    call_id = within(lambda: rf.under_review(reviewers=reviewers, scores=[[3, 3], [4, 4]],
                                             name="=HYPERLINK(\"http://x\")").call_id)
    text = login_as("fund_manager").get(f"/grants/selection/calls/{call_id}/ranking.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
