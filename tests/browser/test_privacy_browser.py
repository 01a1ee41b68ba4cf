"""Data protection in a real browser, without JavaScript: an admin anonymises a user from the users page, and a
user downloads their own data from the account page."""

from __future__ import annotations

import json

from tests.browser.test_portal_browser import sign_in


def test_an_admin_anonymises_a_user_from_the_users_page(app, page, make_user):
    admin = make_user("admin")
    user = make_user("reviewer", name="Amina K")
    sign_in(page, app, admin)
    page.goto("/admin/users")
    assert "Amina K" in page.locator("main").inner_text()
    page.get_by_label("E-mail of the user").fill(user.email)
    page.get_by_role("button", name="Anonymise", exact=True).click()
    assert page.url.endswith("/admin/users")  # the browser's own check: the box must be ticked first
    assert "The account has been anonymised." not in page.locator("main").inner_text()
    page.get_by_label("I understand that this cannot be undone").check()
    page.get_by_role("button", name="Anonymise", exact=True).click()
    text = page.locator("body").inner_text()
    assert "The account has been anonymised." in text
    assert "Amina K" not in text and user.email not in text
    assert f"anonymised-{user.id}@anonymised.invalid" in text


def test_a_user_downloads_their_data_from_the_account_page(app, page, make_user):
    user = make_user("applicant", name="Jo Bloggs")
    sign_in(page, app, user)
    page.goto("/account/tokens")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download my data (JSON)").click()
    download = info.value
    assert download.suggested_filename == "my-data.json"
    data = json.loads(open(download.path(), encoding="utf-8").read())
    assert data["profile"]["email"] == user.email and data["profile"]["name"] == "Jo Bloggs"
    assert any(e["action"] == "user.login" for e in data["audit_events"])
