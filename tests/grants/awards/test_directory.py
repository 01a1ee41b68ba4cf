"""fund.grant_directory.directory(): what donor outputs read about grants, from accepted reports only."""

from __future__ import annotations

import datetime as dt

from fund import grant_directory
from grants.awards.directory import AwardsDirectory
from tests.grants.awards.conftest import sign_and_countersign
from tests.grants.awards.reports_data import report_body


def _interim(w, grant, *, accept: bool):
    interim = next(r for r in grant["reports"] if r["kind"] == "interim")
    body = report_body("interim", grant, shares={"personnel": "10800.00", "shelter": "7200.00",
                                                 "indirect": "1250.00"})
    assert w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=body).status_code == 201
    assert w.ngo.post(f"/api/v1/reports/{interim['id']}/submit").status_code == 200
    if accept:
        assert w.fm.post(f"/api/v1/reports/{interim['id']}/accept").status_code == 200
    return interim


def test_results_come_from_accepted_reports_only(app, world):
    w = world()
    sign_and_countersign(w)
    grant = w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()
    with app.app_context():
        directory = grant_directory.directory()
        assert isinstance(directory, AwardsDirectory)
    interim = _interim(w, grant, accept=False)
    with app.app_context():
        assert grant_directory.directory().results([w.grant_id]) == {}  # submitted, not accepted
    assert w.fm.post(f"/api/v1/reports/{interim['id']}/accept").status_code == 200
    with app.app_context():
        found = grant_directory.directory().results([w.grant_id, 999])
    assert list(found) == [w.grant_id]
    r = found[w.grant_id]
    assert r.by_sex_age == {("female", "18-24"): 9, ("male", "25-59"): 4, ("other_or_not_recorded", "not_recorded"): 2}
    assert r.total == 15
    assert r.by_form == {"forced_labour": 12, "not_recorded": 3}
    assert r.by_assistance == {"shelter": 10, "legal_counselling": 5}
    assert r.by_country == {"SN": 15}
    end = dt.date.fromisoformat(interim["period_end"])
    with app.app_context():
        assert grant_directory.directory().results([w.grant_id], end + dt.timedelta(days=1), None) == {}
        assert list(grant_directory.directory().results([w.grant_id], end, end)) == [w.grant_id]


def test_grant_facts_and_earmarks(app, world):
    w = world()
    with app.app_context():
        d = grant_directory.directory()
        info = d.grants([w.grant_id, 12345])
        assert list(info) == [w.grant_id]
        g = info[w.grant_id]
        assert g.number.startswith("VTF/") and g.organisation == "Association Espoir"
        assert (g.countries, g.funding_window, g.regions) == (("SN",), "medium_term", ("Africa",))
        assert set(g.themes) == {"forced_labour", "shelter", "legal_counselling"}

        assert d.grants_matching(funding_window="Sub-grant programme 2 (medium-term assistance)") == [w.grant_id]
        assert d.grants_matching(funding_window="medium_term") == [w.grant_id]
        assert d.grants_matching(funding_window="Sub-grant programme 1 (emergency assistance)") == []
        assert d.grants_matching(region="West Africa") == [w.grant_id]
        assert d.grants_matching(region="Sénégal") == [w.grant_id]
        assert d.grants_matching(region="Europe") == []
        assert d.grants_matching(theme="Forced labour") == [w.grant_id]
        assert d.grants_matching(theme="Travail forcé") == [w.grant_id]
        assert d.grants_matching(theme="Child victims") == []  # the project assists adults
        assert d.grants_matching(theme="Forced labour", region="Asia") == []
