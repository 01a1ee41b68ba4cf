"""The grantee report in a real browser, without JavaScript: a narrative typed, then saved with totals that
disagree, is still there, with the warning beside the table that disagrees."""

from __future__ import annotations

from tests.browser.test_portal_browser import sign_in
from tests.grants.awards.conftest import sign_and_countersign, world  # noqa: F401 (the world fixture)
from tests.grants.conftest import build  # noqa: F401 (used by world)


def test_a_narrative_saved_with_totals_that_disagree_is_still_there(app, page, world):  # noqa: F811
    w = world()
    sign_and_countersign(w)
    grant = w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()
    report_id = {r["kind"]: r["id"] for r in grant["reports"]}["interim"]
    sign_in(page, app, w.applicant)
    page.goto(f"/grants/awards/reports/{report_id}")

    narrative = "Twelve survivors found shelter; the hotline now answers at night."
    page.get_by_label("Activities carried out").fill(narrative)
    page.get_by_label("Female, 18–24").fill("10")
    page.locator("#f-form-forced_labour").fill("9")  # one short of the total by sex and age
    page.get_by_role("button", name="Save the report").click()

    assert page.get_by_label("Activities carried out").input_value() == narrative
    assert page.locator("#f-form-forced_labour").input_value() == "9"
    warning = page.locator("#results-form-warning")
    assert warning.is_visible() and "add up to 9" in warning.inner_text()
    assert page.locator(".error-summary, .notice").count() == 1

    page.reload()  # stored, not only shown again
    assert page.get_by_label("Activities carried out").input_value() == narrative
