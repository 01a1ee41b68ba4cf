"""Numbers that do not fit are refused, never a server error: ``1E+30``, ``NaN``, ``Infinity``, ``-0``, a 40-digit
number and 2^63 sent to every money or decimal field and every id of the OpenAPI document (422 naming the field;
path ids are 404), and to every number input of the portal's forms."""

from __future__ import annotations

import re

import pytest

from tests.api.test_openapi_conformance import ROLES, schema

DOCUMENT = schema.raw_schema
FORTY_DIGITS = "1234567890" * 4
TOO_BIG = ["1E+30", "NaN", "Infinity", "-Infinity", FORTY_DIGITS, str(2**63), "1e999999", "0." + "1" * 40]
TOO_BIG_JSON = [*TOO_BIG, 2**63, int(FORTY_DIGITS), 1e30]
BAD_IDS = [2**31, 2**63, int(FORTY_DIGITS)]


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        node = DOCUMENT["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _number_paths(node: dict, prefix: tuple = ()) -> list[tuple[tuple, str]]:
    """(path to the field, "decimal" or "id") of every decimal string and integer id in a request schema."""
    node = _resolve(node)
    found = []
    for name, prop in (node.get("properties") or {}).items():
        prop = _resolve(prop)
        if prop.get("type") == "string" and "pattern" in prop and "[0-9]" in prop["pattern"]:
            found.append(((*prefix, name), "decimal"))
        elif prop.get("type") == "integer":
            found.append(((*prefix, name), "integer"))
        elif prop.get("type") == "array" and _resolve(prop.get("items", {})).get("properties"):
            found.extend(_number_paths(prop["items"], (*prefix, name, 0)))
        elif prop.get("type") == "object" and prop.get("properties"):
            found.extend(_number_paths(prop, (*prefix, name)))
    return found


def _nest(path: tuple, value):
    for key in reversed(path):
        value = [value] if isinstance(key, int) else {key: value}
    return value


def _operations():
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method.upper(), path, operation


BODY_FIELDS = [
    (method, path, field, kind)
    for method, path, operation in _operations()
    for field, kind in _number_paths(
        (operation.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema", {}))
]
QUERY_INTEGERS = [
    (method, path, p["name"])
    for method, path, operation in _operations()
    for p in operation.get("parameters", []) + DOCUMENT["paths"][path].get("parameters", [])
    if p["in"] == "query" and p.get("schema", {}).get("type") == "integer"
]
PATH_IDS = [(method, path) for method, path, _ in _operations() if re.search(r"\{\w+_id\}", path)]


def test_the_document_has_the_fields_this_test_walks():
    """The walk finds money in bodies (amounts, unit costs, rates, percentages), ids in queries and paths."""
    decimal_fields = {f[-1] for _, _, f, kind in BODY_FIELDS if kind == "decimal"}
    assert {"amount", "unit_cost", "quantity", "units_per_usd", "percent", "spent"} <= decimal_fields
    assert len(PATH_IDS) > 40 and QUERY_INTEGERS


def _url(path: str, ids: dict, override: int | None = None) -> str:
    def fill(match):
        name = match.group(1)
        return str(override if override is not None else (ids.get(name) or [1])[0])

    return re.sub(r"\{(\w+)\}", fill, path).replace("{number}", "VTF-2026-0001")


@pytest.mark.parametrize(("method", "path", "field", "kind"), BODY_FIELDS,
                         ids=[f"{m} {p} {'.'.join(map(str, f))}" for m, p, f, _ in BODY_FIELDS])
def test_oversized_numbers_in_a_body_are_422_naming_the_field(app, seeded_fund, method, path, field, kind):
    client = app.test_client()
    url = _url(path, seeded_fund.ids)
    values = TOO_BIG_JSON if kind == "decimal" else [2**31, 2**63, int(FORTY_DIGITS), "1E+30", 1e30]
    named = 0
    for value in values:
        for role in (*ROLES, "admin"):  # staff accounts are an administrator's
            resp = client.open(url, method=method, json=_nest(field, value), headers=seeded_fund.headers[role])
            assert resp.status_code < 500, (role, value, resp.get_data(as_text=True)[:300])
            if resp.status_code == 422:
                fields = resp.get_json()["error"]["fields"]
                assert field[0] in fields or "_schema" in fields, (role, value, fields)
                named += field[0] in fields
    assert named, f"no role got a 422 naming {field[0]} for {method} {path}"


@pytest.mark.parametrize(("method", "path"), PATH_IDS, ids=[f"{m} {p}" for m, p in PATH_IDS])
def test_oversized_ids_in_a_path_are_404(app, seeded_fund, method, path):
    client = app.test_client()
    for bad in BAD_IDS:
        for headers in ({}, seeded_fund.headers["fund_manager"]):
            resp = client.open(_url(path, {}, override=bad), method=method, json={}, headers=headers)
            assert resp.status_code == 404, (bad, resp.status_code, resp.get_data(as_text=True)[:200])
            assert resp.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("method", "path", "name"), QUERY_INTEGERS, ids=[f"{m} {p} {n}" for m, p, n in QUERY_INTEGERS])
def test_oversized_ids_in_a_query_are_422(app, seeded_fund, method, path, name):
    client = app.test_client()
    for bad in [*BAD_IDS, "1E+30", "NaN"]:
        for role in ROLES:
            resp = client.open(_url(path, seeded_fund.ids), method=method, query_string={name: bad},
                               headers=seeded_fund.headers[role])
            assert resp.status_code < 500, (role, bad, resp.get_data(as_text=True)[:200])
            if resp.status_code not in (401, 403, 404):
                assert resp.status_code == 422 and name in resp.get_json()["error"]["fields"], (role, bad)


def test_minus_zero_is_zero(app, seeded_fund):
    """``-0`` is a number, and zero: refused where an amount must be positive, read as 0 where zero may be."""
    client = app.test_client()
    resp = client.post("/api/v1/contributions", json={"amount": "-0", "currency": "USD"},
                       headers=seeded_fund.headers["finance_officer"])
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"]["amount"] == ["Must be greater than zero."]
