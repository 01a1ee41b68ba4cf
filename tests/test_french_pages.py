"""French completeness of the rendered portal: every page of the route matrix, as every role the matrix lets in, is
fetched in English and then in French (through the language switch, as a user does). On the French page no
visible text may be an English text of the catalogs whose French differs (it would be a text the code forgot to
translate, or a catalog entry missing), nor a word of the code (``fund_manager``, ``pending_signature``) shown as
it is, and the French page must not read exactly as the English one.

Visible text: the text nodes outside <script>, <style>, elements marked hidden and machine values (<code>), plus
what a browser shows or reads out from attributes (title, alt, placeholder, aria-label, the value of a button-like
input). A language's own name (the "English" option of the language switch) is written in that language on
purpose: such an element carries its own lang attribute and is left out."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.pofile import read_po

from fund.models import ROLES
from tests.browser.pages import ANONYMOUS, matrix_pages

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = sorted(ROOT.glob("*/translations/fr/LC_MESSAGES/messages.po"))
SKIPPED = {"script", "style", "template", "noscript"}
#: Machine values shown as they are (field names of the audit trail's changes, codes, JSON).
VERBATIM = {"code", "kbd", "samp", "pre"}
#: Texts that the matrix's builders type in as a user would (a reviewer named "Reviewer", a budget line described
#: "Shelter"): user data, in the language its author wrote it.
BUILDERS_DATA = {"Reviewer", "Shelter"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SHOWN_ATTRIBUTES = ("title", "alt", "placeholder", "aria-label")
BUTTON_INPUTS = {"submit", "button", "reset"}


def english_texts() -> dict[str, str]:
    """English msgid -> its French, for every text whose French differs from the English in every entry (with or
    without a context) of the catalogs: "Active" is "Active" for a grant, so it is not one. Texts with placeholders
    are left out (a rendered page never shows them as they are), and so are one-letter texts."""
    texts: dict[str, str] = {}
    same: set[str] = set()
    for path in CATALOGS:
        with path.open("rb") as f:
            for message in read_po(f):
                ids = message.id if isinstance(message.id, tuple) else (message.id,)
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                for msgid, french in zip(ids, strings, strict=False):
                    if not msgid or "%" in msgid or "{" in msgid or len(msgid.strip()) < 2:
                        continue
                    if french and normalise(french) != normalise(msgid):
                        texts[normalise(msgid)] = french
                    elif french:
                        same.add(normalise(msgid))
    return {msgid: french for msgid, french in texts.items() if msgid not in same}


def normalise(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


class VisibleText(HTMLParser):
    """The texts of a page a reader sees or hears, in document order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, hides its content)

    @property
    def hidden(self) -> bool:
        return any(hides for _tag, hides in self.stack)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        hides = (tag in SKIPPED or tag in VERBATIM or "hidden" in a or a.get("aria-hidden") == "true"
                 or (a.get("lang") not in (None, "", "fr") and tag != "html"))
        if not self.hidden and not hides:
            for name in SHOWN_ATTRIBUTES:
                if a.get(name):
                    self.texts.append(normalise(a[name]))
            if tag == "input" and (a.get("type") or "").lower() in BUTTON_INPUTS and a.get("value"):
                self.texts.append(normalise(a["value"]))
        if tag not in VOID:
            self.stack.append((tag, hides))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        text = normalise(data)
        if text and not self.hidden:
            self.texts.append(text)


def visible_texts(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    parser.close()
    return parser.texts


def untranslated(html: str, english: dict[str, str]) -> list[str]:
    return sorted({t for t in visible_texts(html) if t in english and t not in BUILDERS_DATA})


#: Defects known today: (endpoint, viewer, check) -> the defect. While
#: one is listed the check passes with it (and only with it); once fixed, the check fails until it is removed here,
#: as a strict xfail would, without hiding any other page's defects meanwhile.
KNOWN: dict[tuple[str, str, str], str] = {}

CODE = re.compile(r"(?<![\w@./-])[a-z]+(?:_[a-z0-9]+)+(?![\w@/-])")
ADDRESSES = re.compile(r"\S+@\S+|https?://\S+")


def raw_codes(html: str) -> list[str]:
    """Words of the code shown as they are (``fund_manager``, ``pending_signature``): a value the page forgot to
    turn into words of the reader's language. E-mail addresses and links are left out."""
    return sorted({m for t in visible_texts(html) for m in CODE.findall(ADDRESSES.sub(" ", t))})


def test_the_check_finds_an_english_text_on_a_french_page():
    english = {"Save draft": "Enregistrer le brouillon", "Dashboard": "Tableau de bord"}
    page = ('<html lang="fr"><body><script>var s = "Save draft";</script><p>Tableau de bord</p>'
            '<button>Save draft</button><input type="submit" value="Dashboard">'
            '<select><option lang="en">Dashboard</option></select><span hidden>Dashboard</span></body></html>')
    assert untranslated(page, english) == ["Dashboard", "Save draft"]
    assert {"Save draft", "Dashboard"} <= english_texts().keys()  # read from the catalogs
    assert raw_codes("<p>Connecté en tant que fund_manager-1@example.org (fund_manager).</p><code>a_b</code>"
                     "<p>Statut : pending_signature</p>") == ["fund_manager", "pending_signature"]


def test_every_page_in_french_has_no_english_text(app, make_user, login_as):
    users = {role: make_user(role) for role in ROLES}
    clients = {role: login_as(users[role]) for role in ROLES}
    clients[ANONYMOUS] = app.test_client()
    pages = matrix_pages(app, users)
    english = english_texts()

    def fetch_all() -> dict:
        found = {}
        for p in pages:
            for viewer in p.viewers:
                resp = clients[viewer].get(p.url)
                if resp.status_code == 200 and resp.mimetype == "text/html":
                    found[(p.url, viewer)] = (p.endpoint, resp.get_data(as_text=True))
                resp.close()
        return found

    in_english = fetch_all()
    for client in clients.values():
        resp = client.submit("/language", {"lang": "fr", "next": "/"}, page="/")
        assert resp.status_code in (302, 303)
    in_french = fetch_all()

    assert len(in_french) >= 60 and in_french.keys() == in_english.keys()
    failures, known = [], set()

    def fail(endpoint, url, viewer, check, message):
        if (endpoint, viewer, check) in KNOWN:
            known.add((endpoint, viewer, check))
        else:
            failures.append(f"{url} ({endpoint}) as {viewer}: {message}")

    for (url, viewer), (endpoint, html) in in_french.items():
        if '<html lang="fr">' not in html:
            fail(endpoint, url, viewer, "lang", "not served in French")
            continue
        left = untranslated(html, english)
        if left:
            fail(endpoint, url, viewer, "english", f"English on the French page: {left}")
        codes = raw_codes(html)
        if codes:
            fail(endpoint, url, viewer, "codes", f"codes shown as they are: {codes}")
        if visible_texts(html) == visible_texts(in_english[(url, viewer)][1]):
            fail(endpoint, url, viewer, "same", "the French page reads exactly as the English one")
    assert not failures, f"{len(failures)} pages:\n" + "\n".join(failures)
    assert known == KNOWN.keys(), f"fixed, to be removed from KNOWN: {sorted(KNOWN.keys() - known)}"


def test_error_pages_in_french_have_no_english_text(app, make_user, login_as):
    english = english_texts()
    client = login_as(make_user("applicant"))
    resp = client.submit("/language", {"lang": "fr", "next": "/"}, page="/")
    assert resp.status_code in (302, 303)
    for url, status in (("/no-such-page", 404), ("/admin/users", 403), ("/grants/applications/999999", 404)):
        resp = client.get(url)
        html = resp.get_data(as_text=True)
        assert resp.status_code == status and '<html lang="fr">' in html, (url, resp.status_code)
        assert untranslated(html, english) == [], url
