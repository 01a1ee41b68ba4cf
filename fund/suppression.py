"""What grants achieved, as the rest of the service sees it.

Donor statements and public outputs need facts that belong to the grants package (grant numbers, where
grants work, their funding window, the victims assisted as reported in accepted grantee reports), but
``donors`` never imports ``grants``. The grants package registers a :class:`GrantDirectory` here at start-up;
readers call :func:`directory`. Everything crossing this boundary is plain data: aggregate counts only, never a
person.

Before any count is shown to a donor or the public it goes through small-cell suppression: :func:`suppress` for
any table of counts with totals, :func:`suppress_results_alone` for the results of a set of grants (and
:func:`fund.disclosure.suppress_results` for them beside what the fund publishes; the method is described where
they are defined).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from fund.grant_directory import Results
from fund.vocabulary import AGE_BANDS, SEXES

# Small-cell suppression -----------------------------------------------------------------------------------------
#
# Donor and public outputs never show a count from 1 to 4: it shows as "<5" (primary suppression). A table with
# totals could give such a count away (total 23, the other cell 20: the hidden one is 3), so more entries are
# withheld, shown as "x" (complementary suppression), until no hidden value can be worked out.
#
# The method. A table is a set of entries (cells and totals) and of additive lines: "these members add up to that
# total" (rows, columns, margins, and every breakdown of the same people sharing one grand total). Starting from
# the primary cells, :func:`suppress` repeats until none of these attacks succeeds, each time withholding one more
# entry, the smallest non-zero shown entry of a line concerned (a cell before a total; ties in the order given).
# The attacks, cheapest first (:func:`disclosed`):
#
# 1. a line with exactly one hidden entry gives it away by subtraction;
# 2. exact linear algebra: the published entries and all the lines, solved together (Gauss-Jordan elimination
#    over the rationals), determine a hidden entry;
# 3. bounds: a reader who knows the method knows that "<5" is 1 to 4 and that a withheld non-zero entry is at
#    least 5 (every count from 1 to 4 is already primary); propagating these bounds through the lines pins a
#    hidden entry to one value (e.g. "<5" + "x" = 6 gives away 1 and 5);
# 4. linear programming, for what bounds through single lines miss: the smallest and largest value each "<5" can
#    take over all tables that agree with what is published must differ by at least 1 (see below).
#
# Zeros are shown (there is nobody to protect) and never withheld: a reader who sees "x" then knows it is 5 or
# more, which the bounds attack assumes. The search for an entry to withhold looks first in the lines of every
# entry found exposed, then in the whole table. When every non-zero entry is hidden and a count can still be
# worked out (four people, each in a different cell, with a total of "<5": each cell must be 1), the table is
# withdrawn: only its grand total is published. The result is deterministic, so the same figures are
# suppressed the same way in the portal, the statement and its CSV and JSON. It protects one table at a time: a
# reader comparing outputs for overlapping periods or groups of grants is not modelled.

THRESHOLD = 5
SMALL = "<5"
WITHHELD = "x"


@dataclass(frozen=True)
class Line:
    """``members`` add up to ``total`` (keys of the table's entries)."""

    members: tuple
    total: object


@dataclass
class Suppressed:
    """The outcome of :func:`suppress`: the true values, and which entries are hidden and why."""

    values: dict
    primary: frozenset
    complementary: frozenset
    #: The table could not be protected: only ``kept`` (its grand total) is published, everything else is "x".
    withdrawn: bool = False
    kept: frozenset = frozenset()

    def shown(self, key) -> int | str:
        """The entry as published: its count, "<5" (primary) or "x" (withheld)."""
        if self.withdrawn:
            if key not in self.kept:
                return WITHHELD
            return SMALL if key in self.primary else self.values[key]
        if key in self.primary:
            return SMALL
        if key in self.complementary:
            return WITHHELD
        return self.values[key]

    @property
    def hidden(self) -> frozenset:
        return self.primary | self.complementary

    def published(self) -> dict:
        return {key: self.shown(key) for key in self.values}


def _rref_determined(unknowns: list, rows: list[dict]) -> set:
    """The unknowns fixed by the linear system ``rows`` (each {unknown: coefficient}): those whose unit vector
    lies in the row space, i.e. a row of the reduced row echelon form has that single non-zero entry."""
    index = {u: i for i, u in enumerate(unknowns)}
    matrix = []
    for row in rows:
        vector = [Fraction(0)] * len(unknowns)
        for unknown, coefficient in row.items():
            vector[index[unknown]] += coefficient
        if any(vector):
            matrix.append(vector)
    pivot_row = 0
    for col in range(len(unknowns)):
        pivot = next((r for r in range(pivot_row, len(matrix)) if matrix[r][col] != 0), None)
        if pivot is None:
            continue
        matrix[pivot_row], matrix[pivot] = matrix[pivot], matrix[pivot_row]
        lead = matrix[pivot_row][col]
        matrix[pivot_row] = [v / lead for v in matrix[pivot_row]]
        for r in range(len(matrix)):
            if r != pivot_row and matrix[r][col] != 0:
                factor = matrix[r][col]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[pivot_row], strict=True)]
        pivot_row += 1
        if pivot_row == len(matrix):
            break
    determined = set()
    for row in matrix[:pivot_row]:
        nonzero = [i for i, v in enumerate(row) if v != 0]
        if len(nonzero) == 1:
            determined.add(unknowns[nonzero[0]])
    return determined


def _equations(values: dict, lines: list[Line], hidden: set) -> list[tuple[dict, int]]:
    """Each line with a hidden entry as {hidden key: +1 member / -1 total} = the constant the reader computes."""
    equations = []
    for line in lines:
        coefficients: dict = {}
        constant = 0
        for key in line.members:
            if key in hidden:
                coefficients[key] = coefficients.get(key, 0) + 1
            else:
                constant -= values[key]
        if line.total in hidden:
            coefficients[line.total] = coefficients.get(line.total, 0) - 1
        else:
            constant += values[line.total]
        coefficients = {k: c for k, c in coefficients.items() if c}
        if coefficients:
            equations.append((coefficients, constant))
    return equations


def reader_bounds(values: dict, primary: set, complementary: set, threshold: int = THRESHOLD) -> dict:
    """What a reader who knows the method knows of each hidden entry before using the totals: [lo, hi], hi None
    for unbounded ("x" is never a zero, so at least the threshold)."""
    bounds = {key: (1, threshold - 1) for key in primary}
    for key in complementary:
        bounds[key] = (threshold, None) if values[key] >= threshold else (0, None)
    return bounds


def propagate_bounds(equations: list[tuple[dict, int]], bounds: dict, rounds: int = 200) -> dict:
    """Tighten the reader's bounds through the equations (interval constraint propagation) until nothing changes.
    Sound: the true values always stay within the bounds returned."""
    bounds = dict(bounds)
    for _round in range(rounds):
        changed = False
        for coefficients, constant in equations:
            for key, a in coefficients.items():
                lo_rest, hi_rest = 0, 0  # bounds of sum(a_j * x_j) over the other unknowns
                for other, b in coefficients.items():
                    if other == key:
                        continue
                    lo, hi = bounds[other]
                    if b > 0:
                        lo_rest += b * lo
                        hi_rest = None if hi_rest is None or hi is None else hi_rest + b * hi
                    else:
                        lo_rest = None if lo_rest is None or hi is None else lo_rest + b * hi
                        hi_rest = hi_rest if hi_rest is None else hi_rest + b * lo
                # a * x = constant - rest
                lo_ax = None if hi_rest is None else constant - hi_rest
                hi_ax = None if lo_rest is None else constant - lo_rest
                if a < 0:
                    lo_ax, hi_ax = (None if hi_ax is None else -hi_ax), (None if lo_ax is None else -lo_ax)
                lo, hi = bounds[key]
                new_lo = lo if lo_ax is None else max(lo, lo_ax)
                new_hi = hi_ax if hi is None else (hi if hi_ax is None else min(hi, hi_ax))
                if (new_lo, new_hi) != (lo, hi):
                    bounds[key] = (new_lo, new_hi)
                    changed = True
        if not changed:
            break
    return bounds


def disclosed(values: dict, lines: list[Line], primary: set, complementary: set,
              threshold: int = THRESHOLD, small_only: bool = False) -> set:
    """Hidden entries that a reader can work out from what is published (the attacks of the method). The last
    attack runs when the others found nothing (``small_only``: no small count)."""
    hidden = set(primary) | set(complementary)
    if not hidden:
        return set()
    found = set()
    for line in lines:
        entries = {*line.members, line.total}
        inside = entries & hidden
        if len(inside) == 1:
            found |= inside
    equations = _equations(values, lines, hidden)
    found |= _rref_determined(sorted(hidden, key=repr), [c for c, _k in equations])
    bounds = propagate_bounds(equations, reader_bounds(values, primary, complementary, threshold))
    found |= {key for key, (lo, hi) in bounds.items() if hi is not None and lo == hi}
    if not (found & set(primary) if small_only else found):
        found |= _lp_disclosed(values, equations, bounds, set(primary))
    return found & set(primary) if small_only else found


# The fourth attack: linear programming. Propagating bounds line by line misses deductions that combine several
# lines (in a table with margins, a withheld row total of at least 5 can pin a "<5" through three other lines).
# For each "<5", the reader's best bounds are the minimum and maximum of that entry over every table that agrees
# with what is published (a linear programme: the lines as equations, "<5" in [1, 4], "x" at least 5); the count
# is safe when they differ by 1 or more (tables of counts with totals have integral optima, so another whole
# count is then possible). Solved exactly (rationals) per group of connected lines by the simplex method with
# Bland's rule, which cannot cycle, only once the cheaper attacks find nothing.


def _pivot(rows: list[list[Fraction]], objective: list[Fraction], basis: list[int], row: int, col: int) -> None:
    pivot = rows[row][col]
    target = [v / pivot for v in rows[row]]
    rows[row] = target
    nonzero = [j for j, v in enumerate(target) if v]
    for other in (*[r for i, r in enumerate(rows) if i != row], objective):
        factor = other[col]
        if factor:
            for j in nonzero:
                other[j] -= factor * target[j]
    basis[row] = col


def _maximise(rows: list[list[Fraction]], objective: list[Fraction], basis: list[int],
              allowed: int) -> Fraction | None:
    """Maximise over a tableau in canonical form (``objective`` holds the reduced costs, its last entry minus the
    value); only the first ``allowed`` columns may enter. Returns the optimum, or None when unbounded."""
    while True:
        entering = next((j for j in range(allowed) if objective[j] > 0), None)
        if entering is None:
            return -objective[-1]
        best = None
        for r, row in enumerate(rows):
            if row[entering] > 0:
                ratio = row[-1] / row[entering]
                if best is None or ratio < best[0] or (ratio == best[0] and basis[r] < basis[best[1]]):
                    best = (ratio, r)
        if best is None:
            return None
        _pivot(rows, objective, basis, best[1], entering)


def _components(equations: list[tuple[dict, int]]) -> list[list[tuple[dict, int]]]:
    parent: dict = {}

    def find(k):
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for coefficients, _constant in equations:
        keys = list(coefficients)
        for other in keys[1:]:
            parent[find(other)] = find(keys[0])
    groups: dict = {}
    for equation in equations:
        groups.setdefault(find(next(iter(equation[0]))), []).append(equation)
    return list(groups.values())


def _lp_disclosed(values: dict, equations: list[tuple[dict, int]], bounds: dict, primary: set) -> set:
    found = set()
    zero = Fraction(0)
    for group in _components(equations):
        keys = sorted({k for coefficients, _c in group for k in coefficients}, key=repr)
        small = [k for k in keys if k in primary]
        if not small:
            continue
        index = {k: i for i, k in enumerate(keys)}
        n = len(keys)
        lows = [bounds[k][0] for k in keys]
        capped = [k for k in keys if bounds[k][1] is not None]
        structural = n + len(capped)
        width = structural + len(group) + 1  # variables, slacks of the caps, artificials, right-hand side
        rows, basis = [], []
        # Variables shifted to start at zero (y = x - lower bound); caps as y + slack = upper - lower.
        for e, (coefficients, constant) in enumerate(group):
            row = [zero] * width
            rhs = constant - sum(a * lows[index[k]] for k, a in coefficients.items())
            sign = -1 if rhs < 0 else 1
            for k, a in coefficients.items():
                row[index[k]] = Fraction(sign * a)
            row[structural + e] = Fraction(1)
            row[-1] = Fraction(sign * rhs)
            rows.append(row)
            basis.append(structural + e)
        for c, k in enumerate(capped):
            row = [zero] * width
            row[index[k]] = Fraction(1)
            row[n + c] = Fraction(1)
            row[-1] = Fraction(bounds[k][1] - bounds[k][0])
            rows.append(row)
            basis.append(n + c)
        # Phase 1: drive the artificials to zero (the true table is feasible, so they reach it).
        objective = [zero] * width
        for r in range(len(group)):
            objective = [a + b for a, b in zip(objective, rows[r], strict=True)]
        for r in range(len(group)):
            objective[structural + r] = zero
        _maximise(rows, objective, basis, structural)
        for r, b in enumerate(basis):  # artificials still basic (at zero): pivot them out where possible
            if b >= structural:
                col = next((j for j in range(structural) if rows[r][j]), None)
                if col is not None:
                    _pivot(rows, [zero] * width, basis, r, col)
        keep = [r for r, b in enumerate(basis) if b < structural]
        rows = [rows[r][:structural] + [rows[r][-1]] for r in keep]
        basis = [basis[r] for r in keep]
        for key in small:
            true = values[key]
            safe = False
            for sign in (1, -1):  # the largest, then the smallest value the entry can take
                t_rows = [list(r) for r in rows]
                t_basis = list(basis)
                cost = [zero] * (structural + 1)
                cost[index[key]] = Fraction(sign)
                objective = list(cost)
                for r, b in enumerate(t_basis):  # reduced costs for the current basis
                    if cost[b]:
                        objective = [a - cost[b] * v for a, v in zip(objective, t_rows[r], strict=True)]
                best = _maximise(t_rows, objective, t_basis, structural)
                if best is None or sign * (best * sign + lows[index[key]]) >= sign * true + 1:
                    safe = True
                    break
            if not safe:
                found.add(key)
    return found


def suppress(values: dict, lines: Iterable, threshold: int = THRESHOLD, *, withheld: Iterable = (),
             fixed: Iterable = (), small_only: bool = False) -> Suppressed:
    """Suppress the small counts of a table (``values``: key -> count, ``lines``: :class:`Line` or (members,
    total) pairs that must add up) so that none can be worked out; see the method above. Raises ValueError when
    a line does not add up.

    ``withheld``: entries already withheld (published elsewhere as "x"); ``fixed``: entries whose publication is
    settled (never chosen to withhold), for a table suppressed together with tables already published;
    ``small_only``: act only on small counts found out (a withheld entry worked out is 5 or more, and the attacks
    already combine every line, so knowing it tells the reader nothing more), for a table whose layers repeat
    one another's entries by construction."""
    values = dict(values)
    lines = [line if isinstance(line, Line) else Line(tuple(line[0]), line[1]) for line in lines]
    for line in lines:
        if sum(values[k] for k in line.members) != values[line.total]:
            raise ValueError(f"{line.members} do not add up to {line.total}")
    if any(v < 0 for v in values.values()):
        raise ValueError("counts are zero or more")
    order = {key: i for i, key in enumerate(values)}
    totals = {line.total for line in lines}
    primary = {key for key, v in values.items() if 0 < v < threshold}
    complementary: set = {key for key in withheld if key not in primary}
    fixed = frozenset(fixed)

    def rank(key):
        return (values[key], key in totals, order[key])

    while True:
        exposed = disclosed(values, lines, primary, complementary, threshold, small_only)
        if not exposed:
            break
        hidden = primary | complementary
        concerned = [line for line in lines if exposed & {*line.members, line.total}]
        candidates = {k for line in concerned for k in (*line.members, line.total) if values[k] > 0} - hidden - fixed
        if not candidates:  # nothing left in those lines: widen to the whole table
            candidates = {k for k in values if values[k] > 0} - hidden - fixed
        if not candidates:  # every non-zero entry is hidden already: publish the grand total alone
            grand = totals - {k for line in lines for k in line.members}
            return Suppressed(values, frozenset(primary), frozenset(complementary), withdrawn=True,
                              kept=frozenset(grand))
        complementary.add(min(candidates, key=rank))
    return Suppressed(values, frozenset(primary), frozenset(complementary))


@dataclass
class SuppressedResults:
    """Results of several grants, suppressed together (every breakdown counts the same people, so they share one
    grand total and are protected as one table). Values are counts, "<5" or "x"."""

    total: int | str
    grants: dict[int, int | str]
    sex_age: dict[tuple[str, str], int | str]
    sexes: dict[str, int | str]
    ages: dict[str, int | str]
    by_form: dict[str, int | str]
    by_assistance: dict[str, int | str]
    by_country: dict[str, int | str]
    table: Suppressed

    @property
    def withdrawn(self) -> bool:
        """Too few people to break the results down safely: only the total is published."""
        return self.table.withdrawn


def suppress_results_alone(per_grant: dict[int, Results], threshold: int = THRESHOLD) -> SuppressedResults:
    """Add up the results of ``per_grant`` and suppress them as one table: each grant's total, victims by sex x
    age band (with the totals by sex and by age band), by form of exploitation, by type of assistance and by
    country (categories with nobody are left out of the last three)."""
    values, lines = results_table(per_grant)
    return as_results(values, suppress(values, lines, threshold))


def results_table(per_grant: dict[int, Results], keep_zeros: bool = False) -> tuple[dict, list[Line]]:
    """The entries and additive lines of the results of ``per_grant`` (see :func:`suppress_results_alone`);
    ``keep_zeros``: categories named with a count of 0 are kept (a table nobody publishes, whose empty categories
    a reader does not know)."""
    combined = Results()
    for r in per_grant.values():
        combined.add(r)
    values: dict = {}
    lines: list[Line] = []
    total = ("total",)
    grant_keys = [("grant", g) for g in sorted(per_grant)]
    for key in grant_keys:
        values[key] = per_grant[key[1]].total
    values[total] = sum(values[k] for k in grant_keys)
    if grant_keys:
        lines.append(Line(tuple(grant_keys), total))
    sexes = [s for s in SEXES] + sorted({s for s, _a in combined.by_sex_age} - set(SEXES))
    ages = [a for a in AGE_BANDS] + sorted({a for _s, a in combined.by_sex_age} - set(AGE_BANDS))
    for s in sexes:
        for a in ages:
            values[("sex_age", s, a)] = combined.by_sex_age.get((s, a), 0)
    for s in sexes:
        values[("sex", s)] = sum(values[("sex_age", s, a)] for a in ages)
        lines.append(Line(tuple(("sex_age", s, a) for a in ages), ("sex", s)))
    for a in ages:
        values[("age", a)] = sum(values[("sex_age", s, a)] for s in sexes)
        lines.append(Line(tuple(("sex_age", s, a) for s in sexes), ("age", a)))
    for margin in ("sex", "age"):
        keys = tuple(k for k in values if k[0] == margin)
        own_total = total if sum(values[k] for k in keys) == values[total] else (f"{margin}_total",)
        values.setdefault(own_total, sum(values[k] for k in keys))
        lines.append(Line(keys, own_total))
    for name, counts in (("form", combined.by_form), ("assistance", combined.by_assistance),
                         ("country", combined.by_country)):
        keys = tuple((name, code) for code in sorted(counts) if counts[code] or keep_zeros)
        for key in keys:
            values[key] = counts[key[1]]
        subtotal = sum(values[k] for k in keys)
        own_total = total if subtotal == values[total] else (f"{name}_total",)
        values.setdefault(own_total, subtotal)
        if keys:
            lines.append(Line(keys, own_total))
    return values, lines


def as_results(values: dict, table: Suppressed) -> SuppressedResults:
    """The published form of a results table laid out by :func:`results_table` and suppressed as ``table``."""
    shown = table.shown
    total = ("total",)
    grant_keys = [k for k in values if k[0] == "grant"]

    def pick(prefix: str) -> dict:
        return {k[1]: shown(k) for k in values if k[0] == prefix}

    return SuppressedResults(
        total=shown(total), grants={k[1]: shown(k) for k in grant_keys},
        sex_age={(k[1], k[2]): shown(k) for k in values if k[0] == "sex_age"},
        sexes=pick("sex"), ages=pick("age"), by_form=pick("form"), by_assistance=pick("assistance"),
        by_country=pick("country"), table=table)
