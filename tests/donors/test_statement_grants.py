"""Statements against the real grants directory (grants.awards.directory, registered at start-up): two grants
paid from the donor's money, each with an accepted interim report, one of which assisted 3 victims. The 3 shows as
"<5" in the donor portal, the statement PDF, CSV and JSON, and no total lets it be recomputed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fund import grant_directory
from fund.db import db
from fund.suppression import SMALL, WITHHELD
from grants.awards.directory import AwardsDirectory
from tests.donors import factories as f
from tests.donors.statement_support import pdf_text
from tests.grants.awards import factories as af
from tests.grants.awards.conftest import World, sign_and_countersign
from tests.grants.awards.reports_data import report_body

THREE = {"sex_age": [{"sex": "female", "age_band": "18-24", "count": 3}], "form": {"forced_labour": 3},
         "assistance": {"shelter": 3}, "country": {"SN": 3}}


def _grant(app, make_user, api_as, manager, officers, results_body) -> tuple[int, dict]:
    applicant = make_user("applicant")
    with app.test_request_context():
        grant_id = af.make_grant(applicant=applicant, cash=None).id
        db.session.commit()
    w = World(grant_id, applicant, manager, officers[0], officers[1], None, api_as(applicant), api_as(manager),
              api_as(officers[0]), api_as(officers[1]), None)
    sign_and_countersign(w)
    d = w.fo.post(f"/api/v1/grants/{grant_id}/disbursements", json={"tranche": 1, "amount": "26950.00"}).get_json()
    assert w.fo2.post(f"/api/v1/disbursements/{d['id']}/approve").status_code == 200
    paid = w.fo.post(f"/api/v1/disbursements/{d['id']}/pay",
                     json={"payment_reference": f"BANK-{grant_id}", "paid_on": af.today().isoformat()})
    assert paid.status_code == 200, paid.get_json()
    grant = w.ngo.get(f"/api/v1/grants/{grant_id}").get_json()
    interim = next(r for r in grant["reports"] if r["kind"] == "interim")
    body = report_body("interim", grant, shares={"personnel": "10800.00", "shelter": "7200.00",
                                                 "indirect": "1250.00"})
    if results_body is not None:
        body["results"] = results_body
    saved = w.ngo.post(f"/api/v1/grants/{grant_id}/reports", json=body)
    assert saved.status_code == 201, saved.get_json()
    assert w.ngo.post(f"/api/v1/reports/{interim['id']}/submit").status_code == 200
    assert w.fm.post(f"/api/v1/reports/{interim['id']}/accept", json={}).status_code == 200
    return grant_id, grant


def test_a_grant_with_three_victims_shows_as_small_everywhere(app, make_user, api_as, login_as):
    with app.app_context():
        assert isinstance(grant_directory.directory(), AwardsDirectory)
    with app.test_request_context():
        donor = f.donor("Government of Iceland")
        f.contribution(donor, "200000.00", "USD", received_on=af.today(), reference="IS-1")
        db.session.commit()
        donor_id = donor.id
    manager = make_user("fund_manager")
    officers = (make_user("finance_officer"), make_user("finance_officer"))
    small_id, small = _grant(app, make_user, api_as, manager, officers, THREE)
    big_id, big = _grant(app, make_user, api_as, manager, officers, None)  # 15 victims (reports_data.RESULTS)
    end = max(dt.date.fromisoformat(r["period_end"]) for g in (small, big) for r in g["reports"]
              if r["kind"] == "interim")
    start = af.today() - dt.timedelta(days=30)
    to = max(end, af.today())
    query = f"from={start.isoformat()}&to={to.isoformat()}"

    donor_user = make_user("donor", donor_id=donor_id)
    data = api_as(donor_user).get(f"/api/v1/donors/{donor_id}/statement?{query}&format=json").get_json()
    use = data["use_of_funds"]
    assert [(g["grant_id"], g["total"]) for g in use["grants"]] == [(small_id, "26950.00"), (big_id, "26950.00")]
    assert Decimal(use["attributed"]) + Decimal(use["psc"]) + Decimal(use["held"]) == Decimal("200000.00")
    assert data["results"]["grants"] == {str(small_id): SMALL, str(big_id): WITHHELD}
    assert data["results"]["total"] == 18
    assert data["results"]["by_country"] == {"SN": 18}  # both projects work in Senegal: the country is safe
    assert data["results"]["by_form"] == {"forced_labour": WITHHELD, "not_recorded": SMALL}  # 15 and 3
    # Reader's view of the grants line: "<5" + "x" (at least 5) = 18 leaves 1 to 4 open for the small grant.
    assert [a for a in range(1, 5) if 18 - a >= 5] == [1, 2, 3, 4]
    numbers = {g["grant_id"]: g["number"] for g in use["grants"]}

    pdf = api_as(donor_user).get(f"/api/v1/donors/{donor_id}/statement?{query}").data
    text = pdf_text(pdf)
    assert f"{numbers[small_id]} Association Espoir <5" in text
    assert f"{numbers[big_id]} Association Espoir x" in text
    assert "Victims assisted by these grants 18" in text

    page = login_as(donor_user).get(f"/donors/{donor_id}/statement?{query}").get_data(as_text=True)
    assert f'{numbers[small_id]}</td><td>Association Espoir</td><td class="num">&lt;5</td>' in page
    assert f'{numbers[big_id]}</td><td>Association Espoir</td><td class="num">x</td>' in page
    csv_text = api_as(donor_user).get(f"/api/v1/donors/{donor_id}/statement?{query}&format=csv").data.decode()
    assert f"results_grant,{numbers[small_id]},Association Espoir,,,,,,<5" in csv_text
    assert "results_grants,total,Victims assisted by these grants,,,,,,18" in csv_text
    assert ",3\r\n" not in csv_text.split("results_grants,total")[1]
