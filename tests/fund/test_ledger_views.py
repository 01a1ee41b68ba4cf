"""The finance screens: the fund position dashboard, the ledger browser (filters, entry with its postings and
rates) and reversal from the portal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from fund.accounting import figures, ledger, rates
from fund.audit import AuditEvent
from fund.db import db

TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def entries(app):
    with app.app_context():
        rates.seed_currencies()
        rates.set_rate("EUR", TODAY, Decimal("0.8"))
        euros = ledger.post_contribution_received(donor_id=11, amount=Decimal("800.00"), currency="EUR",
                                                  value_date=TODAY)
        dollars = ledger.post_contribution_received(donor_id=12, amount=Decimal("50.00"), currency="USD",
                                                    value_date=TODAY)
        ledger.commit_grant(5, Decimal("100.00"))
        ledger.pay_disbursement(5, Decimal("40.00"))
        db.session.commit()
        return euros.id, dollars.id


def test_the_position_dashboard(app, login_as, entries):
    html = login_as("fund_manager").get("/finance/").get_data(as_text=True)
    assert "1,050.00 USD" in html  # received
    assert "40.00 USD" in html and "5.20 USD" in html  # disbursed, PSC 13 %
    assert "1,004.80 USD" in html  # cash
    assert "67.80 USD" in html  # committed: 60 outstanding + 7.80 PSC on it
    assert "937.00 USD" in html  # available
    assert "800.00 EUR" in html  # cash by currency


def test_the_ledger_browser_filters_and_shows_postings(app, login_as, entries):
    euros, _dollars = entries
    client = login_as("auditor")
    html = client.get("/finance/ledger").get_data(as_text=True)
    assert "5 entries" in html
    html = client.get("/finance/ledger?kind=contribution&currency=EUR").get_data(as_text=True)
    assert "1 entry," in html and "800.00 EUR" in html
    html = client.get("/finance/ledger?grant_id=5").get_data(as_text=True)
    assert "3 entries" in html  # commitment, disbursement, PSC
    html = client.get("/finance/ledger?kind=nonsense").get_data(as_text=True)
    assert "kind" in html and 'role="alert"' in html
    html = client.get(f"/finance/ledger/{euros}").get_data(as_text=True)
    assert "0.8 EUR" in html and "1,000.00 USD" in html and "Reverse this entry" not in html  # auditors read


def test_reversing_from_the_portal(app, login_as, entries):
    _euros, dollars = entries
    client = login_as("finance_officer")
    page = f"/finance/ledger/{dollars}"
    resp = client.submit(f"/finance/ledger/{dollars}/reverse", {"reason": ""}, page=page)
    assert resp.status_code == 422 and 'id="reason-error"' in resp.get_data(as_text=True)
    resp = client.submit(f"/finance/ledger/{dollars}/reverse", {"reason": "recorded against the wrong donor"},
                         page=page)
    assert resp.status_code == 302
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"entry {dollars}" in html and "-50.00 USD" in html
    html = client.get(page).get_data(as_text=True)
    assert "Reversed by" in html and "Reverse this entry" not in html
    with app.app_context():
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "ledger.reverse")).scalar_one()
        assert "recorded against the wrong donor" in event.summary and event.actor == client.user.email
        assert figures.fund_position().received == Decimal("1000.00")


def test_every_account_and_kind_has_a_translated_name():
    from fund.accounting.views import ACCOUNT_LABELS, KIND_LABELS

    assert set(ACCOUNT_LABELS) == set(ledger.ACCOUNTS) and set(KIND_LABELS) == set(ledger.KINDS)
