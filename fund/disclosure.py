"""Suppression across everything the fund publishes.

:func:`fund.suppression.suppress` protects one table. Published results overlap: the public results table, each
grant's page and its IATI activity show figures of the same people, and a donor statement shows the results of
some grants over a period. A reader may put them side by side and subtract. So they are protected as a set:

- **The public set is one table.** Every public output (results by sex and age, form of exploitation, type of
  assistance and country, each grant's victims assisted on its page and in the IATI file) reads its figures from
  one suppressed table over every grant's accepted reports (the *publication*, laid out by
  :func:`fund.suppression.results_table` and suppressed by :func:`fund.suppression.suppress_results_alone`). A
  public output never shows a figure that is not an entry of that table, so the union of public outputs is that
  table, which the four attacks of :mod:`fund.suppression` do not break.
- **Any other table is suppressed beside the publication.** A statement shows the results of its grants ``S`` for a
  period, a part of the people the publication counts (``W``, every accepted report of every grant). The reader
  who holds both also knows the rest ``R = W - S`` entry by entry. The three layers are laid out as one table:
  ``S`` and ``R`` with their own lines, ``W`` with the publication's choices fixed (what the public already sees
  does not change), and a line ``S + R = W`` per cell, per grant and for the total. Suppressing that table
  withholds entries of ``S`` (and of ``R``, which is never published: treating it as published only gives the
  reader more than they have) until no attack finds a count. The statement then publishes its layer. If nothing
  short of withholding the whole layer works, the statement publishes its total alone when that is safe, or
  nothing ("x").

  This protects each such table together with the public set, one table at a time: two such tables for
  overlapping grants and periods are each safe beside the public figures, not together.
- **Donor statements publish public entries only.** Many statements are issued, for many donors and any periods,
  and a reader may hold several (a donor's own statements for overlapping periods, or those of several donors).
  So a statement shows no table of its own: each of its grants' victims assisted as the public set shows it, the
  public results themselves, and the victims of its grants together only when the public figures already
  determine that sum (:func:`sum_if_published`). The union of every statement and every public output is then the
  public set, whatever the number of statements.

The publication is provided by whoever publishes it (the transparency package registers a provider at start-up:
:func:`register_publication`); with none registered, or for grants the publication does not cover, a table is
suppressed alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from fund.grant_directory import Results
from fund.suppression import (
    SMALL,
    THRESHOLD,
    WITHHELD,
    Line,
    Suppressed,
    SuppressedResults,
    _equations,
    _lp_disclosed,
    _rref_determined,
    as_results,
    propagate_bounds,
    results_table,
    suppress,
    suppress_results_alone,
)


class Publication:
    """The public results: raw per-grant counts and their suppressed table (what every public output shows)."""

    def __init__(self, per_grant: dict[int, Results], threshold: int = THRESHOLD):
        self.per_grant = per_grant
        self.values, self.lines = results_table(per_grant)
        self.results: SuppressedResults = as_results(self.values, suppress(self.values, self.lines, threshold))
        shown = self.results.grants
        #: The grants shown as numbers added up, and those that are not ("<5" or "x"): what
        #: :func:`sum_if_published` needs of the other grants, read once rather than for every statement.
        self.shown_sum = sum(v for v in shown.values() if isinstance(v, int))
        self.hidden_grants = frozenset(g for g, v in shown.items() if not isinstance(v, int))

    @property
    def table(self) -> Suppressed:
        return self.results.table

    def hidden(self) -> tuple[frozenset, frozenset]:
        """(primary, withheld) entries of the publication as the reader sees them."""
        t = self.table
        if t.withdrawn:
            primary = frozenset(k for k in t.primary if k in t.kept)
            return primary, frozenset(k for k in self.values if k not in t.kept) - primary
        return t.primary, t.complementary


_provider: Callable[[], Publication | None] | None = None


def register_publication(provider: Callable[[], Publication | None]) -> None:
    """Name the function that returns the current :class:`Publication` (or None outside an application)."""
    global _provider
    _provider = provider


def publication() -> Publication | None:
    return _provider() if _provider is not None else None


def sum_if_published(grant_ids: Iterable[int], published: Publication | None) -> int | None:
    """The victims of ``grant_ids`` together, when a reader of the public set can already add them up: every one of
    the grants is shown as a number, or every other grant is and so is the total. Otherwise None: a sum over a part
    of the grants with a hidden figure in it is a new equation, which beside other such sums could single a hidden
    figure out."""
    if published is None:
        return None
    shown = published.results.grants
    mine = set(grant_ids)
    if not all(g in shown for g in mine):
        return None
    mine_shown = sum(shown[g] for g in mine if isinstance(shown[g], int))
    if not mine & published.hidden_grants:
        return mine_shown
    total = published.results.total
    if isinstance(total, int) and published.hidden_grants <= mine:
        return total - (published.shown_sum - mine_shown)
    return None


def _covered(part: dict[int, Results], whole: dict[int, Results]) -> bool:
    """Every grant of ``part`` is in ``whole`` with no more people in any cell."""
    for g, r in part.items():
        w = whole.get(g)
        if w is None:
            return False
        for mine, theirs in ((r.by_sex_age, w.by_sex_age), (r.by_form, w.by_form),
                             (r.by_assistance, w.by_assistance), (r.by_country, w.by_country)):
            if any(v > theirs.get(k, 0) for k, v in mine.items()):
                return False
    return True


def _rest(part: dict[int, Results], whole: dict[int, Results]) -> dict[int, Results]:
    rest = {}
    for g, w in whole.items():
        r = part.get(g, Results())
        rest[g] = Results(
            by_sex_age={k: v - r.by_sex_age.get(k, 0) for k, v in w.by_sex_age.items()},
            by_form={k: v - r.by_form.get(k, 0) for k, v in w.by_form.items()},
            by_assistance={k: v - r.by_assistance.get(k, 0) for k, v in w.by_assistance.items()},
            by_country={k: v - r.by_country.get(k, 0) for k, v in w.by_country.items()},
        )
    return rest


CELLS = ("grant", "total", "sex_age", "form", "assistance", "country")


def layered_table(part: dict[int, Results], published: Publication) -> tuple[dict, list[Line], dict, list[Line]]:
    """The three layers ("S" the part, "R" the rest, "W" the publication) as one table: (values, lines) and the
    part's own (values, lines)."""
    s_values, s_lines = results_table(part)
    r_values, r_lines = results_table(_rest(part, published.per_grant), keep_zeros=True)
    values: dict = {}
    lines: list[Line] = []
    for layer, (v, ls) in (("S", (s_values, s_lines)), ("R", (r_values, r_lines)),
                           ("W", (published.values, published.lines))):
        values.update({(layer, *k): n for k, n in v.items()})
        lines += [Line(tuple((layer, *m) for m in line.members), (layer, *line.total)) for line in ls]
    for key in published.values:
        if key[0] not in CELLS:
            continue
        members = tuple((layer, *key) for layer, v in (("S", s_values), ("R", r_values)) if key in v)
        lines.append(Line(members, ("W", *key)))
    return values, lines, s_values, s_lines


def suppress_results(part: dict[int, Results], threshold: int = THRESHOLD) -> SuppressedResults:
    """The results of ``part`` as :func:`fund.suppression.suppress_results_alone` lays them out, suppressed together
    with the publication (see the module's docstring), so that combining this table with the tables the fund
    publishes gives no small count away."""
    published = publication()
    if published is None or not part or not _covered(part, published.per_grant):
        return suppress_results_alone(part, threshold)
    values, lines, s_values, _s_lines = layered_table(part, published)
    w_primary, w_withheld = published.hidden()
    fixed = {("W", *k) for k in published.values}
    joint = suppress(values, lines, threshold, withheld={("W", *k) for k in w_withheld}, fixed=fixed,
                     small_only=True)
    primary = frozenset(k[1:] for k in joint.primary if k[0] == "S")
    if not joint.withdrawn:
        withheld = frozenset(k[1:] for k in joint.complementary if k[0] == "S")
        return as_results(s_values, Suppressed(s_values, primary, withheld))
    # Nothing but the whole layer: its total alone if the union stays safe, otherwise nothing.
    total = ("S", "total")
    shown = {("W", *k): published.table.shown(k) for k in published.values}
    shown[total] = SMALL if 0 < values[total] < threshold else values[total]
    loose = {("W", *k) for k in published.values} if published.table.withdrawn else set()
    found = found_out(values, lines, reader_bounds(values, shown, loose, threshold), sensitive(values, threshold))
    kept = frozenset() if found else frozenset({("total",)})
    return as_results(s_values, Suppressed(s_values, primary, frozenset(), withdrawn=True, kept=kept))


# What a reader of several tables can work out --------------------------------------------------------------------


def sensitive(values: dict, threshold: int = THRESHOLD) -> set:
    """The entries that must never be worked out: counts from 1 to 4."""
    return {k for k, v in values.items() if 0 < v < threshold}


def reader_bounds(values: dict, shown: dict, loose: Iterable = (), threshold: int = THRESHOLD) -> dict:
    """What a reader knows of each entry not shown as a number: "<5" is 1 to 4, "x" is at least 5 (zeros are never
    withheld) unless its table was withdrawn (``loose``: "x" may then be anything), and an entry not published at
    all (absent from ``shown``) is any count."""
    loose = set(loose)
    bounds = {}
    for key in values:
        if key not in shown:
            bounds[key] = (0, None)
        elif shown[key] == SMALL:
            bounds[key] = (1, threshold - 1)
        elif shown[key] == WITHHELD:
            bounds[key] = (0, None) if key in loose else (threshold, None)
    return bounds


def found_out(values: dict, lines: list[Line], bounds: dict, secret: set) -> set:
    """The entries of ``secret`` that a reader who knows the published entries (those without ``bounds``), the
    lines and ``bounds`` can work out: the four attacks of :mod:`fund.suppression` (subtraction, exact linear
    algebra, bounds, linear programming) with the reader's own bounds."""
    hidden = set(bounds)
    found = set()
    for line in lines:
        inside = {*line.members, line.total} & hidden
        if len(inside) == 1:
            found |= inside
    equations = _equations(values, lines, hidden)
    found |= _rref_determined(sorted(hidden, key=repr), [c for c, _k in equations])
    tightened = propagate_bounds(equations, bounds)
    found |= {k for k, (lo, hi) in tightened.items() if hi is not None and lo == hi}
    found &= secret
    if not found:
        found |= _lp_disclosed(values, equations, tightened, secret & hidden)
    return found & secret
