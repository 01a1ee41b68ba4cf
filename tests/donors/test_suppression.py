"""Small-cell suppression (fund.grant_directory.suppress): counts from 1 to 4 show as "<5", and complementary
suppression leaves no hidden count that a reader could work out from what is published.

The property tests check the published tables with an attack written independently of the method: a search for
other tables that agree with everything published (every shown count, "<5" read as 1 to 4, "x" read as 0 or 5 and
more). A small count is safe when such tables give it at least two values. (A withheld entry may sometimes be
deduced, such as a withheld 0 beside two "<5": that gives nobody away.)"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fund.disclosure import suppress_results
from fund.grant_directory import Results
from fund.suppression import SMALL, WITHHELD, Line, disclosed, suppress
from tests.live import rounds

counts = st.one_of(st.integers(0, 6), st.integers(0, 30))


def grid(cells: list[list[int]]):
    """A table with row totals, column totals and a grand total: (values, lines)."""
    values: dict = {}
    rows, cols = len(cells), len(cells[0])
    for i, j in itertools.product(range(rows), range(cols)):
        values[("c", i, j)] = cells[i][j]
    for i in range(rows):
        values[("r", i)] = sum(cells[i])
    for j in range(cols):
        values[("k", j)] = sum(cells[i][j] for i in range(rows))
    values[("T",)] = sum(map(sum, cells))
    lines = [Line(tuple(("c", i, j) for j in range(cols)), ("r", i)) for i in range(rows)]
    lines += [Line(tuple(("c", i, j) for i in range(rows)), ("k", j)) for j in range(cols)]
    lines += [Line(tuple(("r", i) for i in range(rows)), ("T",)), Line(tuple(("k", j) for j in range(cols)), ("T",))]
    return values, lines


def allowed(shown, value: int) -> bool:
    """Whether ``value`` agrees with what is published for an entry."""
    if shown == SMALL:
        return 1 <= value <= 4
    if shown == WITHHELD:
        return value == 0 or value >= 5
    return value == shown


def candidates(shown, true: int) -> list[int]:
    if shown == SMALL:
        return [1, 2, 3, 4]
    if shown == WITHHELD:
        return [0, *range(max(5, true - 3), max(5, true - 3) + 7)]
    return [true]


def values_a_reader_cannot_exclude(values: dict, published: dict, rows: int, cols: int) -> dict:
    """For each hidden entry, the values it takes over the tables that agree with everything published (a
    sufficient search: complements are tried near their true value only, so every table found is genuine)."""
    seen: dict = {k: set() for k, v in published.items() if v in (SMALL, WITHHELD)}
    row_options = []
    for i in range(rows):
        keys = [("c", i, j) for j in range(cols)]
        options = []
        for combo in itertools.product(*(candidates(published[k], values[k]) for k in keys)):
            if allowed(published[("r", i)], sum(combo)):
                options.append(combo)
        row_options.append(options)
    for table in itertools.product(*row_options):
        col_sums = [sum(table[i][j] for i in range(rows)) for j in range(cols)]
        if not all(allowed(published[("k", j)], col_sums[j]) for j in range(cols)):
            continue
        total = sum(col_sums)
        if not allowed(published[("T",)], total):
            continue
        for i, j in itertools.product(range(rows), range(cols)):
            if ("c", i, j) in seen:
                seen[("c", i, j)].add(table[i][j])
        for i in range(rows):
            if ("r", i) in seen:
                seen[("r", i)].add(sum(table[i]))
        for j in range(cols):
            if ("k", j) in seen:
                seen[("k", j)].add(col_sums[j])
        if ("T",) in seen:
            seen[("T",)].add(total)
        if all(len(v) >= 2 for v in seen.values()):
            break
    return seen


tables = st.integers(1, 3).flatmap(
    lambda rows: st.integers(1, 3).flatmap(
        lambda cols: st.lists(st.lists(counts, min_size=cols, max_size=cols), min_size=rows, max_size=rows)))


#: The attack enumerates every table a reader could reconstruct: a few examples take seconds each, so make test
#: runs a third of make test-full's examples.
@settings(max_examples=rounds(full=300, light=100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables)
def test_no_suppressed_count_can_be_worked_out(cells):
    values, lines = grid(cells)
    result = suppress(values, lines)
    published = result.published()
    if result.withdrawn:
        # Only when hiding every non-zero entry was not enough; then the grand total alone is published.
        assert all(key in result.hidden for key, value in values.items() if value)
        assert {k for k, v in published.items() if v != WITHHELD} <= {("T",)}
        assert published[("T",)] == (SMALL if 1 <= values[("T",)] <= 4 else values[("T",)])
        return
    # Every count from 1 to 4 shows as "<5"; every number shown is the true count.
    for key, value in values.items():
        if 1 <= value <= 4:
            assert published[key] == SMALL
        if isinstance(published[key], int):
            assert published[key] == value
        if published[key] == WITHHELD:
            assert value == 0 or value >= 5
    # No line has a single hidden entry, and the method's own audit finds nothing.
    for line in lines:
        hidden = [k for k in (*line.members, line.total) if published[k] in (SMALL, WITHHELD)]
        assert len(hidden) != 1
    assert disclosed(values, lines, set(result.primary), set(result.complementary)) == set()
    # The independent attack: every small count ("<5") can take at least two values.
    seen = values_a_reader_cannot_exclude(values, published, len(cells), len(cells[0]))
    for key, possible in seen.items():
        if published[key] == SMALL:
            assert len(possible) >= 2, (key, values[key], published)


def test_a_grant_of_three_beside_one_of_twenty():
    values = {("grant", 1): 3, ("grant", 2): 20, ("total",): 23}
    result = suppress(values, [Line((("grant", 1), ("grant", 2)), ("total",))])
    assert result.published() == {("grant", 1): SMALL, ("grant", 2): WITHHELD, ("total",): 23}


def test_bounds_give_nothing_away():
    # "<5" + "x" = 6 would pin 1 and 5 for a reader who knows "x" is at least 5: the total is withheld too.
    result = suppress({"a": 1, "b": 5, "t": 6}, [Line(("a", "b"), "t")])
    assert result.published() == {"a": SMALL, "b": WITHHELD, "t": WITHHELD}
    # Two 1s with the total shown: the total minus the others would give 1 + 1; a third entry is withheld.
    result = suppress({"a": 1, "b": 1, "c": 10, "t": 12}, [Line(("a", "b", "c"), "t")])
    assert result.published() == {"a": SMALL, "b": SMALL, "c": WITHHELD, "t": 12}


def test_a_table_that_cannot_be_protected_is_withdrawn():
    # Four people, each in a different cell, total "<5": every cell would have to be 1.
    values, lines = grid([[1, 1], [1, 1]])
    result = suppress(values, lines)
    assert result.withdrawn
    assert result.published() == {**{k: WITHHELD for k in values}, ("T",): SMALL}


def test_nothing_small_nothing_hidden_and_zeros_shown():
    result = suppress({"a": 0, "b": 7, "t": 7}, [Line(("a", "b"), "t")])
    assert result.published() == {"a": 0, "b": 7, "t": 7}


def test_lines_must_add_up():
    import pytest

    with pytest.raises(ValueError):
        suppress({"a": 1, "t": 2}, [Line(("a",), "t")])


results = st.builds(
    Results,
    by_sex_age=st.dictionaries(st.sampled_from([("female", "18-24"), ("male", "25-59"), ("female", "0-11"),
                                                ("other_or_not_recorded", "not_recorded")]),
                               counts, max_size=4),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(results, min_size=1, max_size=4), st.data())
def test_results_of_several_grants_are_protected_as_one_table(per_grant, data):
    grants = {}
    for gid, r in enumerate(per_grant, start=1):
        total = r.total
        # Every breakdown counts the same people (as accepted reports guarantee).
        split = data.draw(st.integers(0, total))
        r.by_form = {k: v for k, v in {"forced_labour": split, "not_recorded": total - split}.items() if v}
        r.by_assistance = {"shelter": total} if total else {}
        r.by_country = {"SN": split, "NG": total - split} if total else {}
        grants[gid] = r
    out = suppress_results(grants)
    table = out.table
    if table.withdrawn:
        # A table that cannot be protected is withdrawn: only its grand total is published, small as "<5".
        for key, value in table.values.items():
            shown = table.shown(key)
            if key in table.kept:
                assert shown == (SMALL if 1 <= value <= 4 else value)
            else:
                assert shown == WITHHELD
        assert table.kept <= {("total",)}
    else:
        for key, value in table.values.items():
            if 1 <= value <= 4:
                assert table.shown(key) == SMALL
        assert disclosed(table.values, _lines_of(out), set(table.primary), set(table.complementary)) == set()
    for gid, r in grants.items():
        shown = out.grants[gid]
        assert shown == r.total if isinstance(shown, int) else shown in (SMALL, WITHHELD)


def _lines_of(out) -> list[Line]:
    """The lines suppress_results used (rebuilt from the keys it published)."""
    values = out.table.values
    total = ("total",)
    lines = [Line(tuple(k for k in values if k[0] == "grant"), total)]
    sexes = [k[1] for k in values if k[0] == "sex"]
    ages = [k[1] for k in values if k[0] == "age"]
    lines += [Line(tuple(("sex_age", s, a) for a in ages), ("sex", s)) for s in sexes]
    lines += [Line(tuple(("sex_age", s, a) for s in sexes), ("age", a)) for a in ages]
    lines += [Line(tuple(("sex", s) for s in sexes), total), Line(tuple(("age", a) for a in ages), total)]
    for name in ("form", "assistance", "country"):
        keys = tuple(k for k in values if k[0] == name)
        if keys:
            lines.append(Line(keys, total))
    return lines


def test_three_victims_of_one_grant_cannot_be_recomputed_from_the_results():
    small = Results(by_sex_age={("female", "18-24"): 3}, by_form={"forced_labour": 3}, by_assistance={"shelter": 3},
                    by_country={"SN": 3})
    big = Results(by_sex_age={("female", "18-24"): 9, ("male", "25-59"): 11}, by_form={"forced_labour": 20},
                  by_assistance={"shelter": 15, "legal_counselling": 5}, by_country={"NG": 20})
    out = suppress_results({1: small, 2: big})
    assert out.grants == {1: SMALL, 2: WITHHELD}
    assert out.total == 23
    # Senegal (3) and Nigeria (20) would give the small grant away beside the total of 23.
    assert out.by_country == {"NG": WITHHELD, "SN": SMALL}
    assert 3 not in out.grants.values() and 20 not in out.grants.values()
    assert disclosed(out.table.values, _lines_of(out), set(out.table.primary), set(out.table.complementary)) == set()
