"""The layout in a real browser, JavaScript off: on a 390 x 844 phone the heaviest pages never scroll sideways
(their wide tables scroll in their own box, reachable by keyboard) and axe finds no WCAG A/AA violation on them,
the audit trail fits a 1280 px screen, buttons are legible (text at 4.5:1 or more on what is behind it) and
radios sit right beside their own labels."""

from __future__ import annotations

from decimal import Decimal

import pytest
from axe_playwright_python.base import AXE_SCRIPT

from fund import audit
from fund.db import db
from tests.browser.test_portal_browser import sign_in
from tests.grants import factories as f
from tests.grants.review import factories as rf

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

#: Width of the page beyond the window, in CSS pixels (0 when nothing pushes it sideways).
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"

#: The contrast ratio of an element's text on the first opaque background behind it (WCAG 2 formula).
CONTRAST = """el => {
  const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => [r, g, b].map(lin).reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  let bg = null;
  for (let n = el; n && !bg; n = n.parentElement) {
    const c = rgb(getComputedStyle(n).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] === 1)) bg = c.slice(0, 3);
  }
  bg = bg || [255, 255, 255];
  const [a, b] = [lum(rgb(getComputedStyle(el).color).slice(0, 3)), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""

AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
               "resultTypes": ["violations"]}


def axe_violations(page) -> list[str]:
    """axe-core's WCAG A/AA violations on the page as it is (JavaScript off: injected through the DevTools
    protocol, its timers made microtasks since a page's timers never fire then), once it has finished loading."""
    page.wait_for_load_state("load")
    page.evaluate("window.setTimeout = (fn, ms, ...a) => { Promise.resolve().then(() => fn(...a)); return 0; };"
                  "window.clearTimeout = () => {};")
    page.evaluate(AXE_SCRIPT)
    found = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)["violations"]
    return [f"{v['id']}: {' '.join(v['nodes'][0]['target'])}" for v in found]


LONG = "Psychosocial-counselling-and-vocational-training-for-survivors-of-forced-labour-in-the-Dakar-region"


def _context(browser, server, viewport):
    context = browser.new_context(java_script_enabled=False, base_url=server.url, locale="en-GB",
                                  viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


@pytest.fixture
def draft(app, make_user):
    """An applicant and their draft application with a long budget (long words in it) and two documents."""
    from grants import operations

    applicant = make_user("applicant")
    with app.test_request_context():
        f.organisation_of(applicant)
        answers = f.complete_answers()
        answers["budget_lines"] = answers["budget_lines"] + [
            {"category": "personnel", "description": f"{LONG} {n}", "quantity": Decimal("12"),
             "unit_cost": Decimal("1234.89")} for n in range(6)]
        application = operations.create_application(f.make_call(), f.user(applicant), answers)
        f.add_document(application, applicant, f.office_bytes("xl"), "budget.xlsx", "budget_workbook")
        f.add_document(application, applicant)
        db.session.commit()
        application_id = application.id
    return applicant, application_id


def test_heavy_pages_never_scroll_sideways_on_a_phone(app, browser, server, make_user, draft):
    applicant, application_id = draft
    with app.test_request_context():
        screened = rf.submitted()
        db.session.commit()
        screened_id = screened.id
    context, page = _context(browser, server, PHONE)
    try:
        sign_in(page, app, applicant)
        for url in (f"/grants/applications/{application_id}/sections/budget",
                    f"/grants/applications/{application_id}/sections/documents",
                    f"/grants/applications/{application_id}", "/grants/portal", "/dashboard", "/"):
            page.goto(url)
            assert page.locator("h1").count() == 1, url
            assert page.evaluate(OVERFLOW) <= 0, f"{url} is {page.evaluate(OVERFLOW)} px wider than the phone"
            assert axe_violations(page) == [], url  # contrast, scrollable regions reachable by keyboard...
            # Every button can be reached: its box starts inside the window's width.
            for button in page.locator("main button:visible").all():
                box = button.bounding_box()
                assert box and box["x"] >= 0 and box["x"] + min(box["width"], 40) <= PHONE["width"], url
    finally:
        context.close()

    manager = make_user("fund_manager")
    context, page = _context(browser, server, PHONE)
    try:
        sign_in(page, app, manager)
        for url in ("/grants/selection/screening", f"/grants/applications/{screened_id}/screening"):
            page.goto(url)
            assert page.evaluate(OVERFLOW) <= 0, f"{url} is {page.evaluate(OVERFLOW)} px wider than the phone"
            assert axe_violations(page) == [], url
        # The checklist's radios: each right beside its own label, inside a fieldset with a legend.
        radios = page.locator("main input[type=radio]").all()
        assert radios
        for radio in radios:
            label = page.locator(f"label[for='{radio.get_attribute('id')}']")
            r, lb = radio.bounding_box(), label.bounding_box()
            assert abs((r["y"] + r["height"] / 2) - (lb["y"] + lb["height"] / 2)) < 16  # on the same line
            assert 0 <= lb["x"] - (r["x"] + r["width"]) < 24  # the label starts right after its radio
            assert radio.evaluate("el => !!el.closest('fieldset') && !!el.closest('fieldset').querySelector('legend')")
    finally:
        context.close()


def test_the_audit_trail_fits_a_desktop_screen(app, browser, server, make_user):
    auditor = make_user("auditor")
    with app.test_request_context():
        for n in range(3):
            audit.record("test.layout", entity_type="test", entity_id=n, summary=f"Event {n}: {LONG}",
                         changes={"description": [LONG * 2, LONG * 3], "sha256": ["ab" * 32, "cd" * 32]})
        db.session.commit()
    for viewport in (DESKTOP, PHONE):
        context, page = _context(browser, server, viewport)
        try:
            sign_in(page, app, auditor)
            page.goto("/audit")
            assert page.evaluate(OVERFLOW) <= 0, f"/audit overflows at {viewport['width']} px"
            assert axe_violations(page) == []
            if viewport is DESKTOP:  # the table itself fits: nothing to scroll, the changes column whole
                table = page.locator("table.audit")
                assert table.bounding_box()["width"] <= viewport["width"]
                changes = page.locator("td.changes", has_text="sha256").first
                box = changes.bounding_box()
                assert box["x"] + box["width"] <= viewport["width"]  # the changes column is not cut off
                time = page.locator("td.when").first.inner_text()
                assert len(time) == len("2026-01-01 00:00") and time[:4].isdigit(), time  # to the minute
        finally:
            context.close()


def test_buttons_are_legible(app, browser, server, draft):
    applicant, application_id = draft
    context, page = _context(browser, server, DESKTOP)
    try:
        sign_in(page, app, applicant)
        page.goto(f"/grants/applications/{application_id}/sections/documents")
        remove = page.get_by_role("button", name="Remove").first
        assert remove.is_visible()
        assert remove.evaluate(CONTRAST) >= 4.5
        for button in page.locator("button:visible").all():
            assert button.evaluate(CONTRAST) >= 4.5, button.inner_text()
    finally:
        context.close()


def test_the_contrast_check_sees_white_on_white(browser, server):
    context, page = _context(browser, server, DESKTOP)
    try:
        page.set_content('<main><button style="color:#fff;background:none;border:0">Remove</button></main>')
        assert page.locator("button").evaluate(CONTRAST) < 1.1
    finally:
        context.close()
