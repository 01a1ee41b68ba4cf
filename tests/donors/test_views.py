"""The donors portal: the donors list and a donor's pledges, instalments, payments and outstanding amounts; the
forms to record a donor, a pledge or a contribution and to confirm, cancel or write off; what donor users,
fund managers and auditors see; every write audited."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from donors.models import Donor, Pledge
from fund.audit import AuditEvent
from fund.db import db
from tests.donors import factories as f

TODAY = dt.datetime.now(dt.UTC).date()


def actions(app) -> list[str]:
    with app.app_context():
        return db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars().all()


def test_recording_a_donor_a_pledge_and_a_payment_through_the_forms(app, login_as, build):
    build("rate", "EUR", "0.9")
    client = login_as("finance_officer")
    resp = client.submit("/donors/", {"name": "", "type": "member_state", "country": "XX"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="name-error"' in html and 'id="country-error"' in html
    resp = client.submit("/donors/", {"name": "France", "type": "member_state", "country": "fr", "language": "fr"},
                         page="/donors/")
    assert resp.status_code == 302
    with app.app_context():
        donor = db.session.execute(select(Donor)).scalar_one()
        assert (donor.name, donor.country, donor.language) == ("France", "FR", "fr")
        donor_id = donor.id

    form_url = f"/donors/{donor_id}/pledges/new"
    resp = client.submit(form_url, {"amount": "300000.00", "currency": "EUR", "pledged_on": TODAY.isoformat(),
                                    "status": "confirmed", "instalments": "2030-01-31 100000.00\n2030-06-30 150000.00"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="instalments-error"' in html and "250000.00 EUR" in html
    resp = client.submit(form_url, {"amount": "300000.00", "currency": "EUR", "pledged_on": TODAY.isoformat(),
                                    "status": "confirmed", "instalments": "2030-01-31 100000.00\n2030-06-30 200000.00",
                                    "earmark_type": "funding_window", "earmark_value": "Sub-grant programme 1"})
    assert resp.status_code == 302
    with app.app_context():
        pledge = db.session.execute(select(Pledge)).scalar_one()
        assert pledge.status == "confirmed" and len(pledge.instalments) == 2
        pledge_id = pledge.id

    resp = client.submit("/donors/contributions/new", {"donor_id": donor_id, "pledge_id": pledge_id,
                                                       "amount": "120000.00", "currency": "GBP",
                                                       "received_on": TODAY.isoformat(), "bank_reference": "FR-1"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="currency-error"' in html
    resp = client.submit("/donors/contributions/new", {"donor_id": donor_id, "pledge_id": pledge_id,
                                                       "amount": "120000.00", "currency": "EUR",
                                                       "received_on": TODAY.isoformat(), "bank_reference": "FR-1"})
    assert resp.status_code == 302
    html = client.get(f"/donors/{donor_id}").get_data(as_text=True)
    assert "Partially paid" in html and "FR-1" in html and "133,333.33 USD" in html  # 120,000 EUR at 0.9
    assert "180,000.00 EUR" in html  # outstanding
    instalments = html.split("<caption>Instalments</caption>")[1].split("</table>")[0]
    assert instalments.count("<td>Paid</td>") == 1 and instalments.count("<td>Partly paid</td>") == 1
    assert "Sub-grant programme 1" in html

    resp = client.submit(f"/donors/pledges/{pledge_id}/write-off", {"amount": "999999.00", "reason": "x"},
                         page=f"/donors/{donor_id}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "At most the outstanding amount" in html
    resp = client.submit(f"/donors/pledges/{pledge_id}/write-off", {"reason": "the donor's budget was cut"},
                         page=f"/donors/{donor_id}")
    assert resp.status_code == 302
    assert "Written off" in client.get(f"/donors/{donor_id}").get_data(as_text=True)
    assert {"donor.create", "pledge.create", "pledge.confirm", "contribution.create", "pledge.receive",
            "pledge.write_off", "ledger.post"} <= set(actions(app))


def test_confirm_and_cancel_from_the_donor_page(app, login_as, build):
    donor_id = build("donor", "Kuwait", country="KW")
    with app.test_request_context():
        donor = db.session.get(Donor, donor_id)
        announced = f.pledge(donor, "50000.000", "KWD", status="announced").id
        other = f.pledge(donor, "10.000", "KWD", status="announced").id
        db.session.commit()
    client = login_as("finance_officer")
    page = f"/donors/{donor_id}"
    resp = client.submit(f"/donors/pledges/{announced}/confirm", {}, page=page)
    assert resp.status_code == 422 and "KWD" in resp.get_data(as_text=True)  # no rate for this month yet
    build("rate", "KWD", "0.3075")
    assert client.submit(f"/donors/pledges/{announced}/confirm", {}, page=page).status_code == 302
    resp = client.submit(f"/donors/pledges/{other}/cancel", {"reason": ""}, page=page)
    assert resp.status_code == 422 and 'id="reason-error"' in resp.get_data(as_text=True)
    assert client.submit(f"/donors/pledges/{other}/cancel", {"reason": "never signed"}, page=page).status_code == 302
    with app.app_context():
        assert db.session.get(Pledge, announced).status == "confirmed"
        assert db.session.get(Pledge, other).status == "cancelled"


def test_donor_users_see_their_own_page_and_no_forms(app, login_as, make_user, build):
    norway, sweden = build("donor", "Norway"), build("donor", "Sweden", country="SE")
    with app.test_request_context():
        f.contribution(db.session.get(Donor, norway), "250.00", "USD", reference="NO-REF")
        db.session.commit()
    client = login_as(make_user("donor", donor_id=norway))
    resp = client.get("/donors/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/donors/{norway}")
    html = client.get(f"/donors/{norway}").get_data(as_text=True)
    assert "NO-REF" in html and "250.00 USD" in html
    assert "Record a pledge" not in html and "/write-off" not in html
    assert client.get(f"/donors/{sweden}").status_code == 404
    assert client.get("/donors/contributions/new").status_code == 403
    unlinked = login_as(make_user("donor"))
    assert "not linked to a donor" in unlinked.get("/donors/").get_data(as_text=True)


def test_fund_managers_and_auditors_read(app, login_as, build):
    donor_id = build("donor", "Japan", country="JP")
    for role in ("fund_manager", "auditor"):
        client = login_as(role)
        listing = client.get("/donors/").get_data(as_text=True)
        assert "Japan" in listing and "Record a donor" not in listing
        assert client.get(f"/donors/{donor_id}").status_code == 200
        assert client.get(f"/donors/{donor_id}/pledges/new").status_code == 403


def test_the_dashboard_links_to_the_money_screens(app, login_as, make_user):
    html = login_as("finance_officer").get("/dashboard").get_data(as_text=True)
    for label in ("Fund position", "Exchange rates", "Ledger", "Donors and pledges", "Record a contribution"):
        assert label in html, label
    donor_html = login_as(make_user("donor")).get("/dashboard").get_data(as_text=True)
    assert "Our pledges and contributions" in donor_html and "Ledger" not in donor_html


def test_contribution_form_offers_open_pledges(app, login_as, build):
    donor_id = build("donor", "Norway")
    with app.test_request_context():
        p = f.pledge(db.session.get(Donor, donor_id), "1000.00", "USD")
        db.session.commit()
        pledge_id = p.id
    html = login_as("finance_officer").get(f"/donors/contributions/new?donor_id={donor_id}").get_data(as_text=True)
    assert f'value="{pledge_id}"' in html and "outstanding 1,000.00 USD" in html


def test_the_money_screens_speak_french(app, login_as, make_user, build):
    build("rate", "EUR", "0.9")
    donor_id = build("donor", "France", country="FR")
    client = login_as(make_user("finance_officer", language="fr"))
    html = client.get(f"/donors/{donor_id}").get_data(as_text=True)
    assert "Annonces de contribution" in html and "Contributions versées" in html
    resp = client.submit("/donors/contributions/new", {"donor_id": donor_id, "amount": "10.00", "currency": "CHF",
                                                       "received_on": TODAY.isoformat(), "bank_reference": "FR-9"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Il n&#39;y a pas de taux de change opérationnel" in html
    assert "Situation du Fonds" in client.get("/finance/").get_data(as_text=True)
    assert "Taux de change opérationnels de l'ONU" in client.get("/finance/rates").get_data(as_text=True)
