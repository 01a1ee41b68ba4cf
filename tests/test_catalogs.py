"""The French catalogs of the packages are merged into one at run time (Flask-Babel reads every package's
``translations`` directory), so a text must mean the same in all of them: where the French differs (gender, for
instance), the code gives the text a context (pgettext) instead."""

from __future__ import annotations

from pathlib import Path

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
