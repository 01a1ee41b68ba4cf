"""axe-core (the copy bundled by axe-playwright-python) on every portal page of the route matrix, as every role the
matrix lets in, in one browser: one context per role, signed in once through the real form, one tab reused.

The pages run without JavaScript, as the portal is meant to: axe is injected through Playwright's evaluate (the
DevTools protocol), which page scripts being off does not stop; timers never fire in such a page, so axe's
setTimeout is replaced by a microtask first (axe only uses it to yield between checks). Every WCAG 2.0, 2.1 and
2.2 rule of levels A and AA runs; a page passes with zero violations."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import Error as PlaywrightError

from fund.models import ROLES
from tests.browser.pages import ANONYMOUS, matrix_pages
from tests.browser.test_portal_browser import sign_in
from tests.live import rounds

WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_A_AA}, "resultTypes": ["violations"]}
#: With JavaScript off a page's timers never fire: axe's pauses between checks become microtasks.
TIMERS_AS_MICROTASKS = ("window.setTimeout = (fn, ms, ...args) => { Promise.resolve().then(() => fn(...args)); "
                        "return 0; }; window.clearTimeout = () => {};")


#: Violations known today: (endpoint, viewer, rule) -> the defect. While
#: one is listed, the sweep passes with it (and only with it); once fixed, the sweep fails until it is removed here,
#: as a strict xfail would, without hiding any other page's violations meanwhile.
KNOWN: dict[tuple[str, str, str], str] = {}


def violations(page) -> list[tuple[str, str]]:
    """axe on the page as it is: (rule, line) per violated rule, the line naming the rule, its impact and the
    elements (CSS selectors) that break it. A page reached by a click is first let finish loading: until its
    stylesheet is applied, targets are small and tables overflow."""
    page.wait_for_load_state("load")
    page.evaluate(TIMERS_AS_MICROTASKS)
    page.evaluate(AXE_SCRIPT)
    found = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)["violations"]
    lines = []
    for v in found:
        targets = ", ".join(" ".join(node["target"]) for node in v["nodes"][:4])
        more = f" (+{len(v['nodes']) - 4})" if len(v["nodes"]) > 4 else ""
        lines.append((v["id"], f"{v['id']} [{v['impact']}] {v['help']}: {targets}{more}"))
    return lines


#: The page's two parts, each with its CSRF token values blanked: the <main> and everything around it.
PARTS = """() => {
  const blank = html => html.replace(/(name="csrf_token"[^>]*value=")[^"]*/g, "$1");
  const main = document.querySelector("main");
  const frame = document.body.cloneNode(true);
  frame.querySelector("main")?.remove();
  return [document.title, blank(main ? main.outerHTML : ""), blank(frame.outerHTML)];
}"""


def test_axe_finds_a_violation_on_a_broken_page(browser, server):
    """The check itself: a page with an unlabelled field and an image without text fails it, JavaScript off."""
    context = browser.new_context(java_script_enabled=False, base_url=server.url)
    page = context.new_page()
    page.goto("/")
    page.set_content('<html><head><title>x</title></head><body><main><h1>x</h1><input name="q">'
                     '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main></body></html>')
    found = " ".join(line for _rule, line in violations(page))
    context.close()
    assert "label" in found and "image-alt" in found and "html-has-lang" in found


#: make test-full (.ci/run's PostgreSQL pass) checks every page as every role that may see it, in parts that the
#: test workers share (each part signs in every role once); the everyday make test checks every page once, as one
#: of the roles that may see it, taken in turn from page to page so that every role's menus are checked too.
EVERY_VIEWER = rounds(full=True, light=False)
PARTS_OF_THE_SWEEP = 4 if EVERY_VIEWER else 1


@pytest.mark.parametrize("part", range(PARTS_OF_THE_SWEEP))
def test_every_portal_page_has_no_axe_violation(app, browser, server, make_user, part):
    users = {role: make_user(role) for role in ROLES}
    every_page = matrix_pages(app, users)
    pages = every_page[part::PARTS_OF_THE_SWEEP]
    assert len(every_page) >= 60 and pages, f"only {len(every_page)} pages in the matrix"
    if not EVERY_VIEWER:
        pages = [replace(p, viewers=(p.viewers[i % len(p.viewers)],)) for i, p in enumerate(pages)]
    tabs, contexts = {}, []
    for viewer in (ANONYMOUS, *ROLES):
        if not any(viewer in p.viewers for p in pages):
            continue
        context = browser.new_context(java_script_enabled=False, base_url=server.url, locale="en-GB")
        contexts.append(context)
        tab = context.new_page()
        tab.set_default_timeout(15000)
        if viewer != ANONYMOUS:
            sign_in(tab, app, users[viewer])
            assert tab.url.endswith("/dashboard"), f"{viewer} could not sign in: {tab.url}"
        tabs[viewer] = tab
    failures, known, checked, started, axe_time = [], set(), 0, time.monotonic(), 0.0
    seen_mains, seen_frames, skipped = set(), set(), 0
    try:
        for p in pages:
            for viewer in p.viewers:
                tab = tabs[viewer]
                try:
                    response = tab.goto(p.url)
                except PlaywrightError as exc:  # a file to download (JSON, CSV, PDF...), not a page
                    if "Download is starting" in str(exc):
                        continue
                    raise
                if response is None or response.status != 200 or "text/html" not in response.headers.get(
                        "content-type", ""):
                    continue
                # A public page often differs between roles only by the menu around it: a page whose <main> and
                # whose surroundings were both checked already (on other pages) is not checked again.
                title, main, frame = tab.evaluate(PARTS)
                if (title, main) in seen_mains and frame in seen_frames:
                    skipped += 1
                    continue
                seen_mains.add((title, main))
                seen_frames.add(frame)
                checked += 1
                t0 = time.monotonic()
                for rule, line in violations(tab):
                    if (p.endpoint, viewer, rule) in KNOWN:
                        known.add((p.endpoint, viewer, rule))
                    else:
                        failures.append(f"{p.url} ({p.endpoint}) as {viewer}: {line}")
                axe_time += time.monotonic() - t0
    finally:
        for context in contexts:
            context.close()
    print(f"axe: {checked} pages checked ({skipped} made of parts already checked) in "
          f"{time.monotonic() - started:.1f} s, axe itself {axe_time:.1f} s")
    assert checked >= len(pages) // 4, f"only {checked} of {len(pages)} pages were checked"
    assert not failures, f"{len(failures)} violations:\n" + "\n".join(failures)
    mine = {k for k in KNOWN if k[0] in {p.endpoint for p in pages}}
    assert known == mine, f"fixed, to be removed from KNOWN: {sorted(mine - known)}"
