"""The selection's pages in a real browser, JavaScript off, on a 390 x 844 phone: the reviewer's form, the
assignment pages, the ranking, the Board's decision and the decision sheet never scroll sideways; every radio
sits right beside its own label inside a fieldset with a legend; the decision is recorded only once confirmed."""

from __future__ import annotations

from sqlalchemy import select

from fund.db import db
from fund.models import User
from grants.models import Application
from tests.browser.test_layout_browser import OVERFLOW, PHONE, _context, axe_violations
from tests.browser.test_portal_browser import sign_in
from tests.grants.review import factories as rf


def radios_beside_labels(page, url: str) -> int:
    radios = page.locator("main input[type=radio]").all()
    for radio in radios:
        label = page.locator(f"label[for='{radio.get_attribute('id')}']")
        r, lb = radio.bounding_box(), label.bounding_box()
        assert abs((r["y"] + r["height"] / 2) - (lb["y"] + lb["height"] / 2)) < 16, url  # on the same line
        assert 0 <= lb["x"] - (r["x"] + r["width"]) < 24, url  # the label starts right after its radio
        assert radio.evaluate("el => !!el.closest('fieldset') && !!el.closest('fieldset').querySelector('legend')")
    return len(radios)


def test_the_selection_fits_a_phone(app, browser, server, make_user):
    me, manager = make_user("reviewer", name="Phone Reviewer"), make_user("fund_manager")
    with app.test_request_context():
        rf.fund_cash("100000.00")
        scored = rf.under_review(scores=[[4, 4], [5, 3]])
        mine = rf.under_review(call=scored.call, reviewers=[me, rf.reviewer("Other")])
        from grants.review import operations

        review = rf.review_of(mine, me)
        operations.declare_conflict(review, False, None, db.session.get(User, me.id))
        db.session.commit()
        ids = {"call": scored.call_id, "scored": scored.id, "mine": mine.id, "review": review.id}

    context, page = _context(browser, server, PHONE)
    try:
        sign_in(page, app, me)
        url = f"/grants/reviews/{ids['review']}"
        page.goto(url)
        assert page.evaluate(OVERFLOW) <= 0, f"{url} is {page.evaluate(OVERFLOW)} px wider than the phone"
        assert axe_violations(page) == [], url
        assert radios_beside_labels(page, url) == 10
        assert page.get_by_text("1 = poor, 2 = weak").is_visible()
    finally:
        context.close()

    context, page = _context(browser, server, PHONE)
    try:
        sign_in(page, app, manager)
        call = f"/grants/selection/calls/{ids['call']}"
        for url in (call, f"{call}/assignments", f"/grants/applications/{ids['mine']}/reviewers", f"{call}/ranking",
                    f"{call}/decisions", f"/grants/applications/{ids['scored']}/decision"):
            page.goto(url)
            assert page.locator("h1").count() == 1, url
            assert page.evaluate(OVERFLOW) <= 0, f"{url} is {page.evaluate(OVERFLOW)} px wider than the phone"
            assert axe_violations(page) == [], url
            radios_beside_labels(page, url)
        # The decision sheet prints whole: on paper (narrower than the phone breakpoint) its table is not a
        # scrolling box that would cut the columns off
        page.goto(f"{call}/decisions")
        page.emulate_media(media="print")
        table = page.locator("main table").last
        assert table.evaluate("el => getComputedStyle(el).display") == "table"
        assert table.evaluate("el => getComputedStyle(el.parentElement).overflowX") == "visible"
        assert page.get_by_label("Main").is_hidden() and page.locator("form.lang").is_hidden()
        page.emulate_media(media="screen")
        page.goto(f"/grants/applications/{ids['scored']}/decision")
        # The decision page: without the confirmation the browser holds the form back (a required box, no
        # JavaScript needed); the server's own refusal is tested in tests/grants/review/test_portal.py
        page.get_by_role("radio", name="Approved").check()
        page.get_by_label("Amount approved (USD)").fill("35000")
        page.get_by_role("button", name="Record the decision").click()
        with app.app_context():
            assert db.session.get(Application, ids["scored"]).status == "under_review"
        page.get_by_label("I confirm the Board's decision; the applicant will be notified").check()
        page.get_by_role("button", name="Record the decision").click()
        page.wait_for_url(f"**/grants/selection/calls/{ids['call']}/ranking")
        with app.app_context():
            assert db.session.execute(select(Application.status).where(Application.id == ids["scored"])
                                      ).scalar_one() == "approved"
    finally:
        context.close()
