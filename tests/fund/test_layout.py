"""The shared look: filters (dates to the minute, percentages, country names, colons, line breaks, attributes),
the form macros (radios beside their labels), the account menu, the favicon, error pages and the two-factor
set-up page in both languages."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from flask import render_template_string
from flask_babel import force_locale

from fund.templating import colon, country_name, datetime_text, html_attrs, nl2br, percent
from tests.grants import factories as f
from tests.grants.review import factories as rf

NBSP = "\u00a0"


@pytest.fixture
def rctx(app):
    with app.test_request_context():
        yield


def test_times_are_shown_to_the_minute_with_their_zone(rctx):
    moment = dt.datetime(2026, 3, 5, 9, 7, 30, tzinfo=dt.UTC)
    with force_locale("en"):
        en = datetime_text(moment)
        assert "9:07" in en and "UTC" in en and "2026" in en
        assert datetime_text(moment.replace(tzinfo=None)) == en  # stored times are UTC
        assert "Thursday" in datetime_text(moment, "full")
    with force_locale("fr"):
        fr = datetime_text(moment)
        assert fr.startswith("5 mars 2026") and "09:07" in fr
    for text in (en, fr, datetime_text(moment, "full"), datetime_text(moment, "long")):
        assert not re.search(r"\d:\d\d:\d\d", text), text  # never seconds
    assert datetime_text(None) == ""
    with force_locale("fr"):
        assert datetime_text(dt.date(2026, 3, 5)) == "5 mars 2026"


def test_percentages_in_the_locale(rctx):
    with force_locale("en"):
        assert percent(Decimal("12.50")) == "12.5%"
        assert percent(Decimal("40.00")) == "40%"
        assert percent(Decimal("33.3333"), 2) == "33.33%"
    with force_locale("fr"):
        assert percent(Decimal("12.50")) == f"12,5{NBSP}%"
        assert percent(Decimal("33.3333"), 2) == f"33,33{NBSP}%"
    assert percent(None) == ""


def test_countries_by_name_in_the_current_language(rctx):
    with force_locale("en"):
        assert (country_name("NO"), country_name("GT"), country_name("sn")) == ("Norway", "Guatemala", "Senegal")
        assert render_template_string("{{ 'NO'|country }}") == "Norway"
    with force_locale("fr"):
        assert (country_name("NO"), country_name("SN")) == ("Norvège", "Sénégal")
        assert render_template_string("{{ codes|map('country')|join(', ') }}", codes=["NO", "GT"]) \
            == "Norvège, Guatemala"
    assert country_name("ZZ") == "ZZ" and country_name("") == "" and country_name(None) == ""


def test_colons_are_written_by_the_language(rctx):
    with force_locale("en"):
        assert colon("Review") == "Review:"
    with force_locale("fr"):
        assert colon("Évaluation") == f"Évaluation{NBSP}:"
        assert render_template_string("{{ 'Évaluation'|colon }}") == f"Évaluation{NBSP}:"


def test_line_breaks_are_kept_and_escaped():
    assert str(nl2br("12 rue des Jardins\r\nBP 45 <Dakar>\nSénégal")) \
        == "12 rue des Jardins<br>\nBP 45 &lt;Dakar&gt;<br>\nSénégal"
    assert str(nl2br(None)) == ""


def test_extra_attributes_are_rendered_once_escaped(rctx):
    assert str(html_attrs('autocomplete="off" maxlength="2" required')) == ' autocomplete="off" maxlength="2" required'
    assert str(html_attrs({"autocomplete": "off", "data-x": 'a"b', "hidden": True, "gone": None})) \
        == ' autocomplete="off" data-x="a&#34;b" hidden'
    html = render_template_string('{% from "_forms.html" import input %}'
                                  '{{ input("bank_swift", "SWIFT", attrs=\'autocomplete="off"\') }}'
                                  '{{ input("iban", "IBAN", autocomplete="off", inputmode="numeric") }}')
    assert html.count(' autocomplete="off"') == 2 and "&quot;" not in html and 'inputmode="numeric"' in html


class _Controls(HTMLParser):
    """The order of radios, labels, fieldsets and legends in a page."""

    def __init__(self):
        super().__init__()
        self.events: list[tuple] = []
        self.open_fieldsets = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "fieldset":
            self.open_fieldsets += 1
        if tag == "legend" or (tag == "input" and a.get("type") in ("radio", "checkbox")) or tag == "label":
            self.events.append((tag, a, self.open_fieldsets))

    def handle_endtag(self, tag):
        if tag == "fieldset":
            self.open_fieldsets -= 1


def radios_beside_labels(html: str) -> list[str]:
    """Each radio, in a fieldset that has a legend, followed straight away by the label for it: its ids."""
    parser = _Controls()
    parser.feed(html)
    ids = []
    for i, (tag, attrs, depth) in enumerate(parser.events):
        if tag == "input" and attrs.get("type") == "radio":
            nxt = parser.events[i + 1] if i + 1 < len(parser.events) else None
            assert depth > 0, f"radio {attrs.get('id')} outside a fieldset"
            assert any(t == "legend" and d == depth for t, _a, d in parser.events[:i]), "fieldset without legend"
            assert nxt and nxt[0] == "label" and nxt[1].get("for") == attrs["id"], f"radio {attrs['id']} apart"
            ids.append(attrs["id"])
    return ids


def test_radios_sit_beside_their_own_labels_in_a_fieldset(rctx):
    html = render_template_string(
        '{% from "_forms.html" import radios %}'
        '{{ radios("score-7", "Score for relevance", scores, value="3", inline=True,'
        '          errors={"score-7": ["Choose a score."]}, hint="1 = poor, 5 = excellent", required=True) }}'
        '{{ radios("outcome", "What do you decide?", {"": "Save only", "eligible": "Eligible"}, value="") }}',
        scores=[(n, str(n)) for n in range(1, 6)])
    assert radios_beside_labels(html) == [f"f-score-7-{n}" for n in range(1, 6)] + ["f-outcome-none",
                                                                                   "f-outcome-eligible"]
    assert re.search(r'id="f-score-7-3"[^>]*checked', html) and not re.search(r'id="f-score-7-2"[^>]*checked', html)
    assert re.search(r'id="f-outcome-none"[^>]*checked', html)
    assert 'id="f-score-7" aria-describedby="score-7-hint score-7-error"' in html  # the summary links land here
    assert html.count('aria-invalid="true"') == 5 and html.count(" required") == 5
    # The check itself sees a label put apart from its radio.
    with pytest.raises(AssertionError):
        radios_beside_labels('<fieldset><legend>Q</legend><label for="a">A</label><input type="radio" id="a">'
                             '<input type="radio" id="b"><label for="b">B</label></fieldset>')


def test_the_two_factor_set_up_lists_its_methods_as_radios_beside_labels(login_as):
    client = login_as("applicant")
    page = client.get("/account/tf-setup").get_data(as_text=True)
    assert radios_beside_labels(page), "no method to choose"


def test_account_pages_are_in_their_own_menu_and_the_favicon_is_served(app, login_as):
    page = login_as("applicant").get("/dashboard").get_data(as_text=True)
    main_nav = page.split('aria-label="Main"')[1].split("</nav>")[0]
    account = page.split('aria-label="Your account"')[1].split("</nav>")[0]
    assert "/account/tokens" not in main_nav and "/account/tokens" in account
    assert "Keys for your software (API)" in account and "Sign out" in account
    assert re.search(r'<link rel="icon" href="/static/favicon.svg', page)
    client = login_as("applicant")
    client.submit("/language", {"lang": "fr", "next": "/"}, page="/dashboard")
    french = client.get("/dashboard").get_data(as_text=True)
    assert 'aria-label="Votre compte"' in french and "Clés pour vos logiciels (API)" in french
    icon = app.test_client().get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data


def test_error_pages_say_what_happened_in_french(app, login_as):
    client = app.test_client()
    client.submit("/language", {"lang": "fr", "next": "/"}, page="/")
    missing = client.get("/no-such-page")
    body = missing.get_data(as_text=True)
    assert missing.status_code == 404 and "Page introuvable" in body
    assert "Il n'y a pas de page à cette adresse" in body.replace("&#39;", "'") and "requested URL" not in body
    applicant = login_as("applicant")
    applicant.submit("/language", {"lang": "fr", "next": "/"}, page="/dashboard")
    denied = applicant.get("/audit")
    body = denied.get_data(as_text=True).replace("&#39;", "'")
    assert denied.status_code == 403 and "Vous n'avez pas accès à cette page" in body and "permission" not in body


def test_document_fingerprints_are_for_staff_not_applicants(app, make_user, login_as):
    applicant = make_user("applicant")
    with app.test_request_context():
        f.organisation_of(applicant)
        application = rf.submitted(f.user(applicant))
        from fund.db import db

        db.session.commit()
        url = f"/grants/applications/{application.id}"
    own = login_as(applicant).get(url)
    assert own.status_code == 200 and "SHA-256" not in own.get_data(as_text=True)
    assert "budget.xlsx" in own.get_data(as_text=True)
    staff = login_as("fund_manager").get(url)
    assert staff.status_code == 200 and "SHA-256" in staff.get_data(as_text=True)


def test_the_home_page_links_to_the_open_calls(app):
    page = app.test_client().get("/").get_data(as_text=True)
    assert 'href="/grants/calls"' in page
