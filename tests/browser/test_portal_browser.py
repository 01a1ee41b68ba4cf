"""The portal in a real browser, without JavaScript: sign-in with the second factor, the language switch,
accessible forms."""

from __future__ import annotations

from tests.conftest import PASSWORD, totp_code


def sign_in(page, app, user):
    page.goto("/account/login")
    page.get_by_label("Email Address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Login").click()
    if user.tf_totp_secret:
        page.get_by_label("Authentication Code").fill(totp_code(app, user))
        page.get_by_role("button", name="Submit Code").click()


def test_staff_sign_in_with_the_second_factor(app, page, make_user):
    manager = make_user("fund_manager")
    sign_in(page, app, manager)
    assert page.url.endswith("/dashboard")
    assert manager.email in page.locator("main").inner_text()
    page.get_by_role("button", name="Sign out").click()
    page.goto("/dashboard")
    assert "/account/login" in page.url


def test_language_switch_without_javascript(app, page, make_user):
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_label("Language").select_option("fr")
    page.get_by_role("button", name="Change language").click()
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("link", name="Se connecter").first.is_visible()
    page.goto("/account/login")
    assert page.locator("h1").inner_text() == "Connexion"


def test_forms_are_labelled_and_errors_sit_beside_fields(app, page, make_user):
    user = make_user("applicant")
    sign_in(page, app, user)
    assert page.url.endswith("/dashboard")
    page.goto("/account/tokens")
    # Every visible form control has an accessible name.
    for control in page.locator("main input:not([type=hidden]), main select, main textarea").all():
        assert control.evaluate("el => el.labels && el.labels.length > 0 || !!el.getAttribute('aria-label')")
    page.get_by_label("Token name").fill("x" * 150)
    page.get_by_role("button", name="Create token").click()
    field = page.get_by_label("Token name")
    assert field.get_attribute("aria-invalid") == "true"
    error_id = field.get_attribute("aria-describedby").split()[-1]
    assert "100" in page.locator(f"#{error_id}").inner_text()
    assert page.get_by_role("alert").is_visible()  # the error summary


def test_skip_link_and_landmarks(page):
    page.goto("/")
    assert page.locator("a.skip").get_attribute("href") == "#main"
    assert page.locator("main#main").count() == 1
    assert page.get_by_role("navigation", name="Main").count() == 1
