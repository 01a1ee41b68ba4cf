"""Staff search across organisations, applications and grants (grants.search): what each role finds, the filters,
pages, the PostgreSQL path (full-text search on its GIN indexes) and a constant number of statements per page."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from sqlalchemy import text

from fund.db import db
from grants.awards.models import Grant
from grants.models import Application, Organisation
from tests.grants import factories as gf
from tests.perf.test_query_counts import counting

_seq = itertools.count(1)


def _org(name: str, country: str, acronym: str | None = None) -> Organisation:
    org = Organisation(name=name, acronym=acronym, country=country, org_type="ngo")
    db.session.add(org)
    db.session.flush()
    return org


def _application(org, call, title: str, status: str, summary: str = "") -> Application:
    n = next(_seq)
    application = Application(call_id=call.id, organisation_id=org.id, status=status, reference=f"VTF-T-{n:04d}",
                              project_title=title, summary=summary, currency="USD",
                              requested_amount=Decimal("30000.00"))
    db.session.add(application)
    db.session.flush()
    return application


def _grant(application, title: str, status: str = "active") -> Grant:
    grant = Grant(number=f"G-2026-{next(_seq):03d}", application_id=application.id,
                  organisation_id=application.organisation_id, title=title, currency="USD",
                  amount=Decimal("30000.00"), start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 12, 31),
                  status=status)
    db.session.add(grant)
    db.session.flush()
    return grant


@pytest.fixture
def world(app):
    """Three organisations in three countries, two calls, three applications, one grant."""
    with app.test_request_context():
        call1 = gf.make_call(title_en="Emergency assistance", title_fr="Assistance d'urgence")
        call2 = gf.make_call(title_en="Medium-term assistance", title_fr="Assistance à moyen terme")
        espoir = _org("Association Espoir", "SN", "AE")
        libertad = _org("Fundación Libertad", "CO")
        shelter = _org("Kyiv Shelter Network", "UA")
        safe = _application(espoir, call1, "Safe houses for survivors", "submitted", "Shelter and medical care")
        legal = _application(libertad, call2, "Legal aid for women", "eligible", "Legal representation in court")
        _application(shelter, call2, "Reintegration support", "draft")
        grant = _grant(safe, "Safe houses in Dakar")
        ids = {"call1": call1.id, "call2": call2.id, "espoir": espoir.id, "libertad": libertad.id,
               "shelter": shelter.id, "safe": safe.id, "legal": legal.id, "grant": grant.id}
        db.session.commit()
    return ids


def _hits(client, query: str) -> set[tuple[str, int]]:
    resp = client.get(f"/api/v1/search?{query}")
    assert resp.status_code == 200, resp.get_json()
    return {(h["kind"], h["id"]) for h in resp.get_json()["items"]}


def test_staff_find_organisations_applications_and_grants_by_name_title_or_reference(app, world, api_as):
    manager = api_as("fund_manager")
    w = world
    assert _hits(manager, "q=espoir") == {("organisation", w["espoir"]), ("application", w["safe"]),
                                          ("grant", w["grant"])}
    assert _hits(manager, "q=legal%20aid") == {("application", w["legal"])}
    assert _hits(manager, "q=Dakar") == {("grant", w["grant"])}
    with app.app_context():
        reference = db.session.get(Application, w["legal"]).reference
        number = db.session.get(Grant, w["grant"]).number
    assert ("application", w["legal"]) in _hits(manager, f"q={reference}")
    assert _hits(manager, f"q={number}") == {("grant", w["grant"])}
    assert _hits(manager, "q=nothing-like-this") == set()
    assert _hits(manager, "") == set()  # no words, no filter: nothing listed

    # Finance officers do not read applications: organisations and grants only.
    officer = api_as("finance_officer")
    assert _hits(officer, "q=espoir") == {("organisation", w["espoir"]), ("grant", w["grant"])}
    assert _hits(officer, "kind=application") == set()


def test_filters_by_call_status_country_and_kind(app, world, api_as):
    manager, w = api_as("fund_manager"), world
    assert _hits(manager, "country=CO") == {("organisation", w["libertad"]), ("application", w["legal"])}
    assert _hits(manager, f"call_id={w['call1']}") == {("organisation", w["espoir"]), ("application", w["safe"]),
                                                       ("grant", w["grant"])}
    assert _hits(manager, "status=eligible") == {("application", w["legal"])}
    assert _hits(manager, "status=active") == {("grant", w["grant"])}
    assert _hits(manager, "q=espoir&kind=organisation") == {("organisation", w["espoir"])}
    assert _hits(manager, f"q=assistance&call_id={w['call2']}") == set()  # call titles are not searched
    resp = manager.get("/api/v1/search?country=XX&status=bogus")
    assert resp.status_code == 422
    assert {"country", "status"} <= set(resp.get_json()["error"]["fields"])


def test_the_postgresql_path_uses_web_search_syntax_ranking_and_the_gin_indexes(app, world, api_as):
    with app.app_context():
        dialect = db.engine.dialect.name
    if dialect != "postgresql":
        pytest.skip("the full-text path runs on PostgreSQL (TEST_DATABASE_URL)")
    manager, w = api_as("fund_manager"), world
    # websearch_to_tsquery: "or", a quoted phrase, an excluded word.
    assert _hits(manager, "q=libertad%20or%20dakar") == {("organisation", w["libertad"]), ("application", w["legal"]),
                                                         ("grant", w["grant"])}
    assert _hits(manager, 'q="aid for women"') == {("application", w["legal"])}
    assert _hits(manager, 'q="women for aid"') == set()
    assert _hits(manager, "q=safe%20-dakar") == {("application", w["safe"])}
    # Ranked: the grant whose own title has both words comes before rows that match through their organisation.
    items = manager.get("/api/v1/search?q=safe%20dakar").get_json()["items"]
    assert items[0]["kind"] == "grant" and items[0]["rank"] > 0
    # Each kind's expression is the one its GIN index was built on.
    from grants.search import APPLICATION_TEXT, GRANT_TEXT, ORGANISATION_TEXT, _tsv

    with app.app_context():
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        for columns, index in ((ORGANISATION_TEXT, "ix_organisation_search"),
                               (APPLICATION_TEXT, "ix_application_search"), (GRANT_TEXT, "ix_grant_award_search")):
            table = columns[0].class_.__table__
            condition = _tsv(*columns).op("@@")(db.func.websearch_to_tsquery(db.literal_column("'simple'::regconfig"),
                                                                              "espoir"))
            query = db.select(table.c.id).where(condition)
            sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
            plan = "\n".join(db.session.execute(text("EXPLAIN " + sql)).scalars())
            assert index in plan, plan
        db.session.rollback()


def test_reviewers_applicants_and_donors_cannot_search(app, world, login_as, api_as):
    for role in ("reviewer", "applicant", "donor"):
        assert api_as(role).get("/api/v1/search?q=espoir").status_code == 403
        assert login_as(role).get("/search?q=espoir").status_code == 403


def test_the_search_page_and_the_box_in_the_staff_navigation(app, world, login_as):
    manager = login_as("fund_manager")
    dashboard = manager.get("/dashboard").get_data(as_text=True)
    assert 'role="search"' in dashboard and 'id="nav-search-q"' in dashboard
    html = manager.get("/search?q=espoir").get_data(as_text=True)
    assert "3 results" in html and "Association Espoir" in html and "Safe houses in Dakar" in html
    assert f'/grants/applications/{world["safe"]}' in html
    resp = manager.get("/search?q=espoir&country=XX")
    assert resp.status_code == 422 and 'id="country-error"' in resp.get_data(as_text=True)
    assert 'value="espoir"' in resp.get_data(as_text=True)  # what was typed stays
    manager.submit("/language", {"lang": "fr", "next": "/"}, page="/")
    french = manager.get("/search?q=espoir").get_data(as_text=True)
    assert "3 résultats" in french and "Pays de l’organisation" in french
    applicant = login_as("applicant")
    assert 'id="nav-search-q"' not in applicant.get("/dashboard").get_data(as_text=True)


def test_pages_do_not_overlap(app, api_as):
    with app.test_request_context():
        for i in range(25):
            _org(f"Alpha Collective {i}", "KE")
        db.session.commit()
    manager = api_as("auditor")
    first = manager.get("/api/v1/search?q=alpha").get_json()
    second = manager.get("/api/v1/search?q=alpha&page=2").get_json()
    assert first["meta"] == {"page": 1, "per_page": 20, "total": 25, "pages": 2}
    ids = [h["id"] for h in first["items"]] + [h["id"] for h in second["items"]]
    assert len(ids) == 25 and len(set(ids)) == 25


def _grow(app, n: int) -> None:
    """n more organisations, each with an application in the first call and a grant, all named alike."""
    with app.test_request_context():
        call = gf.make_call()
        for i in range(n):
            org = _org(f"Horizon Network {i}", "KE")
            application = _application(org, call, f"Horizon project {i}", "submitted")
            _grant(application, f"Horizon grant {i}")
        db.session.commit()


@pytest.mark.parametrize("url", ["/search?q=horizon", "/search?q=horizon&country=KE&page=2",
                                 "/api/v1/search?q=horizon", "/api/v1/search?country=KE&status=submitted"])
def test_a_page_costs_the_same_statements_whatever_the_data(app, make_user, login_as, api_token, url):
    manager = make_user("fund_manager")
    if url.startswith("/api/"):
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_token(manager)}"
    else:
        client = login_as(manager)
    sizes = []
    for n in (3, 30):
        _grow(app, n)
        client.get(url)
        with counting(app) as statements:
            resp = client.get(url)
        assert resp.status_code == 200
        sizes.append(len(statements))
    assert sizes[0] == sizes[1], sizes
    assert sizes[1] <= 6, sizes
