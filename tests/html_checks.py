"""Checks every portal page must pass: unique ids, every form control labelled, a language, one h1, forms that
post carry a CSRF token."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.controls: list[tuple[str, dict]] = []
        self.label_depth = 0
        self.h1 = 0
        self.html_lang = None
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"])
        if tag == "html":
            self.html_lang = a.get("lang")
        elif tag == "h1":
            self.h1 += 1
        elif tag == "label":
            self.label_depth += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        elif tag == "form":
            self.forms.append({"method": (a.get("method") or "get").lower(), "csrf": False,
                               "action": a.get("action", "")})
        elif tag in ("input", "select", "textarea"):
            if tag == "input" and a.get("name") == "csrf_token" and self.forms:
                self.forms[-1]["csrf"] = True
            if tag == "input" and (a.get("type") or "text").lower() in UNLABELLED_TYPES:
                return
            a["_wrapped"] = self.label_depth > 0
            self.controls.append((tag, a))

    def handle_endtag(self, tag):
        if tag == "label" and self.label_depth:
            self.label_depth -= 1


def page_problems(html: str) -> list[str]:
    c = _Collector()
    c.feed(html)
    problems = []
    dupes = [i for i, n in Counter(c.ids).items() if n > 1]
    if dupes:
        problems.append(f"duplicate ids {sorted(dupes)[:5]}")
    for tag, a in c.controls:
        if a["_wrapped"] or a.get("aria-label") or a.get("aria-labelledby") or a.get("title"):
            continue
        if not a.get("id") or a["id"] not in c.label_for:
            problems.append(f"unlabelled <{tag} name={a.get('name')!r}>")
    if not c.html_lang:
        problems.append("no lang on <html>")
    if c.h1 != 1:
        problems.append(f"{c.h1} h1 elements")
    for form in c.forms:
        if form["method"] == "post" and not form["csrf"]:
            problems.append(f"POST form to {form['action']!r} without a CSRF token")
    return problems
