"""The French catalogs of the packages are merged into one at run time (Flask-Babel reads every package's
``translations`` directory), so a text must mean the same in all of them: where the French differs (gender, for
instance), the code gives the text a context (pgettext) instead."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = sorted(ROOT.glob("*/translations/fr/LC_MESSAGES/messages.po"))


def _entries():
    for path in CATALOGS:
        with path.open("rb") as f:
            catalog = read_po(f)
        for message in catalog:
            if message.id:
                yield path.parts[-5], message


def test_every_package_has_a_french_catalog():
    assert {p.parts[-5] for p in CATALOGS} >= {"fund", "grants", "donors", "transparency"}


def test_every_entry_is_translated_and_none_is_fuzzy():
    missing = [(pkg, m.context, m.id) for pkg, m in _entries()
               if m.fuzzy or not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    assert missing == []


def test_a_text_has_one_french_translation_across_the_catalogs():
    seen: dict[tuple, dict[str, object]] = {}
    for pkg, m in _entries():
        seen.setdefault((m.context, m.id), {})[pkg] = m.string
    conflicting = {key: found for key, found in seen.items() if len(set(found.values())) > 1}
    assert conflicting == {}


@functools.cache
def _source_messages() -> tuple:
    """Every text of the code and templates, extracted as `make messages` does (the same keywords and mappings):
    (package, context, msgid, first location)."""
    found = []
    for pkg in ("fund", "grants", "donors", "transparency"):
        with tempfile.TemporaryDirectory() as tmp:
            pot = Path(tmp) / "messages.pot"
            CommandLineInterface().run(["pybabel", "-q", "extract", "-F", str(ROOT / "babel" / f"{pkg}.cfg"),
                                        "-k", "_l", "-k", "lazy_gettext", "-k", "lazy_pgettext:1c,2",
                                        "-o", str(pot), str(ROOT)])
            with pot.open("rb") as f:
                found.extend((pkg, m.context, m.id, m.locations[0] if m.locations else None)
                             for m in read_po(f) if m.id)
    return tuple(found)


def _untranslated(source, catalog: dict) -> list:
    def translated(m) -> bool:
        return m is not None and not m.fuzzy and bool(all(m.string) if isinstance(m.string, tuple) else m.string)

    return [(pkg, context, msgid, where) for pkg, context, msgid, where in source
            if not translated(catalog.get((context, msgid)))]


def test_every_text_of_the_code_and_templates_has_a_french_translation():
    """A text added to a template or the code but not (yet) to a catalog shows in English on a French page: the
    catalogs are compared with a fresh extraction, not only with themselves."""
    catalog = {(m.context, m.id): m for _pkg, m in _entries()}
    source = _source_messages()
    assert len(source) > 1000
    assert _untranslated(source, catalog) == []
    some = source[0][1:3]
    assert {(c, i) for _p, c, i, _w in _untranslated(source, {k: v for k, v in catalog.items() if k != some})} == {
        some}  # the check itself: one entry fewer, and it is named
