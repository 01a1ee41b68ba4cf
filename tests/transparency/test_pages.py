"""The public pages, read as an anonymous visitor: figures by year with anonymous donors pooled, the grants list
and its filters, a grant's page, the suppressed results, charts with their tables, both languages, HTTP caching,
and a number of queries that does not grow with the fund."""

from __future__ import annotations

import re

from sqlalchemy import event

from fund.db import db
from tests.html_checks import page_problems


def test_figures_pool_anonymous_donors_and_add_up(app, client, fund_world):
    html = client.get("/transparency/").get_data(as_text=True)
    assert not page_problems(html)
    assert "Kingdom of Norway" in html
    assert "Secret Benefactor" not in html  # anonymous: pooled, never named
    assert "Anonymous donors" in html
    # 100,000 + 50,000 from Norway, JPY 1,500,000 at 150 = 10,000 from the anonymous donor.
    assert "150,000.00 USD" in html and "10,000.00 USD" in html and "160,000.00 USD" in html
    # Grants paid this year: 10,000; PSC at 13 %: 1,300; balance 160,000 - 10,000 - 1,300.
    assert "1,300.00 USD" in html and "148,700.00 USD" in html


def test_charts_are_accessible_svg_with_a_table(client, fund_world):
    html = client.get("/transparency/").get_data(as_text=True)
    svg = re.search(r'<svg [^>]*id="chart-contributions"[^>]*>', html).group(0)
    assert 'role="img"' in svg and 'aria-labelledby="chart-contributions-title chart-contributions-desc"' in svg
    assert '<title id="chart-contributions-title">Contributions received by year and type of donor</title>' in html
    assert '<desc id="chart-contributions-desc">' in html
    table = html.split('<table class="chart-table">')[1].split("</table>")[0]
    assert "Member States" in table and "150,000.00 USD" in table and "Anonymous donors" in table
    assert "<script" not in html
    regions = html.split('id="chart-regions"')[1].split("</figure>")[0]
    assert "Africa" in regions and "Asia" in regions and "38,500.00 USD" in regions  # Senegal; Nepal and India


def test_grants_list_filters(client, fund_world):
    html = client.get("/transparency/grants").get_data(as_text=True)
    assert not page_problems(html)
    assert fund_world.big_number in html and fund_world.small_number in html
    assert "Senegal" in html and "Nepal" in html and "India" in html  # names, not codes
    only_nepal = client.get("/transparency/grants?country=NP").get_data(as_text=True)
    assert fund_world.small_number in only_nepal and fund_world.big_number not in only_nepal
    africa = client.get("/transparency/grants?region=Africa").get_data(as_text=True)
    assert fund_world.big_number in africa and fund_world.small_number not in africa
    forced = client.get("/transparency/grants?form=forced_labour").get_data(as_text=True)
    assert fund_world.big_number in forced and fund_world.small_number not in forced
    medical = client.get("/transparency/grants?assistance=medical_care").get_data(as_text=True)
    assert fund_world.small_number in medical and fund_world.big_number not in medical
    bad = client.get("/transparency/grants?region=Atlantis")
    assert bad.status_code == 422
    assert 'id="region-error"' in bad.get_data(as_text=True)


def test_grant_page_shows_the_published_count(client, fund_world):
    html = client.get(f"/transparency/grants/{fund_world.small_number}").get_data(as_text=True)
    assert not page_problems(html)
    assert "Nepal" in html and "&lt;5" in html
    big = client.get(f"/transparency/grants/{fund_world.big_number}").get_data(as_text=True)
    # The big grant's 15 would give the small grant's 3 away beside the total of 18: withheld.
    assert "<dd>x</dd>" in big and ">15<" not in big
    assert "10,000.00 USD" in big  # paid so far
    assert client.get("/transparency/grants/VTF/1999/999").status_code == 404


def test_results_are_suppressed(client, fund_world):
    html = client.get("/transparency/results").get_data(as_text=True)
    assert not page_problems(html)
    assert "Victims assisted: 18" in html
    assert ">3<" not in html  # the 3 victims of the small grant show as <5 wherever they appear
    assert "&lt;5" in html
    assert "Nepal" in html and "Senegal" in html


def test_french(client, fund_world):
    html = client.get("/transparency/?lang=fr").get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "Le fonds en chiffres" in html and "Donateurs anonymes" in html
    contribute = client.get("/transparency/contribute?lang=fr").get_data(as_text=True)
    assert "Comment contribuer" in contribute


def test_bank_details_come_from_configuration(app, client):
    app.config["FUND_BANK_DETAILS"] = {**app.config["FUND_BANK_DETAILS"], "iban": "CH93 0076 2011 6238 5295 7",
                                       "swift": "UBSWCHZH80A"}
    try:
        html = client.get("/transparency/contribute").get_data(as_text=True)
    finally:
        app.config["FUND_BANK_DETAILS"] = {**app.config["FUND_BANK_DETAILS"], "iban": "", "swift": ""}
    assert "CH93 0076 2011 6238 5295 7" in html and "UBSWCHZH80A" in html
    assert "sent on request" not in html
    assert "sent on request" in client.get("/transparency/contribute").get_data(as_text=True)


def test_pages_are_cacheable(client, fund_world):
    first = client.get("/transparency/results")
    assert "public" in first.headers["Cache-Control"] and "max-age=300" in first.headers["Cache-Control"]
    etag = first.headers["ETag"]
    again = client.get("/transparency/results", headers={"If-None-Match": etag})
    assert again.status_code == 304
    french = client.get("/transparency/results?lang=fr", headers={"If-None-Match": etag})
    assert french.status_code == 200  # another language is another page


def _count_queries(app, client, url: str) -> int:
    count = 0

    def before(*args):
        nonlocal count
        count += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return count


def test_queries_do_not_grow_with_the_fund(app, client, fund_world):
    from tests.grants.awards import factories as af
    from tests.transparency.conftest import BIG, accept_report

    urls = ["/transparency/", "/transparency/grants", "/transparency/results",
            f"/transparency/grants/{fund_world.big_number}"]
    for url in urls:  # the figures and the publication are computed once, then kept until the data change
        client.get(url)
    before = {u: _count_queries(app, client, u) for u in urls}
    with app.test_request_context():
        for _i in range(3):
            accept_report(af.make_grant(cash="100000.00").id, BIG)
        db.session.commit()
    for url in urls:
        client.get(url)
    after = {u: _count_queries(app, client, u) for u in urls}
    assert after == before


def test_figures_pdf_embeds_the_charts(client, fund_world):
    from tests.donors.statement_support import pdf_text

    resp = client.get("/transparency/figures.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = " ".join(pdf_text(resp.data).split())
    assert "Contributions received by year and type of donor" in text and "Grants by region" in text
    assert "160,000.00 USD" in text and "Anonymous donors" in text
