"""Weighted scores and the ranking of a call's applications.

Each reviewer scores every criterion of the call from 1 to 5. A review's weighted score is
``sum(score x weight) / 100``: the weights are whole numbers adding up to 100, so it is exact with two decimals
(between 1.00 and 5.00). An application's score is the mean of the weighted scores of its *submitted* reviews,
rounded once to two decimals, half up (``fund.money`` rounding). Criterion means are rounded the same way.
Reviewers disagree on a criterion when their scores differ by 2 or more. Ranks are "1, 2, 2, 4": equal scores
share a rank; applications without a submitted review come last, unranked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import joinedload, lazyload

from fund.db import db
from grants.models import Application, Call, Criterion
from grants.review.models import COI_CONFLICT, Review

TWO_PLACES = Decimal("0.01")
DISAGREEMENT = 2
#: Application states in which reviews count (from the start of the review to the Board's decision).
REVIEWED_STATES = ("under_review", "recommended", "not_recommended", "reserve", "approved", "rejected")


def mean(values: list[Decimal] | list[int]) -> Decimal | None:
    if not values:
        return None
    return (Decimal(sum(values)) / Decimal(len(values))).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def weighted_score(review: Review, criteria: list[Criterion]) -> Decimal | None:
    """sum(score x weight) / 100, or None while a criterion has no score."""
    total = 0
    for c in criteria:
        s = review.score_for(c.id)
        if s is None or s.score is None:
            return None
        total += s.score * c.weight
    return (Decimal(total) / Decimal(100)).quantize(TWO_PLACES)


@dataclass
class CriterionRow:
    criterion_id: int
    name_en: str
    name_fr: str
    weight: int
    scores: list[int]
    mean: Decimal | None
    low: int | None
    high: int | None

    @property
    def disagreement(self) -> bool:
        return self.low is not None and self.high - self.low >= DISAGREEMENT


@dataclass
class RankRow:
    application: Application
    reviewer_scores: list[Decimal]
    criteria: list[CriterionRow]
    assigned: int
    recused: int
    submitted: int
    score: Decimal | None = None
    rank: int | None = None
    disagreements: list[int] = field(default_factory=list)

    @property
    def disagreement(self) -> bool:
        return bool(self.disagreements)


def rows_for(applications: list[Application], criteria: list[Criterion]) -> list[RankRow]:
    ids = [a.id for a in applications]
    reviews: dict[int, list[Review]] = {i: [] for i in ids}
    if ids:
        # The scores in the same statement; the application (already at hand) and the reviewer are not read.
        for r in db.session.execute(select(Review).where(Review.application_id.in_(ids))
                                    .options(joinedload(Review.scores), lazyload(Review.application),
                                             lazyload(Review.reviewer))
                                    .order_by(Review.id)).unique().scalars():
            reviews[r.application_id].append(r)
    rows = []
    for a in applications:
        done = [r for r in reviews[a.id] if r.submitted]
        per_criterion = []
        for c in criteria:
            scores = [s.score for r in done if (s := r.score_for(c.id)) is not None and s.score is not None]
            per_criterion.append(CriterionRow(c.id, c.name_en, c.name_fr, c.weight, scores, mean(scores),
                                              min(scores) if scores else None, max(scores) if scores else None))
        weighted = [w for r in done if (w := weighted_score(r, criteria)) is not None]
        row = RankRow(a, weighted, per_criterion, assigned=len(reviews[a.id]),
                      recused=sum(1 for r in reviews[a.id] if r.coi == COI_CONFLICT), submitted=len(done),
                      score=mean(weighted))
        row.disagreements = [c.criterion_id for c in per_criterion if c.disagreement]
        rows.append(row)
    return rows


def rank(rows: list[RankRow]) -> list[RankRow]:
    """Order by score (highest first, then reference) and number the ranks, ties sharing one."""
    scored = sorted((r for r in rows if r.score is not None),
                    key=lambda r: (-r.score, r.application.reference or "", r.application.id))
    previous, position = None, 0
    for i, r in enumerate(scored, start=1):
        if r.score != previous:
            position, previous = i, r.score
        r.rank = position
    unscored = sorted((r for r in rows if r.score is None), key=lambda r: (r.application.reference or "",
                                                                           r.application.id))
    return scored + unscored


def call_ranking(call: Call) -> list[RankRow]:
    """The ranking of a call: every application that reached the review, best first."""
    # A ranking row needs the application's own columns and its organisation (joined), not its budget,
    # beneficiaries or documents.
    applications = db.session.execute(
        select(Application).where(Application.call_id == call.id, Application.status.in_(REVIEWED_STATES))
        .options(lazyload(Application.budget_lines), lazyload(Application.beneficiaries),
                 lazyload(Application.documents), lazyload(Application.call))
    ).scalars().all()
    return rank(rows_for(list(applications), list(call.criteria)))


def application_score(application: Application) -> Decimal | None:
    return rows_for([application], list(application.call.criteria))[0].score


SORT_KEYS = {
    "rank": None,
    "score": None,
    "reference": lambda r: r.application.reference or "",
    "organisation": lambda r: r.application.organisation.name.casefold(),
    "requested": lambda r: r.application.requested_amount,
    "status": lambda r: r.application.status,
    "reviews": lambda r: r.submitted,
}


def filter_and_sort(rows: list[RankRow], *, status: str | None = None, disagreement: bool = False,
                    min_score: Decimal | None = None, q: str | None = None, sort: str = "rank",
                    direction: str = "asc") -> list[RankRow]:
    """The ranking table's query parameters, applied in Python to the ranked rows (ranks are kept)."""
    out = rows
    if status:
        out = [r for r in out if r.application.status == status]
    if disagreement:
        out = [r for r in out if r.disagreement]
    if min_score is not None:
        out = [r for r in out if r.score is not None and r.score >= min_score]
    if q:
        needle = q.casefold()
        out = [r for r in out if needle in (r.application.reference or "").casefold()
               or needle in r.application.organisation.name.casefold()
               or needle in (r.application.project_title or "").casefold()]
    if sort not in SORT_KEYS or sort in ("rank", "score"):
        # The rows arrive best first; unscored rows stay last whichever the direction.
        best_first = (sort != "score") == (direction != "desc")
        scored = [r for r in out if r.score is not None]
        return (scored if best_first else scored[::-1]) + [r for r in out if r.score is None]
    return sorted(out, key=SORT_KEYS[sort], reverse=direction == "desc")
