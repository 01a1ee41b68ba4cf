"""The donors API: donors, pledges with instalments, confirmation, write-off, cancellation, contributions with
rates, refusals that name the field and write nothing, and who may see what."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from donors.models import Contribution, Pledge
from fund.accounting.ledger import JournalEntry
from fund.audit import AuditEvent
from fund.db import db

TODAY = dt.datetime.now(dt.UTC).date()
MONTH = TODAY.strftime("%Y-%m")


@pytest.fixture
def fo(api_as):
    return api_as("finance_officer")


def make_donor(fo, name="Norway", **fields):
    resp = fo.post("/api/v1/donors", json={"name": name, "type": "member_state", "country": "NO", **fields})
    assert resp.status_code == 201, resp.json
    return resp.json


def set_rate(fo, currency, value, month=MONTH):
    resp = fo.post("/api/v1/exchange-rates", json={"currency": currency, "month": month, "units_per_usd": value})
    assert resp.status_code in (200, 201), resp.json
    return resp.json


def pledge(fo, donor_id, amount, currency, **fields):
    body = {"amount": amount, "currency": currency, "pledged_on": TODAY.isoformat(), **fields}
    resp = fo.post(f"/api/v1/donors/{donor_id}/pledges", json=body)
    assert resp.status_code == 201, resp.json
    return resp.json


def pay(fo, donor_id, amount, currency, reference, pledge_id=None, **extra):
    body = {"donor_id": donor_id, "amount": amount, "currency": currency, "received_on": TODAY.isoformat(),
            "bank_reference": reference, **({"pledge_id": pledge_id} if pledge_id else {}), **extra}
    return fo.post("/api/v1/contributions", json=body)


def counts(app):
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Contribution)),
                db.session.scalar(select(func.count()).select_from(JournalEntry)),
                db.session.scalar(select(func.count()).select_from(Pledge)))


def test_a_pledge_paid_in_two_currencies_of_the_fund(app, fo):
    donor = make_donor(fo, "Japan", country="JP")
    set_rate(fo, "JPY", "150")
    p = pledge(fo, donor["id"], "3000000", "JPY", status="confirmed",
               instalments=[{"due_on": "2030-01-31", "amount": "1000000"},
                            {"due_on": "2030-06-30", "amount": "2000000"}],
               earmark={"type": "region", "value": "West Africa"})
    assert p["status"] == "confirmed" and p["outstanding"] == "3000000" and p["earmark"]["value"] == "West Africa"
    assert [i["amount"] for i in p["instalments"]] == ["1000000", "2000000"]

    resp = pay(fo, donor["id"], "1200000", "JPY", "JP-1", p["id"])
    assert resp.status_code == 201, resp.json
    c = resp.json
    assert c["usd_amount"] == "8000.00" and c["exchange_rate"] == "150" and c["rate_month"] == MONTH
    assert c["id"] and c["ledger_entry_id"] and c["unpledged"] is False

    got = fo.get(f"/api/v1/pledges/{p['id']}").json
    assert got["status"] == "partially_paid" and got["received"] == "1200000" and got["outstanding"] == "1800000"
    assert [(i["paid"], i["status"]) for i in got["instalments"]] == [("1000000", "paid"), ("200000", "partly_paid")]

    detail = fo.get(f"/api/v1/donors/{donor['id']}").json
    assert detail["totals"] == {"currency": "USD", "pledged": "20000.00", "received": "8000.00",
                                "written_off": "0.00", "outstanding": "12000.00"}

    assert pay(fo, donor["id"], "1800000", "JPY", "JP-2", p["id"]).status_code == 201
    assert fo.get(f"/api/v1/pledges/{p['id']}").json["status"] == "paid"
    position = fo.get("/api/v1/fund/position").json
    assert position["received"] == "20000.00" and position["receivable"] == "0.00" and position["cash"] == "20000.00"


def test_exchange_difference_between_pledge_and_payment_goes_to_fx(app, fo):
    donor = make_donor(fo)
    last_month = (TODAY.replace(day=1) - dt.timedelta(days=1))
    set_rate(fo, "EUR", "0.80", last_month.strftime("%Y-%m"))
    set_rate(fo, "EUR", "1.00")
    p = pledge(fo, donor["id"], "1000.00", "EUR", status="confirmed", pledged_on=last_month.isoformat())
    c = pay(fo, donor["id"], "1000.00", "EUR", "EUR-1", p["id"]).json
    assert c["usd_amount"] == "1000.00"
    with app.app_context():
        entry = db.session.get(JournalEntry, c["ledger_entry_id"])
        lines = {(p.account, p.currency): (p.amount, p.usd) for p in entry.postings}
        assert lines[("cash", "EUR")] == (Decimal("1000.00"), Decimal("1000.00"))
        assert lines[("contributions_receivable", "EUR")] == (Decimal("-1000.00"), Decimal("-1250.00"))
        assert lines[("fx_gain_loss", "EUR")] == (Decimal("0.00"), Decimal("250.00"))
    position = fo.get("/api/v1/fund/position").json
    assert position["fx_gain_loss"] == "-250.00" and position["receivable"] == "0.00"


def test_a_payment_on_an_announced_pledge_confirms_it(app, fo):
    donor = make_donor(fo)
    p = pledge(fo, donor["id"], "500.00", "USD")
    assert p["status"] == "announced"
    assert pay(fo, donor["id"], "200.00", "USD", "R-1", p["id"]).status_code == 201
    got = fo.get(f"/api/v1/pledges/{p['id']}").json
    assert got["status"] == "partially_paid" and got["confirmed_on"] == TODAY.isoformat()
    assert got["outstanding"] == "300.00"


def test_unpledged_contribution_and_overpayment(app, fo):
    donor = make_donor(fo)
    p = pledge(fo, donor["id"], "100.00", "USD", status="confirmed")
    before = counts(app)
    resp = pay(fo, donor["id"], "100.01", "USD", "R-over", p["id"])
    assert resp.status_code == 422 and "amount" in resp.json["error"]["fields"]
    assert "unpledged" in resp.json["error"]["fields"]["amount"][0]
    assert counts(app) == before
    resp = pay(fo, donor["id"], "100.01", "USD", "R-over")
    assert resp.status_code == 201 and resp.json["unpledged"] is True
    assert fo.get(f"/api/v1/pledges/{p['id']}").json["outstanding"] == "100.00"


@pytest.mark.parametrize("change, field", [
    ({"currency": "XYZ"}, "currency"),
    ({"currency": "eu"}, "currency"),
    ({"amount": "10.001"}, "amount"),
    ({"currency": "JPY", "amount": "10.5"}, "amount"),
    ({"currency": "KWD", "amount": "10.0001"}, "amount"),
    ({"amount": "-5.00"}, "amount"),
    ({"amount": "0"}, "amount"),
    ({"amount": 10.5}, "amount"),
    ({"amount": "ten"}, "amount"),
    ({"received_on": "2999-01-01"}, "received_on"),
    ({"bank_reference": ""}, "bank_reference"),
    ({"donor_id": 999999}, "donor_id"),
    ({"currency": "GBP"}, "currency"),  # no rate for GBP this month
    ({"surprise": 1}, "surprise"),
])
def test_bad_contributions_name_the_field_and_write_nothing(app, fo, change, field):
    donor = make_donor(fo)
    set_rate(fo, "EUR", "0.9")
    before = counts(app)
    body = {"donor_id": donor["id"], "amount": "10.00", "currency": "EUR", "received_on": TODAY.isoformat(),
            "bank_reference": "B-1", **change}
    resp = fo.post("/api/v1/contributions", json=body)
    assert resp.status_code == 422, resp.json
    assert field in resp.json["error"]["fields"], resp.json
    assert counts(app) == before


def test_missing_rate_says_which_currency_and_month(app, fo):
    donor = make_donor(fo)
    resp = pay(fo, donor["id"], "10.00", "CHF", "C-1")
    assert resp.status_code == 422
    message = resp.json["error"]["message"]
    assert "CHF" in message and MONTH in message
    assert set(resp.json["error"]["fields"]) >= {"currency", "received_on"}


def test_duplicate_bank_reference_and_pledge_of_another_donor(app, fo):
    norway, sweden = make_donor(fo), make_donor(fo, "Sweden", country="SE")
    p = pledge(fo, sweden["id"], "100.00", "USD", status="confirmed")
    assert pay(fo, norway["id"], "10.00", "USD", "DUP-1").status_code == 201
    before = counts(app)
    resp = pay(fo, norway["id"], "10.00", "USD", "DUP-1")
    assert resp.status_code == 422 and "bank_reference" in resp.json["error"]["fields"]
    resp = pay(fo, norway["id"], "10.00", "USD", "OTHER-1", p["id"])
    assert resp.status_code == 422 and resp.json["error"]["fields"]["pledge_id"] == [
        "This pledge belongs to another donor."]
    assert counts(app) == before


def test_payment_in_another_currency_than_the_pledge_is_refused(app, fo):
    donor = make_donor(fo)
    set_rate(fo, "EUR", "0.9")
    p = pledge(fo, donor["id"], "100.00", "USD", status="confirmed")
    resp = pay(fo, donor["id"], "10.00", "EUR", "X-1", p["id"])
    assert resp.status_code == 422 and "currency" in resp.json["error"]["fields"]


@pytest.mark.parametrize("change, field", [
    ({"instalments": [{"due_on": "2030-01-01", "amount": "40.00"}, {"due_on": "2030-02-01", "amount": "50.00"}]},
     "instalments"),
    ({"instalments": [{"due_on": "2030-01-01", "amount": "100.001"}]}, "instalments"),
    ({"currency": "QQQ"}, "currency"),
    ({"amount": "1.5", "currency": "JPY"}, "amount"),
    ({"status": "paid"}, "status"),
    ({"earmark": {"type": "colour", "value": "blue"}}, "earmark"),
    ({"status": "confirmed", "currency": "NOK"}, "currency"),  # no NOK rate: nothing written
])
def test_bad_pledges_are_refused(app, fo, change, field):
    donor = make_donor(fo)
    before = counts(app)
    body = {"amount": "100.00", "currency": "USD", "pledged_on": TODAY.isoformat(), **change}
    resp = fo.post(f"/api/v1/donors/{donor['id']}/pledges", json=body)
    assert resp.status_code == 422, resp.json
    assert field in resp.json["error"]["fields"]
    assert counts(app) == before


def test_write_off_and_cancel(app, fo):
    donor = make_donor(fo)
    p = pledge(fo, donor["id"], "100.00", "USD", status="confirmed")
    assert pay(fo, donor["id"], "60.00", "USD", "W-1", p["id"]).status_code == 201
    resp = fo.post(f"/api/v1/pledges/{p['id']}/write-off", json={"amount": "50.00", "reason": "too much"})
    assert resp.status_code == 422 and "amount" in resp.json["error"]["fields"]
    resp = fo.post(f"/api/v1/pledges/{p['id']}/write-off", json={"amount": "10.00", "reason": "bank charges"})
    assert resp.status_code == 200 and resp.json["status"] == "partially_paid"
    assert resp.json["written_off"] == "10.00" and resp.json["outstanding"] == "30.00"
    resp = fo.post(f"/api/v1/pledges/{p['id']}/cancel", json={"reason": "changed mind"})
    assert resp.status_code == 409
    resp = fo.post(f"/api/v1/pledges/{p['id']}/write-off", json={"reason": "will not come"})
    assert resp.json["status"] == "written_off" and resp.json["outstanding"] == "0.00"
    assert fo.get(f"/api/v1/donors/{donor['id']}").json["totals"]["written_off"] == "40.00"
    resp = pay(fo, donor["id"], "1.00", "USD", "W-2", p["id"])
    assert resp.status_code == 422 and "pledge_id" in resp.json["error"]["fields"]

    other = pledge(fo, donor["id"], "70.00", "USD", status="confirmed")
    resp = fo.post(f"/api/v1/pledges/{other['id']}/cancel", json={"reason": "agreement not signed"})
    assert resp.status_code == 200 and resp.json["status"] == "cancelled" and resp.json["outstanding"] == "0.00"
    assert fo.get("/api/v1/fund/position").json["receivable"] == "0.00"
    resp = fo.post(f"/api/v1/pledges/{other['id']}/confirm", json={})
    assert resp.status_code == 409


def test_confirm_needs_the_months_rate(app, fo):
    donor = make_donor(fo)
    p = pledge(fo, donor["id"], "1000.00", "SEK")
    resp = fo.post(f"/api/v1/pledges/{p['id']}/confirm", json={})
    assert resp.status_code == 422 and "SEK" in resp.json["error"]["message"]
    set_rate(fo, "SEK", "10")
    resp = fo.post(f"/api/v1/pledges/{p['id']}/confirm", json={})
    assert resp.status_code == 200 and resp.json["status"] == "confirmed"
    assert fo.get(f"/api/v1/donors/{donor['id']}").json["totals"]["pledged"] == "100.00"


def test_reversing_a_contribution_reopens_the_pledge(app, fo):
    donor = make_donor(fo)
    p = pledge(fo, donor["id"], "100.00", "USD", status="confirmed")
    c = pay(fo, donor["id"], "100.00", "USD", "REV-1", p["id"]).json
    assert fo.get(f"/api/v1/pledges/{p['id']}").json["status"] == "paid"
    resp = fo.post(f"/api/v1/ledger/entries/{c['ledger_entry_id']}/reverse", json={"reason": "bounced"})
    assert resp.status_code == 201 and resp.json["reversal_of_id"] == c["ledger_entry_id"]
    got = fo.get(f"/api/v1/pledges/{p['id']}").json
    assert got["status"] == "confirmed" and got["outstanding"] == "100.00"
    listed = fo.get(f"/api/v1/contributions?donor_id={donor['id']}").json["items"]
    assert listed[0]["reversed"] is True and listed[0]["reversal_entry_id"] == resp.json["id"]
    again = fo.post(f"/api/v1/ledger/entries/{c['ledger_entry_id']}/reverse", json={"reason": "twice"})
    assert again.status_code == 409 and "already been reversed" in again.json["error"]["message"]
    with app.app_context():
        actions = db.session.execute(select(AuditEvent.action)).scalars().all()
        assert {"contribution.create", "ledger.post", "ledger.reverse", "contribution.reverse",
                "pledge.correct"} <= set(actions)


def test_a_confirmation_cannot_be_reversed_while_payments_stand(app, fo):
    donor = make_donor(fo)
    p = pledge(fo, donor["id"], "100.00", "USD", status="confirmed")
    pay(fo, donor["id"], "30.00", "USD", "P-1", p["id"])
    entries = fo.get(f"/api/v1/ledger/entries?pledge_id={p['id']}&kind=pledge_confirmed").json["items"]
    assert len(entries) == 1
    resp = fo.post(f"/api/v1/ledger/entries/{entries[0]['id']}/reverse", json={"reason": "mistake"})
    assert resp.status_code == 409
    assert fo.get(f"/api/v1/pledges/{p['id']}").json["status"] == "partially_paid"


def test_donor_users_see_their_own_donor_only(app, fo, api_as, make_user):
    norway, sweden = make_donor(fo), make_donor(fo, "Sweden", country="SE")
    p = pledge(fo, sweden["id"], "100.00", "USD", status="confirmed")
    pay(fo, sweden["id"], "10.00", "USD", "S-1", p["id"])
    pay(fo, norway["id"], "10.00", "USD", "N-1")
    donor_user = api_as(make_user("donor", donor_id=norway["id"]))
    assert donor_user.get(f"/api/v1/donors/{norway['id']}").status_code == 200
    assert donor_user.get(f"/api/v1/donors/{sweden['id']}").status_code == 404
    assert donor_user.get(f"/api/v1/donors/{sweden['id']}/pledges").status_code == 404
    assert donor_user.get(f"/api/v1/pledges/{p['id']}").status_code == 404
    assert [d["id"] for d in donor_user.get("/api/v1/donors").json["items"]] == [norway["id"]]
    assert donor_user.get(f"/api/v1/contributions?donor_id={sweden['id']}").status_code == 404
    mine = donor_user.get("/api/v1/contributions").json["items"]
    assert [c["bank_reference"] for c in mine] == ["N-1"]
    assert donor_user.post("/api/v1/donors", json={"name": "X", "type": "other"}).status_code == 403
    assert pay(donor_user, norway["id"], "1.00", "USD", "N-2").status_code == 403


def test_staff_read_but_only_finance_writes(app, fo, api_as):
    donor = make_donor(fo)
    for role in ("fund_manager", "auditor"):
        client = api_as(role)
        assert client.get(f"/api/v1/donors/{donor['id']}").status_code == 200
        assert client.get("/api/v1/contributions").status_code == 200
        assert client.post("/api/v1/donors", json={"name": "Y", "type": "other"}).status_code == 403
    assert api_as("applicant").get("/api/v1/donors").status_code == 403


def test_donor_input_is_checked(app, fo):
    resp = fo.post("/api/v1/donors", json={"name": "Atlantis", "type": "member_state", "country": "ZZ"})
    assert resp.status_code == 422 and "country" in resp.json["error"]["fields"]
    resp = fo.post("/api/v1/donors", json={"name": "Atlantis", "type": "member_state"})
    assert resp.status_code == 422 and "country" in resp.json["error"]["fields"]
    resp = fo.post("/api/v1/donors", json={"name": "Atlantis", "type": "pirate"})
    assert resp.status_code == 422 and "type" in resp.json["error"]["fields"]
    d = make_donor(fo, "A Friend", type="individual", country=None, anonymous=True, language="fr")
    assert d["anonymous"] is True and d["language"] == "fr" and d["country"] is None
    resp = fo.post("/api/v1/donors", json={"name": "a friend", "type": "individual"})
    assert resp.status_code == 422 and "name" in resp.json["error"]["fields"]


def test_lists_are_paginated(app, fo):
    for i in range(3):
        make_donor(fo, f"Donor {i}")
    page = fo.get("/api/v1/donors?per_page=2").json
    assert len(page["items"]) == 2 and page["meta"]["total"] == 3 and page["meta"]["pages"] == 2


def test_paying_the_rest_of_a_partly_written_off_pledge_closes_it_written_off(app, fo):
    donor = make_donor(fo)
    p = pledge(fo, donor["id"], "100.00", "USD", status="confirmed")
    fo.post(f"/api/v1/pledges/{p['id']}/write-off", json={"amount": "10.00", "reason": "bank charges"})
    resp = pay(fo, donor["id"], "90.00", "USD", "REST-1", p["id"])
    assert resp.status_code == 201, resp.json
    got = fo.get(f"/api/v1/pledges/{p['id']}").json
    assert got["status"] == "written_off" and got["outstanding"] == "0.00" and got["received"] == "90.00"
