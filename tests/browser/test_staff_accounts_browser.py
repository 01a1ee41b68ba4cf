"""Staff accounts and search in a real browser, JavaScript off, on a 390 px phone: an administrator invites an
officer, the officer chooses a password through the e-mailed link and is asked for a second factor; a fund
manager searches from the box in the navigation."""

from __future__ import annotations

import re

from sqlalchemy import select

from fund.db import db
from fund.mail import OutboxMessage
from grants.models import Organisation
from tests.browser.test_portal_browser import sign_in

PHONE = {"width": 390, "height": 844}
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def overflow(page) -> int:
    """How far the page, once loaded (its stylesheet applied), reaches beyond the window, in CSS pixels."""
    page.wait_for_load_state("load")
    return page.evaluate(OVERFLOW)


def test_an_admin_invites_an_officer_who_sets_a_password_and_is_asked_for_a_second_factor(app, page, make_user):
    page.set_viewport_size(PHONE)
    admin = make_user("admin")
    sign_in(page, app, admin)
    page.goto("/admin/users")
    assert overflow(page) <= 0
    page.get_by_label(re.compile(r"^E-mail\W*$")).fill("new.officer@example.org")
    page.get_by_label("Name", exact=True).fill("Nadia Officer")
    page.locator("#f-role").select_option("finance_officer")
    page.get_by_role("button", name="Send the invitation").click()
    main = page.locator("main").inner_text()
    assert "An invitation has been sent to new.officer@example.org" in main
    assert "Invited, has not chosen a password yet" in main and "Finance officer" in main
    assert overflow(page) <= 0

    with app.app_context():
        body = db.session.execute(select(OutboxMessage.body_text)
                                  .where(OutboxMessage.recipient == "new.officer@example.org")).scalar_one()
    link = re.search(r"https?://\S+(/account/invitation/\S+)", body).group(1)
    page.get_by_role("button", name="Sign out").click()

    page.goto(link)
    assert page.locator("h1").inner_text() == "Choose your password"
    page.get_by_label("Choose a password").fill("short")
    page.get_by_label("Repeat the password").fill("short")
    page.get_by_role("button", name="Set my password").click()
    assert "Use at least" in page.locator("main").inner_text()
    page.get_by_label("Choose a password").fill("lantern-orchard-violet-92")
    page.get_by_label("Repeat the password").fill("lantern-orchard-violet-92")
    page.get_by_role("button", name="Set my password").click()
    assert "/account/login" in page.url
    page.get_by_label("Email Address").fill("new.officer@example.org")
    page.get_by_label("Password").fill("lantern-orchard-violet-92")
    page.get_by_role("button", name="Login").click()
    assert "/account/tf-setup" in page.url


def test_a_fund_manager_searches_from_the_navigation(app, page, make_user):
    page.set_viewport_size(PHONE)
    with app.app_context():
        db.session.add(Organisation(name="Association Espoir", acronym="AE", country="SN", org_type="ngo"))
        db.session.commit()
    manager = make_user("fund_manager")
    sign_in(page, app, manager)
    page.get_by_label("Search organisations, applications and grants").fill("espoir")
    page.get_by_role("search").get_by_role("button", name="Search").click()
    assert "/search?q=espoir" in page.url
    assert page.locator("h2#results-title").inner_text() == "1 result"
    assert overflow(page) <= 0
    page.get_by_role("link", name="Association Espoir").click()
    assert re.search(r"/grants/organisations/\d+$", page.url)
