"""The grant's page: its payments and history a page at a time (newest first, links to the older ones), the
tranches with what was paid against each, and a refund recorded on a page of its own."""

from __future__ import annotations

import re

from grants.awards.views import grant_pages
from tests.grants.awards.conftest import sign_and_countersign
from tests.grants.awards.test_screens import PAY, french, text


def _payments(w, n: int) -> list[int]:
    """``n`` small payments of tranche 1, requested, approved and paid (each leaves three steps in the history)."""
    ids = []
    for _ in range(n):
        d = w.fo.post(f"/api/v1/grants/{w.grant_id}/disbursements", json={"tranche": 1, "amount": "100.00"}
                      ).get_json()["id"]
        assert w.fo2.post(f"/api/v1/disbursements/{d}/approve").status_code == 200
        assert w.fo.post(f"/api/v1/disbursements/{d}/pay", json=PAY).status_code == 200
        ids.append(d)
    return ids


def _rows(page: str, prefix: str) -> list[int]:
    return [int(x) for x in re.findall(rf'<tr id="{prefix}-(\d+)">', page)]


def test_payments_and_history_come_a_page_at_a_time(app, world, login_as, monkeypatch):
    w = world()
    sign_and_countersign(w)
    ids = _payments(w, 5)
    monkeypatch.setattr(grant_pages, "PER_PAGE", 2)
    client = login_as(w.manager)
    first = client.get(f"/grants/awards/{w.grant_id}").get_data(as_text=True)
    assert _rows(first, "disbursement") == [ids[4], ids[3]]  # the latest first
    assert "?payments=2#payments" in first and "Page 1 of 3" in first
    second = client.get(f"/grants/awards/{w.grant_id}?payments=2").get_data(as_text=True)
    assert _rows(second, "disbursement") == [ids[2], ids[1]]
    last = client.get(f"/grants/awards/{w.grant_id}?payments=3&history=2").get_data(as_text=True)
    assert _rows(last, "disbursement") == [ids[0]] and "?payments=2&amp;history=2#payments" in last
    past = client.get(f"/grants/awards/{w.grant_id}?payments=9&history=2")  # to the last page, the other kept
    assert past.status_code == 302 and past.headers["Location"].endswith(
        f"/grants/awards/{w.grant_id}?payments=3&history=2#payments")
    # The history: the latest steps first, then the older ones on the next page.
    assert re.findall(r"Payment (?:request )?\d+ \w+", history_of(first)) == [
        f"Payment {ids[4]} made", f"Payment request {ids[4]} approved"]
    assert re.findall(r"Payment (?:request )?\d+ \w+", history_of(last)) == [
        f"Payment request {ids[4]} made", f"Payment {ids[3]} made"]
    assert "Newer" in history_of(last) and "Page 2 of" in history_of(last)
    # Every payment of tranche 1 counts in its row (approved and paid: 500.00), shown on this page or not.
    tranche = text_of(re.search(r"<tr><td>1</td>.*?</tr>", first, re.S).group(0))
    assert tranche.count("500.00 USD") == 2 and "Partly paid" in tranche


def text_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))


def history_of(page: str) -> str:
    return text_of(page[page.index('id="history"'):])


def test_a_refund_is_recorded_on_its_own_page_and_a_mistake_is_shown_beside_its_field(app, world, login_as):
    w = world()
    sign_and_countersign(w)
    _payments(w, 1)
    officer = french(app, login_as(w.officer))
    grant_page = officer.get(f"/grants/awards/{w.grant_id}").get_data(as_text=True)
    assert f"/grants/awards/{w.grant_id}/refunds/new" in grant_page
    form = officer.get(f"/grants/awards/{w.grant_id}/refunds/new")
    assert form.status_code == 200 and 'name="currency"' in form.get_data(as_text=True)
    bad = officer.submit(f"/grants/awards/{w.grant_id}/refunds",
                         {"amount": "12,5x", "currency": "USD", "received_on": "2026-02-01", "bank_reference": "RF-9"},
                         page=f"/grants/awards/{w.grant_id}/refunds/new")
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert 'id="amount-error"' in page and 'value="RF-9"' in page  # beside the field, the typing kept
    summary = re.search(r'<div class="error-summary".*?</div>', page, re.S).group(0)  # and listed above the form
    assert 'href="#f-amount"' in summary
    ok = officer.submit(f"/grants/awards/{w.grant_id}/refunds",
                        {"amount": "40", "currency": "USD", "received_on": "2026-02-01", "bank_reference": "RF-9"},
                        page=f"/grants/awards/{w.grant_id}/refunds/new")
    assert ok.status_code == 302
    shown = text(officer.get(f"/grants/awards/{w.grant_id}"))
    assert "RF-9" in shown
    # Others may not record one.
    assert login_as(w.manager).get(f"/grants/awards/{w.grant_id}/refunds/new").status_code == 403
    assert login_as(w.applicant).get(f"/grants/awards/{w.grant_id}/refunds/new").status_code == 403
