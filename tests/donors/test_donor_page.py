"""The donor's page costs five statements whatever the donor's history, shows its pledges and its contributions a
page at a time (a page past the last is empty and leads back to it), and shows the same figures as when each of
them was read on its own: the donor's and its pledges' kept balances are read together, and the use of its money
in one aggregate query."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from donors import operations
from donors import views as donor_views
from donors.models import Contribution, Donor, Pledge
from fund.accounting import attribution, balances, models
from fund.accounting.figures import donors_figures, pledges_figures
from fund.db import db
from tests.donors import factories as f
from tests.donors.statement_support import BIG_GRANT, SMALL_GRANT, START, build_year, fake_directory  # noqa: F401
from tests.perf.test_query_counts import measure

D = Decimal


@pytest.fixture
def small_pages(monkeypatch):
    """Two pledges and two contributions a page, so that a few make several pages."""
    monkeypatch.setattr(donor_views, "PLEDGES_PER_PAGE", 2)
    monkeypatch.setattr(donor_views, "CONTRIBUTIONS_PER_PAGE", 2)


def add_history(app, donor_id: int, n: int) -> None:
    """``n`` more EUR pledges with two instalments each, a payment against each and an unpledged payment."""
    with app.test_request_context():
        donor = db.session.get(Donor, donor_id)
        for _i in range(n):
            pledge = f.pledge(donor, "1000.00", "EUR", instalments=[(f.today(), "400.00"), (f.today(), "600.00")])
            f.contribution(donor, "500.00", "EUR", pledge_=pledge)
            f.contribution(donor, "50.00", "USD")
        db.session.commit()


def sections(html: str) -> list[int]:
    """The pledges shown, in page order."""
    return [int(n) for n in re.findall(r'<section id="pledge-(\d+)"', html)]


def pager(html: str, label: str) -> str:
    match = re.search(rf'<nav aria-label="{label}" class="pager">(.*?)</nav>', html, re.S)
    return match.group(1) if match else ""


def payments(html: str) -> list[str]:
    """The bank references of the contributions shown."""
    return re.findall(r"<td>(REF-\d+)</td>", html.split('id="contributions"')[1])


def totals_table(html: str) -> str:
    return re.search(r'<table class="totals".*?</table>', html, re.S).group(0)


def test_the_donor_page_costs_five_statements_whatever_the_donors_history(app, login_as, make_user, build,
                                                                          small_pages):
    build("rate", "EUR", "0.9")
    donor_id = build("donor", "Norway")
    staff, donor_user = login_as("finance_officer"), login_as(make_user("donor", donor_id=donor_id))
    url = f"/donors/{donor_id}"
    counts = []
    for n in (1, 4):
        add_history(app, donor_id, n)
        for client in (staff, donor_user):
            for query in ("", "?page=2&pledges_page=2"):
                counts.append(measure(app, client, url + query)[0])
    assert max(counts) <= 5 and len(set(counts)) == 1, counts


def test_pledges_and_contributions_a_page_at_a_time(app, login_as, build, small_pages):
    build("rate", "EUR", "0.9")
    donor_id = build("donor", "Norway")
    add_history(app, donor_id, 3)
    with app.app_context():
        newest_first = [p.id for p in db.session.query(Pledge).filter_by(donor_id=donor_id)
                        .order_by(Pledge.pledged_on.desc(), Pledge.id.desc())]
    client = login_as("finance_officer")
    url = f"/donors/{donor_id}"
    first = client.get(url).get_data(as_text=True)
    assert sections(first) == newest_first[:2]
    assert "Page 1 of 2" in pager(first, "Pages of pledges") and "Page 1 of 3" in pager(first, "Pages of contributions")
    assert f'href="/donors/{donor_id}?pledges_page=2#pledges"' in pager(first, "Pages of pledges")

    second = client.get(f"{url}?pledges_page=2&page=3").get_data(as_text=True)
    assert sections(second) == newest_first[2:]
    assert totals_table(second) == totals_table(first)  # the donor's totals, whatever the page
    # 6 contributions, 2 a page, newest first: the three pages show each once.
    with app.app_context():
        references = [c.bank_reference for c in db.session.query(Contribution).filter_by(donor_id=donor_id)
                      .order_by(Contribution.received_on.desc(), Contribution.id.desc())]
    middle = client.get(f"{url}?page=2").get_data(as_text=True)
    assert payments(first) + payments(middle) + payments(second) == references and len(references) == 6
    # The oldest pledge's payment links to its section (shown); an unpledged one says so.
    assert f'<a href="#pledge-{newest_first[2]}">' in second and "unpledged" in second
    # The pagers keep each other's page.
    assert f'href="/donors/{donor_id}?page=2&amp;pledges_page=2#contributions"' in second
    assert f'href="/donors/{donor_id}?pledges_page=1&amp;page=3#pledges"' in second
    # Payments of pledges not on the page name them without a link to a section that is not there.
    assert f'<a href="#pledge-{newest_first[0]}">' not in second

    past = client.get(f"{url}?pledges_page=9&page=7")
    html = past.get_data(as_text=True)
    assert past.status_code == 200 and sections(html) == []
    assert "No pledges yet." not in html and "No contributions received yet." not in html
    assert "Page 9 of 2" in pager(html, "Pages of pledges") and "Page 7 of 3" in pager(html, "Pages of contributions")
    assert f'href="/donors/{donor_id}?pledges_page=2&amp;page=7#pledges"' in html  # back to the last page
    assert f'href="/donors/{donor_id}?page=3&amp;pledges_page=9#contributions"' in html
    assert "Next" not in pager(html, "Pages of pledges") + pager(html, "Pages of contributions")

    for query in ("?page=0&pledges_page=-3", "?page=x"):
        assert sections(client.get(url + query).get_data(as_text=True)) == newest_first[:2]


def test_an_empty_donor_page_says_so_without_pages(app, login_as, build):
    donor_id = build("donor", "Norway")
    html = login_as("finance_officer").get(f"/donors/{donor_id}").get_data(as_text=True)
    assert "No pledges yet." in html and "No contributions received yet." in html
    assert 'class="pager"' not in html
    assert login_as("finance_officer").get("/donors/999999").status_code == 404


def test_an_action_on_a_pledge_of_a_later_page_comes_back_to_that_page(app, login_as, build, small_pages):
    build("rate", "EUR", "0.9")
    donor_id = build("donor", "Norway")
    add_history(app, donor_id, 3)
    client = login_as("finance_officer")
    page = f"/donors/{donor_id}?pledges_page=2"
    oldest = sections(client.get(page).get_data(as_text=True))[0]
    action = f"/donors/pledges/{oldest}/write-off?pledges_page=2"
    assert f'action="{action}"' in client.get(page).get_data(as_text=True)
    resp = client.submit(action, {"amount": "999999.00", "reason": "x"}, page=page)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and sections(html) == [oldest] and "At most the outstanding amount" in html
    resp = client.submit(action, {"reason": "the donor's budget was cut"}, page=page)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"{page}#pledge-{oldest}")


@pytest.mark.usefixtures("fake_directory")
def test_one_read_of_the_balances_gives_the_figures_read_one_by_one(app, login_as):
    with app.test_request_context():
        year = build_year()
        pledges = [(p, c) for p, c in ((year.pledge_a, "EUR"), (year.pledge_b, "USD"), (year.pledge_c, "EUR"))]
        rows = balances.usd_by_account_kind_scopes([(balances.DONOR, [year.donor_id]),
                                                    (balances.PLEDGE, [p for p, _c in pledges])])
        # Every account of the pledges is read (not only their receivable), and no other donor's balance.
        assert {account for _ref, account, *_rest in rows[balances.PLEDGE]} > {models.RECEIVABLE}
        assert {ref for ref, *_rest in rows[balances.DONOR]} == {year.donor_id}
        assert pledges_figures(pledges, rows=rows[balances.PLEDGE]) == pledges_figures(pledges)
        figures = donors_figures([year.donor_id], rows=rows[balances.DONOR])
        assert figures == donors_figures([year.donor_id])
        fx = sum(c for _r, _a, _k, c, _m in balances.usd_by_account_kind(balances.DONOR, [year.donor_id],
                                                                            account=models.FX))
        # Booked at 0.90 (44,444.44), received at 0.92 (43,478.26): the ledger's exchange difference.
        assert figures[year.donor_id].exchange == -D(fx).scaleb(-2) == D("-966.18")
        summaries = operations.summarise([db.session.get(Pledge, year.pledge_a)],
                                         balance_rows=rows[balances.PLEDGE])
        assert summaries[year.pledge_a].outstanding == D("50000.00")  # 100,000 - 40,000 paid - 10,000 written off
        assert balances.usd_by_account_kind_scopes([(balances.PLEDGE, [])]) == {balances.PLEDGE: []}
    html = login_as("finance_officer").get(f"/donors/{year.donor_id}").get_data(as_text=True)
    assert re.search(r"Exchange difference</th><td class=\"num\">-966.18 USD", html)


@pytest.mark.usefixtures("fake_directory")
def test_the_use_of_a_donors_money_over_a_period_in_one_query(app):
    with app.test_request_context():
        year = build_year()
        everything = attribution.donor_use(year.donor_id, dt.date.min, year.today)
        assert set(everything.grants) == {SMALL_GRANT, BIG_GRANT} and everything.reconciles
        # Grant 101 was paid on 1 June, grant 102 on 1 July: from 15 June, 101's payment is in the opening balance.
        later = attribution.donor_use(year.donor_id, dt.date(2026, 6, 15), year.today)
        assert later.grants == {BIG_GRANT: everything.grants[BIG_GRANT]}
        assert later.grants_total == sum(everything.grants[BIG_GRANT])
        assert later.opening == attribution.donor_use(year.donor_id, dt.date.min, dt.date(2026, 6, 14)).closing
        assert later.closing == everything.closing and later.reconciles
        june = attribution.donor_use(year.donor_id, dt.date(2026, 6, 1), dt.date(2026, 6, 1))
        assert june.grants == {SMALL_GRANT: everything.grants[SMALL_GRANT]} and june.received == 0
        assert sum(june.earmark_grants.values()) == 1
        assert attribution.donor_use(year.donor_id, START, dt.date(2026, 5, 31)).grants == {}
