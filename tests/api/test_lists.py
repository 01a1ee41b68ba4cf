"""Lists of the API, one way (fund.listing): every list takes page, per_page and sort (an allow-list documented as
an enum), answers {"items", "meta"} with a Link header, and refuses an unknown sort field with a 422 naming it.
Output statuses and kinds are documented as enums taken from the workflow tables."""

from __future__ import annotations

import pytest

from fund.db import db

LISTS = {"/api/v1/users", "/api/v1/audit/events", "/api/v1/exchange-rates", "/api/v1/ledger/entries",
         "/api/v1/calls", "/api/v1/applications", "/api/v1/reviews", "/api/v1/calls/{call_id}/ranking",
         "/api/v1/grants", "/api/v1/disbursements", "/api/v1/donors", "/api/v1/donors/{donor_id}/pledges",
         "/api/v1/contributions", "/api/v1/donors/{donor_id}/statements", "/api/v1/search"}
#: The staff search ranks organisations, applications and grants together by relevance, 20 a page: it takes
#: ``page`` and answers with the same body and Link header, but neither ``per_page`` nor ``sort``.
RANKED = {"/api/v1/search"}


@pytest.fixture(scope="module")
def document():
    from fund import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SERVER_NAME": "localhost"})
    return app.test_client().get("/api/v1/openapi.json").get_json()


def _lists(document) -> dict[str, dict]:
    """Every GET whose 200 body is a page of items."""
    found = {}
    for path, operations in document["paths"].items():
        get = operations.get("get")
        if not get:
            continue
        body = get["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
        ref = body.get("$ref", "")
        props = document["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
        if "items" in props and "meta" in props:
            found[path] = get
    return found


def test_every_list_is_paginated_and_sortable_the_same_documented_way(document):
    lists = _lists(document)
    assert set(lists) == LISTS
    for path, get in lists.items():
        params = {p["name"]: p for p in get["parameters"] if p["in"] == "query"}
        assert "Link" in get["responses"]["200"]["headers"], path
        if path in RANKED:
            assert "page" in params and "sort" not in params
            continue
        assert {"page", "per_page"} <= set(params), path
        sort = params["sort"]
        assert sort["schema"]["type"] == "array" and sort["style"] == "form" and sort["explode"], path
        names = sort["schema"]["items"]["enum"]
        assert names and all(f"-{n}" in names for n in names if not n.startswith("-")), path
        meta = document["components"]["schemas"]["PageMeta"]["properties"]
        assert set(meta) == {"page", "per_page", "total", "pages"}


def test_sort_filter_and_pages_with_links(app, api_as):
    fo = api_as("finance_officer")
    names = ["Norway", "Ireland", "Sweden", "Andorra", "Monaco"]
    from donors import operations as donor_ops

    with app.test_request_context():
        from fund.models import User

        actor = db.session.get(User, fo.user.id)
        for name in names:
            donor_ops.create_donor({"name": name, "type": "member_state" if name < "N" else "foundation",
                                    "country": "NO", "language": "en"}, actor=actor)
        db.session.commit()

    default = fo.get("/api/v1/donors").get_json()
    assert [d["name"] for d in default["items"]] == sorted(names)
    desc = fo.get("/api/v1/donors?sort=-name").get_json()
    assert [d["name"] for d in desc["items"]] == sorted(names, reverse=True)
    # two keys, comma-separated or repeated: type first, then name descending within each type
    by_type = [d["name"] for d in fo.get("/api/v1/donors?sort=type,-name").get_json()["items"]]
    assert by_type == ["Sweden", "Norway", "Monaco", "Ireland", "Andorra"]
    assert [d["name"] for d in fo.get("/api/v1/donors?sort=type&sort=-name").get_json()["items"]] == by_type
    # a filter and the sort together
    filtered = fo.get("/api/v1/donors?type=foundation&sort=-name").get_json()
    assert [d["name"] for d in filtered["items"]] == ["Sweden", "Norway"]

    # pages: no overlap, nothing missed, meta and Link agree
    first = fo.get("/api/v1/donors?per_page=2&sort=-name")
    body = first.get_json()
    assert body["meta"] == {"page": 1, "per_page": 2, "total": 5, "pages": 3}
    link = first.headers["Link"]
    assert 'page=2>; rel="next"' in link and 'page=3>; rel="last"' in link and 'rel="prev"' not in link
    assert "sort=-name" in link and "per_page=2" in link
    seen = [d["name"] for d in body["items"]]
    for page in (2, 3):
        resp = fo.get(f"/api/v1/donors?per_page=2&sort=-name&page={page}")
        seen += [d["name"] for d in resp.get_json()["items"]]
    assert seen == sorted(names, reverse=True)
    last = fo.get("/api/v1/donors?per_page=2&page=3")
    assert 'page=2>; rel="prev"' in last.headers["Link"] and 'rel="next"' not in last.headers["Link"]
    beyond = fo.get("/api/v1/donors?per_page=2&page=9")
    assert beyond.status_code == 200 and beyond.get_json()["items"] == []


@pytest.mark.parametrize("url", ["/api/v1/donors?sort=budget", "/api/v1/donors?sort=-name,budget",
                                 "/api/v1/contributions?sort=name", "/api/v1/ledger/entries?sort=-amount",
                                 "/api/v1/exchange-rates?sort=rate", "/api/v1/audit/events?sort=actor"])
def test_an_unknown_sort_field_is_a_422_naming_it(api_as, url):
    resp = api_as("admin" if "audit" in url else "finance_officer").get(url)
    assert resp.status_code == 422, resp.get_json()
    messages = resp.get_json()["error"]["fields"]["sort"]
    unknown = url.rsplit(",", 1)[-1].rsplit("=", 1)[-1].lstrip("-")
    assert any(f"Unknown sort field: {unknown}." in m for m in messages), messages


def test_an_applicants_lists_sort_and_stay_its_own(seeded_fund, app):
    client = app.test_client()
    headers = seeded_fund.headers["applicant"]
    mine = client.get("/api/v1/applications?sort=-id", headers=headers).get_json()
    ids = [a["id"] for a in mine["items"]]
    assert ids and ids == sorted(ids, reverse=True)
    assert set(ids) <= set(seeded_fund.ids["application_id"])
    fm = seeded_fund.headers["fund_manager"]
    everything = client.get("/api/v1/applications?sort=id", headers=fm).get_json()
    assert [a["id"] for a in everything["items"]] == sorted(seeded_fund.ids["application_id"])
    assert client.get("/api/v1/grants?sort=status,-number", headers=fm).status_code == 200
    assert client.get("/api/v1/disbursements?sort=-requested_at", headers=fm).status_code == 200
    people = client.get("/api/v1/users?sort=-id&per_page=2", headers=fm)
    ids = [u["id"] for u in people.get_json()["items"]]
    assert ids == sorted(seeded_fund.ids["user_id"][1:], reverse=True)[:2] and 'rel="next"' in people.headers["Link"]
    found = client.get("/api/v1/search?q=Espoir", headers=fm)
    assert found.status_code == 200 and 'rel="first"' in found.headers["Link"]


# Enums ----------------------------------------------------------------------------------------------------------

def _enum(document, schema: str, prop: str) -> list:
    spec = document["components"]["schemas"][schema]["properties"][prop]
    spec = spec.get("items", spec)
    return [v for v in spec["enum"] if v is not None]


def test_output_statuses_and_kinds_are_enums_from_the_workflow_tables(document):
    from donors.models import DONOR_TYPES, INSTALMENT_STATUSES, PLEDGE_STATUSES
    from fund.accounting import ledger
    from fund.models import ROLES
    from fund.vocabulary import AGE_BANDS, ASSISTANCE_TYPES, FORMS_OF_EXPLOITATION, SEXES
    from grants.awards.models import CONDITIONS, REPORT_KINDS
    from grants.awards.templating import TRANCHE_STATUS
    from grants.awards.workflow import DISBURSEMENT_STATES, GRANT_STATES, REPORT_STATES
    from grants.review.models import (
        DECISION_OUTCOMES,
        ITEM_RESULTS,
        RECOMMENDATIONS,
        SANCTIONS_KINDS,
        SCREENING_OUTCOMES,
    )
    from grants.review.workflow import REVIEW_STATES
    from grants.workflow import APPLICANT_STATUS_LABELS, APPLICATION_STATES, CALL_STATES

    expected = {
        ("ApplicationOut", "status"): [*APPLICATION_STATES, *(s for s in APPLICANT_STATUS_LABELS
                                                              if s not in APPLICATION_STATES)],
        ("ApplicationOut", "forms_of_exploitation"): list(FORMS_OF_EXPLOITATION),
        ("ApplicationOut", "assistance_types"): list(ASSISTANCE_TYPES),
        ("BeneficiaryOut", "sex"): list(SEXES), ("BeneficiaryOut", "age_band"): list(AGE_BANDS),
        ("CellOut", "sex"): list(SEXES), ("CellOut", "age_band"): list(AGE_BANDS),
        ("CallOut", "status"): list(CALL_STATES),
        ("CallOut", "priority_forms"): list(FORMS_OF_EXPLOITATION),
        ("GrantOut", "status"): list(GRANT_STATES),
        ("DisbursementOut", "status"): list(DISBURSEMENT_STATES),
        ("ReportSummaryOut", "status"): list(REPORT_STATES), ("ReportSummaryOut", "kind"): list(REPORT_KINDS),
        ("TrancheOut", "status"): list(TRANCHE_STATUS), ("TrancheOut", "condition"): list(CONDITIONS),
        ("PledgeOut", "status"): list(PLEDGE_STATUSES), ("InstalmentOut", "status"): list(INSTALMENT_STATUSES),
        ("DonorOut", "type"): list(DONOR_TYPES),
        ("EntryOut", "kind"): list(ledger.KINDS), ("PostingOut", "account"): list(ledger.ACCOUNTS),
        ("ScreeningOut", "outcome"): list(SCREENING_OUTCOMES),
        ("ScreeningOut", "application_status"): list(APPLICATION_STATES),
        ("ScreeningItemOut", "result"): list(ITEM_RESULTS),
        ("ReviewOut", "status"): list(REVIEW_STATES), ("AssignmentOut", "status"): list(REVIEW_STATES),
        ("ReviewOut", "recommendation"): list(RECOMMENDATIONS),
        ("UserOut", "role"): list(ROLES), ("SanctionsMatchOut", "kind"): list(SANCTIONS_KINDS),
        ("RankingRowOut", "status"): list(APPLICATION_STATES),
        ("DecisionOut", "outcome"): list(DECISION_OUTCOMES),
        ("StatementOut", "status"): ["valid", "void"],
        ("BankDetailsVersionOut", "status"): ["applied", "pending", "verified", "rejected", "superseded"],
    }
    for (schema, prop), values in expected.items():
        assert _enum(document, schema, prop) == values, (schema, prop)
