"""Suppression across everything published (fund.disclosure): random results published through every public
table, and a donor statement beside them, leave no count from 1 to 4 that the attacks of fund.suppression (subtraction,
exact linear algebra, bounds, linear programming) can work out from the union of published figures."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fund import disclosure
from fund.disclosure import suppress_results
from fund.grant_directory import Results
from fund.suppression import SMALL, WITHHELD, suppress_results_alone

SEXES = ("female", "male")
AGES = ("12-17", "18-24", "25-59")
FORMS = ("forced_labour", "sexual_exploitation", "domestic_servitude")
ASSISTANCE = ("shelter", "legal_counselling")
COUNTRIES = ("SN", "NP")


@st.composite
def grant_results(draw) -> Results:
    """Victims of one grant: a sex x age table, and the same people by form, assistance and country."""
    cells = draw(st.lists(st.tuples(st.sampled_from(SEXES), st.sampled_from(AGES), st.integers(1, 12)),
                          min_size=1, max_size=4))
    r = Results()
    for s, a, n in cells:
        r.by_sex_age[(s, a)] = r.by_sex_age.get((s, a), 0) + n
    for name, codes in (("by_form", FORMS), ("by_assistance", ASSISTANCE), ("by_country", COUNTRIES)):
        split = getattr(r, name)
        rest = r.total
        for code in codes[:-1]:
            n = draw(st.integers(0, rest))
            if n:
                split[code] = n
            rest -= n
        if rest:
            split[codes[-1]] = rest
    return r


def _scale(r: Results, keep: dict) -> Results:
    """A part of ``r``'s people (what a period of the grant's reports counted), consistent across breakdowns."""
    part = Results(by_sex_age={k: min(v, keep.get(k, 0)) for k, v in r.by_sex_age.items()})
    part.by_sex_age = {k: v for k, v in part.by_sex_age.items() if v}
    total = part.total
    for name in ("by_form", "by_assistance", "by_country"):
        split, left = {}, total
        for code, n in getattr(r, name).items():
            take = min(n, left)
            if take:
                split[code] = take
            left -= take
        setattr(part, name, split)
    return part


def _public_outputs(published: disclosure.Publication) -> dict:
    """Every figure the public outputs show, keyed by the table entry it is: the results page (total, sex x age
    with margins, form, assistance, country), each grant's page and IATI activity (its victims assisted)."""
    r = published.results
    shown = {("total",): r.total}
    shown |= {("sex_age", s, a): v for (s, a), v in r.sex_age.items()}
    shown |= {("sex", s): v for s, v in r.sexes.items()} | {("age", a): v for a, v in r.ages.items()}
    shown |= {("form", c): v for c, v in r.by_form.items()} | {("assistance", c): v for c, v in r.by_assistance.items()}
    shown |= {("country", c): v for c, v in r.by_country.items()} | {("grant", g): v for g, v in r.grants.items()}
    return shown


def _found_out(values: dict, lines: list, shown: dict, withdrawn: set) -> set:
    """What an honest reader of ``shown`` (entry -> figure as published; anything else unpublished) works out."""
    loose = {k for k in values if k[0] in withdrawn}
    bounds = disclosure.reader_bounds(values, shown, loose)
    return disclosure.found_out(values, lines, bounds, disclosure.sensitive(values))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(grant_results(), min_size=1, max_size=4))
def test_no_small_count_from_the_union_of_public_tables(grants):
    published = disclosure.Publication(dict(enumerate(grants, start=1)))
    shown = _public_outputs(published)
    values = published.values
    if published.results.withdrawn:
        assert set(shown.values()) - {WITHHELD} <= {published.values[("total",)], SMALL}
        return
    # Every public figure is an entry of the one table, shown as that table publishes it.
    for key, value in shown.items():
        assert value == published.table.shown(key)
        assert value in (SMALL, WITHHELD) or value == values[key]
        assert not (isinstance(value, int) and 0 < value < 5)
    small = {k for k, v in values.items() if 0 < v < 5}
    assert all(shown.get(k, SMALL) == SMALL for k in small)
    assert not _found_out(values, published.lines, shown, set())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(grant_results(), min_size=1, max_size=3), st.data())
def test_a_statement_beside_the_public_tables_gives_nothing_away(grants, data):
    whole = dict(enumerate(grants, start=1))
    published = disclosure.Publication(whole)
    chosen = data.draw(st.lists(st.sampled_from(sorted(whole)), min_size=1, unique=True))
    part = {}
    for g in chosen:
        keep = {k: data.draw(st.integers(0, v)) for k, v in whole[g].by_sex_age.items()}
        r = _scale(whole[g], keep)
        if r.total:
            part[g] = r
    if not part:
        return
    disclosure.register_publication(lambda: published)
    try:
        statement = suppress_results(part)
    finally:
        disclosure.register_publication(None)
    values, lines, s_values, _s_lines = disclosure.layered_table(part, published)
    # What the reader holds: the statement and the public table as published; the rest is theirs to work out.
    shown = {("S", *k): statement.table.shown(k) for k in s_values}
    shown |= {("W", *k): v for k, v in _public_outputs(published).items()}
    withdrawn = {layer for layer, table in (("S", statement.table), ("W", published.table)) if table.withdrawn}
    assert not _found_out(values, lines, shown, withdrawn)


def test_a_statement_suppressed_alone_would_give_a_count_away():
    """Seven people in forced labour in the public table, five of them in the statement's grant: the other two
    (another grant) follow by subtraction unless the statement is suppressed beside the public table."""
    one = Results(by_sex_age={("female", "18-24"): 5, ("male", "25-59"): 6}, by_form={"forced_labour": 5,
                  "sexual_exploitation": 6}, by_country={"SN": 11})
    two = Results(by_sex_age={("female", "18-24"): 2, ("male", "25-59"): 10}, by_form={"forced_labour": 2,
                  "sexual_exploitation": 10}, by_country={"SN": 12})
    published = disclosure.Publication({1: one, 2: two})
    assert published.results.by_form["forced_labour"] == 7
    values, lines, s_values, _s_lines = disclosure.layered_table({1: one}, published)

    def exposed(statement):
        shown = {("S", *k): statement.table.shown(k) for k in s_values}
        shown |= {("W", *k): v for k, v in _public_outputs(published).items()}
        return _found_out(values, lines, shown, set())

    alone = suppress_results_alone({1: one})
    assert alone.by_form["forced_labour"] == 5
    assert ("R", "form", "forced_labour") in exposed(alone)
    disclosure.register_publication(lambda: published)
    try:
        beside = suppress_results({1: one})
    finally:
        disclosure.register_publication(None)
    assert not exposed(beside)
    assert beside.by_form["forced_labour"] == WITHHELD


@pytest.fixture(autouse=True)
def _restore_provider():
    previous = disclosure._provider
    yield
    disclosure.register_publication(previous)


def _statements_beside_public(published: disclosure.Publication, subsets: list[list[int]], totals) -> tuple:
    """The public table plus, per statement, its grants' sum as a line (``totals(i, grants)`` is what the statement
    shows for it): the values, lines and figures of the union a reader holds."""
    values, lines = dict(published.values), list(published.lines)
    shown = _public_outputs(published)
    for i, grants in enumerate(subsets):
        key = ("statement", i)
        values[key] = sum(published.values[("grant", g)] for g in grants)
        lines.append(disclosure.Line(tuple(("grant", g) for g in grants), key))
        figure = totals(i, grants)
        if figure is not None:
            shown[key] = figure
    return values, lines, shown


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(grant_results(), min_size=1, max_size=5), st.data())
def test_any_number_of_statements_beside_the_public_tables_give_nothing_away(grants, data):
    """Donor statements of several donors and periods, read together and beside every public table: each shows its
    grants as the public set does, and a total only when the public set already determines it."""
    from donors.statement_figures import results_of

    whole = dict(enumerate(grants, start=1))
    published = disclosure.Publication(whole)
    subsets = data.draw(st.lists(st.lists(st.sampled_from(sorted(whole)), min_size=1, unique=True), min_size=1,
                                 max_size=6))
    disclosure.register_publication(lambda: published)
    try:
        statements = [results_of(s, None, None) for s in subsets]
    finally:
        disclosure.register_publication(None)
    public = _public_outputs(published)
    for s, r in zip(subsets, statements, strict=True):
        assert r["grants"] == {g: public[("grant", g)] for g in s}
        assert r["total"] == public[("total",)] and r["by_form"] == published.results.by_form
        assert r["grants_total"] is None or r["grants_total"] == sum(whole[g].total for g in s)
    values, lines, shown = _statements_beside_public(published, subsets,
                                                     lambda i, _g: statements[i]["grants_total"])
    withdrawn = {"grant", "total", "sex_age", "sex", "age", "form", "assistance", "country",
                 "sex_total", "age_total", "form_total", "assistance_total", "country_total"}
    assert not _found_out(values, lines, shown, withdrawn if published.results.withdrawn else set())


def test_the_totals_of_two_statements_would_single_out_a_grant():
    """Grants of 20, 2 and 3 victims: the public pages show "<5" for the two small ones. A statement over grants 1
    and 2 and another over 1, 2 and 3 would each be harmless alone beside the public total; together their
    difference is grant 3's 3 victims. Statements show such totals only when the public figures determine them."""
    from donors.statement_figures import results_of

    def people(n, form):
        return Results(by_sex_age={("female", "25-59"): n}, by_form={form: n}, by_country={"SN": n})

    published = disclosure.Publication({1: people(20, "forced_labour"), 2: people(2, "forced_labour"),
                                        3: people(3, "forced_labour")})
    assert published.results.grants[2] == published.results.grants[3] == SMALL
    subsets = [[1, 2], [1, 2, 3]]
    values, lines, shown = _statements_beside_public(
        published, subsets, lambda _i, g: sum(published.values[("grant", x)] for x in g))
    assert ("grant", 3) in _found_out(values, lines, shown, set())
    disclosure.register_publication(lambda: published)
    try:
        totals = [results_of(s, None, None)["grants_total"] for s in subsets]
    finally:
        disclosure.register_publication(None)
    assert totals[0] is None  # grants 1 and 2 are not determined by the public figures
    values, lines, shown = _statements_beside_public(published, subsets, lambda i, _g: totals[i])
    assert not _found_out(values, lines, shown, set())
