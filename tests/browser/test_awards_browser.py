"""An awarded grantee on a phone, without JavaScript: the portal shows the grant waiting for its signature and the
next step; the agreement is signed and uploaded through the grant's page; the portal then says the fund is to
countersign."""

from __future__ import annotations

import pytest

from tests.browser.test_portal_browser import sign_in
from tests.grants.awards.conftest import PDF, world  # noqa: F401  (the grant-awarded fixtures)
from tests.grants.conftest import build  # noqa: F401


@pytest.fixture
def phone(browser, server):
    context = browser.new_context(java_script_enabled=False, base_url=server.url, locale="en-GB",
                                  viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def test_a_grantee_finds_the_grant_and_signs_the_agreement_on_a_phone(app, phone, world, tmp_path):  # noqa: F811
    w = world()
    sign_in(phone, app, w.applicant)
    phone.goto("/grants/portal")
    grants = phone.locator("section[aria-labelledby=grants-title]")
    assert "Awarded: awaiting your signature" in grants.inner_text()
    assert "Next step: sign the agreement" in grants.inner_text()
    assert "will appear here once a grant is awarded" not in phone.locator("main").inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing pushes the page sideways

    grants.get_by_role("link", name="Sign the agreement").click()
    assert phone.locator("h1").inner_text().startswith("Grant ")
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(PDF)
    phone.get_by_label("Upload the signed agreement (PDF or scan)").set_input_files(str(signed))
    phone.get_by_role("button", name="Upload", exact=True).click()
    assert "The signed agreement has been uploaded" in phone.locator("main").inner_text()

    phone.goto("/grants/portal")
    text = phone.locator("section[aria-labelledby=grants-title]").inner_text()
    assert "Signed: awaiting the fund's countersignature" in text and "Sign the agreement" not in text
