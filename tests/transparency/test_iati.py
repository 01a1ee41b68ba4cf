"""The IATI files validate against the official 2.03 schemas (../shared/iati-2.03) and say what the ledger and the
public results say."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from fund.accounting.figures import grants_figures

SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "iati-2.03"


def schema(name: str) -> etree.XMLSchema:
    path = SCHEMAS / name
    if not path.exists():  # CI lays shared/ beside the clone; a developer's tree has it beside main
        path = Path("/work/shared/iati-2.03") / name
    return etree.XMLSchema(etree.parse(str(path)))


@pytest.fixture(scope="module")
def activities_schema():
    return schema("iati-activities-schema.xsd")


@pytest.fixture(scope="module")
def organisation_schema():
    return schema("iati-organisations-schema.xsd")


def test_activities_validate_and_match_the_ledger(app, client, fund_world, activities_schema):
    resp = client.get("/iati/activities.xml")
    assert resp.status_code == 200 and resp.mimetype == "application/xml"
    doc = etree.fromstring(resp.data)
    activities_schema.assertValid(doc)
    assert doc.get("version") == "2.03"
    acts = {a.findtext("iati-identifier"): a for a in doc.findall("iati-activity")}
    big = acts[f"XX-VTF-GRANTS-{fund_world.big_number}"]
    small = acts[f"XX-VTF-GRANTS-{fund_world.small_number}"]
    assert big.find("reporting-org").get("ref") == "XX-VTF-GRANTS"
    assert [c.get("code") for c in small.findall("recipient-country")] == ["NP", "IN"]
    assert sum(int(c.get("percentage")) for c in small.findall("recipient-country")) == 100
    assert big.find("sector").get("code") == "15190"
    assert big.find("participating-org[@role='4']/narrative").text
    with app.app_context():
        figures = grants_figures([fund_world.big, fund_world.small])

    def total(act, code):
        return sum(Decimal(t.findtext("value")) for t in act.findall("transaction")
                   if t.find("transaction-type").get("code") == code)

    assert total(big, "2") == figures[fund_world.big].committed
    assert total(big, "3") == figures[fund_world.big].paid == Decimal("10000.00")
    assert total(small, "3") == 0
    # Results as the public table publishes them: the 3 is not given, nor the 15 that would give it away.
    assert small.find("result/indicator/period/actual").get("value") is None
    assert "Fewer than 5" in small.findtext("result/indicator/period/actual/comment/narrative")
    assert big.find("result/indicator/period/actual").get("value") is None


def test_the_reporting_organisation_comes_from_configuration(app, client, fund_world, activities_schema):
    app.config["IATI_REPORTING_ORG_REF"] = "XM-DAC-41146"
    try:
        doc = etree.fromstring(client.get("/iati/activities.xml").data)
    finally:
        app.config["IATI_REPORTING_ORG_REF"] = "XX-VTF-GRANTS"
    activities_schema.assertValid(doc)
    assert {a.find("reporting-org").get("ref") for a in doc.findall("iati-activity")} == {"XM-DAC-41146"}
    assert all(a.findtext("iati-identifier").startswith("XM-DAC-41146-") for a in doc.findall("iati-activity"))


def test_organisation_file_validates(client, fund_world, organisation_schema):
    resp = client.get("/iati/organisation.xml")
    doc = etree.fromstring(resp.data)
    organisation_schema.assertValid(doc)
    spent = doc.find("iati-organisation/total-expenditure")
    assert Decimal(spent.findtext("value")) == Decimal("11300.00")  # 10,000 paid + 1,300 PSC
    again = client.get("/iati/organisation.xml", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304  # unchanged data: the same file


def test_an_empty_fund(client, organisation_schema):
    assert client.get("/iati/activities.xml").status_code == 404  # IATI wants one activity at least
    organisation_schema.assertValid(etree.fromstring(client.get("/iati/organisation.xml").data))
