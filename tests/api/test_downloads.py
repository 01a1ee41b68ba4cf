"""Downloads answer in the media type the ``format`` parameter names, exactly, with one charset."""

from __future__ import annotations

import datetime as dt

import pytest


@pytest.mark.parametrize(("fmt", "content_type", "start"), [
    ("csv", "text/csv; charset=utf-8", "\ufeffsection,item".encode()),
    ("json", "application/json", b"{"),
    ("pdf", "application/pdf", b"%PDF"),
])
def test_a_statement_in_each_format(app, seeded_fund, fmt, content_type, start):
    year = dt.date.today().year
    resp = app.test_client().get(f"/api/v1/donors/{seeded_fund.ids['donor_id'][0]}/statement",
                                 query_string={"from": f"{year}-01-01", "to": f"{year}-01-31", "format": fmt},
                                 headers=seeded_fund.headers["finance_officer"])
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == content_type
    assert resp.get_data().startswith(start)


def test_an_unknown_format_is_a_422_naming_it(app, seeded_fund):
    resp = app.test_client().get(f"/api/v1/donors/{seeded_fund.ids['donor_id'][0]}/statement",
                                 query_string={"from": "2026-01-01", "to": "2026-01-31", "format": "xlsx"},
                                 headers=seeded_fund.headers["finance_officer"])
    assert resp.status_code == 422 and "format" in resp.get_json()["error"]["fields"]
