"""The donor screens as their readers check them: the totals add up on the page (the exchange difference is a line
of its own, explained), the contribution form starts in the donor's currency and confirms in formatted money,
and the donor's dashboard leads to the statement that has figures in it."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import re

from donors.models import Donor
from fund.db import db
from tests.donors import factories as f

TODAY = dt.datetime.now(dt.UTC).date()
LAST_MONTH = (TODAY.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def text(resp) -> str:
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", resp.get_data(as_text=True))))


def row(page: str, label: str) -> str:
    match = re.search(rf"<th scope=\"row\">[^<]*{re.escape(label)}</th><td class=\"num\">([^<]*)</td>", page)
    assert match, label
    return match.group(1)


def test_the_donor_page_shows_the_exchange_difference_so_that_the_totals_add_up(app, login_as, build):
    build("rate", "EUR", "0.9", LAST_MONTH)
    build("rate", "EUR", "0.8")
    donor_id = build("donor", "Germany", country="DE")
    with app.test_request_context():
        donor = db.session.get(Donor, donor_id)
        pledge = f.pledge(donor, "900.00", "EUR", pledged_on=LAST_MONTH)   # booked at 0.9: USD 1,000.00
        f.contribution(donor, "450.00", "EUR", pledge_=pledge)              # received at 0.8: USD 562.50
        f.contribution(donor, "100.00", "USD")                              # no pledge
        db.session.commit()
    page = login_as("finance_officer").get(f"/donors/{donor_id}").get_data(as_text=True)
    assert row(page, "Pledged (confirmed)") == "1,000.00 USD"
    assert row(page, "Received against pledges") == "562.50 USD"
    assert row(page, "Written off") == "0.00 USD"
    assert row(page, "Exchange difference") == "62.50 USD"
    assert row(page, "Outstanding") == "500.00 USD"       # 450 EUR still owed, at the booking rate
    assert row(page, "Contributions without a pledge") == "100.00 USD"
    assert row(page, "Amount received in all") == "662.50 USD"
    assert "not money owed" in htmllib.unescape(page)


def test_the_contribution_form_starts_in_the_donors_currency_or_usd(app, login_as, build):
    build("rate", "EUR", "0.9")
    donor_id = build("donor", "France", country="FR")
    client = login_as("finance_officer")

    def chosen(url: str) -> str:
        page = client.get(url).get_data(as_text=True)
        select = re.search(r'<select id="f-currency".*?</select>', page, re.S).group(0)
        return re.findall(r'<option value="(\w+)" selected', select)

    assert chosen("/donors/contributions/new") == ["USD"]          # not AED, the first of the list
    assert chosen(f"/donors/contributions/new?donor_id={donor_id}") == ["USD"]
    with app.test_request_context():
        pledge_id = f.pledge(db.session.get(Donor, donor_id), "1000.00", "EUR").id
        db.session.commit()
    assert chosen(f"/donors/contributions/new?donor_id={donor_id}") == ["EUR"]   # its usual currency
    assert chosen(f"/donors/contributions/new?donor_id={donor_id}&pledge_id={pledge_id}") == ["EUR"]

    resp = client.submit("/donors/contributions/new", {"donor_id": donor_id, "pledge_id": pledge_id,
                                                       "amount": "1000", "currency": "EUR",
                                                       "received_on": TODAY.isoformat(), "bank_reference": "FR-1"})
    assert resp.status_code == 302
    assert "Contribution FR-1 recorded: 1,000.00 EUR = 1,111.11 USD." in text(client.get(resp.headers["Location"]))


def test_the_confirmation_in_french_formats_money_the_french_way(app, login_as, make_user, build):
    build("rate", "EUR", "0.9")
    donor_id = build("donor", "France", country="FR")
    client = login_as(make_user("finance_officer", language="fr"))
    resp = client.submit("/donors/contributions/new", {"donor_id": donor_id, "amount": "12000", "currency": "EUR",
                                                       "received_on": TODAY.isoformat(), "bank_reference": "FR-2"})
    assert resp.status_code == 302
    words = text(client.get(resp.headers["Location"]))
    assert re.search(r"Contribution FR-2 enregistrée : 12\s000,00 EUR = 13\s333,33 USD", words), words[:2000]


def test_the_donors_dashboard_leads_to_the_statement_with_figures(app, login_as, make_user, build):
    donor_id = build("donor", "Norway")
    client = login_as(make_user("donor", donor_id=donor_id))
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "Statement and use of funds" in dashboard and ">Donor statements<" not in dashboard
    resp = client.get("/donors/statements")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/donors/{donor_id}/statement")
    assert client.get(resp.headers["Location"]).status_code == 200
    # Staff keep the list of issued statements; an empty one points to the statement.
    staff = login_as("finance_officer")
    assert "Donor statements" in staff.get("/dashboard").get_data(as_text=True)
    page = staff.get(f"/donors/{donor_id}/statements").get_data(as_text=True)
    assert f'href="/donors/{donor_id}/statement"' in page


def test_counts_agree_with_their_noun(app, login_as, make_user, build):
    build("donor", "Norway")
    client = login_as("finance_officer")
    assert "1 donor; amounts in USD" in text(client.get("/donors/"))
    build("donor", "Sweden", country="SE")
    assert "2 donors; amounts in USD" in text(client.get("/donors/"))
    build("rate", "EUR", "0.9")
    assert "1 rate" in text(client.get("/finance/rates")) and "1 rates" not in text(client.get("/finance/rates"))
    with app.test_request_context():
        f.contribution(db.session.get(Donor, build("donor", "Japan", country="JP")), "10.00", "USD")
        db.session.commit()
    assert "1 entry, newest first" in text(client.get("/finance/ledger"))
    french = login_as(make_user("finance_officer", language="fr"))
    assert "1 écriture, les plus récentes d'abord" in text(french.get("/finance/ledger"))
    assert "3 donateurs ; montants en USD" in text(french.get("/donors/"))
