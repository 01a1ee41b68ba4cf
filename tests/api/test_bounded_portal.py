"""The portal's side of bounded numbers: every page a role can reach is read for its POST forms, and each form is
sent with ``1E+30``, ``NaN``, ``Infinity``, ``-0``, a 40-digit number and 2^63 in every number it asks for
(amounts, unit costs, quantities, rates, percentages, counts): a message or a redirect, never a server error.
Every route with an id in its path answers 404 for ids past 2^31 - 1, signed in or not."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.api.test_bounded_numbers import FORTY_DIGITS

BAD_VALUES = ["1E+30", "NaN", "Infinity", "-0", FORTY_DIGITS, str(2**63)]
NUMBER_NAME = re.compile(r"amount|cost|quantity|rate|percent|count|units|spent|budget|^b-|^sa-|^as-|^form-|^c-")


class Forms(HTMLParser):
    """The POST forms of a page: action, and their inputs' names, types and values."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self._form = {"action": a.get("action") or "", "fields": {}, "numbers": set()}
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "select", "textarea") and a.get("name"):
            kind = (a.get("type") or tag).lower()
            if kind in ("submit", "file", "checkbox", "radio") and a["name"] != "csrf_token":
                return
            self._form["fields"][a["name"]] = a.get("value") or ""
            if kind == "number" or NUMBER_NAME.search(a["name"]):
                self._form["numbers"].add(a["name"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def _pages(app, ids: dict) -> list[str]:
    """Every portal page reachable by GET whose path arguments are ids we know (each known value of each)."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(("/api/", "/account", "/static")):
            continue
        if any(arg not in ids for arg in rule.arguments):
            continue
        paths = [rule.rule]
        for arg in rule.arguments:
            paths = [re.sub(rf"<(?:\w+:)?{arg}>", str(value), path) for path in paths for value in ids[arg]]
        urls.extend(paths)
    return sorted(set(urls))


@pytest.fixture
def portal_clients(app, login_as, seeded_fund):
    """Signed-in portal clients; the grantee also has a draft application (its sections are forms of numbers)."""
    from fund.db import db
    from fund.models import User
    from grants.schemas import SECTION_FIELDS
    from tests.grants import factories as gf

    with app.test_request_context():
        grantee = db.session.execute(db.select(User).where(User.email.like("applicant-%"))
                                     .order_by(User.id)).scalars().first()
        draft = gf.make_application(grantee, gf.make_call(title_en="Second call", title_fr="Second appel"))
        db.session.commit()
        seeded_fund.ids["application_id"].insert(0, draft.id)
        seeded_fund.ids["section"] = list(SECTION_FIELDS)
        db.session.refresh(grantee)
        db.session.expunge(grantee)
    return {"applicant": login_as(grantee), "fund_manager": login_as("fund_manager"),
            "finance_officer": login_as("finance_officer")}


def test_every_number_of_every_portal_form_refuses_what_does_not_fit(app, seeded_fund, portal_clients):
    sent = 0
    for role, client in portal_clients.items():
        for url in _pages(app, seeded_fund.ids):
            resp = client.get(url)
            assert resp.status_code < 500, (role, url)
            if resp.status_code != 200 or "text/html" not in resp.content_type:
                continue
            parser = Forms()
            parser.feed(resp.get_data(as_text=True))
            for form in parser.forms:
                if not form["numbers"] or "csrf_token" not in form["fields"]:
                    continue
                action = form["action"] or url
                for bad in BAD_VALUES:
                    data = {**form["fields"], **dict.fromkeys(form["numbers"], bad)}
                    answer = client.post(action, data=data)
                    sent += 1
                    assert answer.status_code < 500, (role, url, action, bad, answer.get_data(as_text=True)[:300])
    assert sent > 50  # the walk reached the money forms (calls, budgets, disbursements, refunds, rates, ...)


def test_portal_ids_past_the_bound_are_404(app, portal_clients):
    anonymous = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        ints = [arg for arg, conv in rule._converters.items() if type(conv).__name__ == "IdConverter"]
        if not ints or rule.rule.startswith("/api/"):
            continue
        for bad in (2**31, 2**63, int(FORTY_DIGITS)):
            path = rule.rule
            for arg in rule.arguments:
                value = str(bad) if arg in ints else "x"
                path = re.sub(rf"<(?:[\w()=,\s]+:)?{arg}>", value, path)
            for client in (anonymous, portal_clients["fund_manager"]):
                method = "GET" if "GET" in rule.methods else "POST"
                resp = client.open(path, method=method)
                assert resp.status_code == 404, (rule.rule, path, resp.status_code)
                checked += 1
    assert checked > 100
