"""The UN Security Council consolidated sanctions list: import (XML or CSV, all or nothing) and name matching.

Matching ignores case, accents (Unicode NFKD, combining marks dropped), punctuation and word order: a name
becomes its sorted list of tokens (:func:`key`); a name with apostrophes also gets the key where they separate
words (:func:`keys`: "Qa'ida" and "Qaida", "d'Espoir" and "d Espoir" both match). A name matches a listed
name or alias when a key is equal ("exact"), or when all the words of one (two words at least) appear in the
other ("partial", e.g. an organisation called "Al Rashid Trust Pakistan" and the listed entity "AL-RASHID
TRUST"). A match is only ever a *possible* match: the screening page shows it with the listed name and reference
number, and the fund manager decides.

The XML is the list the UN publishes (``CONSOLIDATED_LIST`` with ``INDIVIDUALS/INDIVIDUAL`` and
``ENTITIES/ENTITY``, names in ``FIRST_NAME`` .. ``FOURTH_NAME``, aliases in ``*_ALIAS/ALIAS_NAME``, the original
script in ``NAME_ORIGINAL_SCRIPT``). The CSV has a header ``reference_number,type,name,aliases`` (``type``
``individual`` or ``entity``; aliases separated by ``;``). The XML is parsed with ``defusedxml``: a document
with a DTD, entities or external references is refused, whatever its encoding and wherever the DTD stands. An
import replaces the whole list in one transaction: a file with any bad record changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring as safe_fromstring
from sqlalchemy import delete, func, select

from fund import audit
from fund.db import db
from grants.review.models import SANCTIONS_KINDS, SanctionsEntry, SanctionsImport, SanctionsName

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element  # a type name only: parsing goes through defusedxml

_APOSTROPHES = "'’‘ʼ`´"
_DROP_APOSTROPHES = dict.fromkeys(map(ord, _APOSTROPHES), None)
_PUNCTUATION = re.compile(r"[\W_]+", re.UNICODE)


def tokens(name: str | None, *, split_apostrophes: bool = False) -> list[str]:
    """The words of a name, without case, accents or punctuation, sorted. Apostrophes join the letters around
    them ("Qa'ida" -> "qaida"), or separate words with ``split_apostrophes`` ("d'Espoir" -> "d espoir")."""
    if not name:
        return []
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    if not split_apostrophes:
        text = text.translate(_DROP_APOSTROPHES)
    return sorted(t for t in _PUNCTUATION.split(text.casefold()) if t)


def key(name: str | None) -> str:
    """The matching key of a name: ``"Ğülşen  AL-Rashid"`` and ``"al rashid, gulsen"`` give ``"al gulsen rashid"``."""
    return " ".join(tokens(name))


def keys(name: str | None) -> set[str]:
    """Every key of a name: with apostrophes joining letters and, if it has any, separating words."""
    found = {key(name)}
    if name and any(ch in name for ch in _APOSTROPHES):
        found.add(" ".join(tokens(name, split_apostrophes=True)))
    return {k for k in found if k}


class SanctionsFileError(ValueError):
    """The file cannot be imported (nothing was changed)."""


@dataclass
class ParsedEntry:
    reference_number: str
    kind: str
    name: str
    aliases: list[str] = field(default_factory=list)


def _text(el: Element | None) -> str:
    return " ".join((el.text or "").split()) if el is not None else ""


def parse_xml(data: bytes) -> tuple[list[ParsedEntry], str | None]:
    """The entries of the UN consolidated list XML, and its ``dateGenerated``."""
    try:
        root = safe_fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SanctionsFileError(f"XML documents with a DTD, entities or external references are not accepted "
                                 f"({type(exc).__name__})") from exc
    except ParseError as exc:
        raise SanctionsFileError(f"not well-formed XML: {exc}") from exc
    if root.tag != "CONSOLIDATED_LIST":
        raise SanctionsFileError(f"expected a CONSOLIDATED_LIST document, found <{root.tag}>")
    entries: list[ParsedEntry] = []
    for kind, path, alias_tag in (("individual", "INDIVIDUALS/INDIVIDUAL", "INDIVIDUAL_ALIAS"),
                                  ("entity", "ENTITIES/ENTITY", "ENTITY_ALIAS")):
        for n, el in enumerate(root.findall(path), start=1):
            ref = _text(el.find("REFERENCE_NUMBER"))
            parts = [_text(el.find(tag)) for tag in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")]
            name = " ".join(p for p in parts if p)
            where = f"{kind} {n}" + (f" ({ref})" if ref else "")
            if not ref:
                raise SanctionsFileError(f"{where}: no REFERENCE_NUMBER")
            if not key(name):
                raise SanctionsFileError(f"{where}: no name")
            aliases = [_text(a.find("ALIAS_NAME")) for a in el.findall(alias_tag)]
            original = _text(el.find("NAME_ORIGINAL_SCRIPT"))
            aliases = [a for a in [*aliases, original] if key(a)]
            entries.append(ParsedEntry(ref, kind, name, aliases))
    if not entries:
        raise SanctionsFileError("the list has no INDIVIDUALS/INDIVIDUAL or ENTITIES/ENTITY records")
    return entries, root.get("dateGenerated")


CSV_COLUMNS = ("reference_number", "type", "name", "aliases")


def parse_csv(data: bytes) -> list[ParsedEntry]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SanctionsFileError("the CSV file is not UTF-8") from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CSV_COLUMNS[:3] if c not in (reader.fieldnames or [])]
    if missing:
        raise SanctionsFileError(f"the CSV header must be {','.join(CSV_COLUMNS)} (missing: {', '.join(missing)})")
    entries = []
    for row in reader:
        line = reader.line_num
        ref = (row.get("reference_number") or "").strip()
        kind = (row.get("type") or "").strip().lower()
        name = " ".join((row.get("name") or "").split())
        if not ref:
            raise SanctionsFileError(f"line {line}: no reference_number")
        if kind not in SANCTIONS_KINDS:
            raise SanctionsFileError(f"line {line}: type must be individual or entity, not {kind!r}")
        if not key(name):
            raise SanctionsFileError(f"line {line}: no name")
        aliases = [" ".join(a.split()) for a in (row.get("aliases") or "").split(";")]
        entries.append(ParsedEntry(ref, kind, name, [a for a in aliases if key(a)]))
    if not entries:
        raise SanctionsFileError("the CSV file has no records")
    return entries


def parse(data: bytes, filename: str = "") -> tuple[list[ParsedEntry], str | None]:
    """Parse by content: XML when it starts with ``<``, CSV otherwise."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
        return parse_xml(data)
    return parse_csv(data), None


def import_list(data: bytes, source: str, *, actor=None,
                progress: Callable[[Iterable[ParsedEntry]], Iterable[ParsedEntry]] | None = None) -> SanctionsImport:
    """Replace the sanctions list with the file's entries, in the caller's transaction (never commits).

    Parses everything first: a bad record raises :class:`SanctionsFileError` before anything is written.
    ``progress`` wraps the iteration over entries (the CLI's progress bar)."""
    entries, generated = parse(data, source)
    before = db.session.execute(select(func.count()).select_from(SanctionsEntry)).scalar_one()
    db.session.execute(delete(SanctionsName))
    db.session.execute(delete(SanctionsEntry))
    names = 0
    for parsed in (progress(entries) if progress else entries):
        entry = SanctionsEntry(reference_number=parsed.reference_number[:64], kind=parsed.kind,
                               name=parsed.name[:500])
        seen = set()
        for alias, text in ((False, parsed.name), *((True, a) for a in parsed.aliases)):
            for k in sorted(keys(text)):
                if k[:500] in seen:
                    continue
                seen.add(k[:500])
                entry.names.append(SanctionsName(name=text[:500], is_alias=alias, key=k[:500]))
        names += len(entry.names)
        db.session.add(entry)
    imp = SanctionsImport(source=source[:255], sha256=hashlib.sha256(data).hexdigest(), generated=generated,
                          entries=len(entries), names=names)
    db.session.add(imp)
    db.session.flush()
    audit.record("sanctions.import", imp, actor=actor,
                 summary=f"Sanctions list imported from {source}: {len(entries)} entries, {names} names",
                 changes={"entries": [before, len(entries)], "sha256": [None, imp.sha256],
                          "generated": [None, generated]})
    return imp


def current_import() -> SanctionsImport | None:
    return db.session.execute(select(SanctionsImport).order_by(SanctionsImport.id.desc()).limit(1)).scalar()


@dataclass(frozen=True)
class Match:
    """A possible match: which of our names (``field``, ``candidate``) resembles which listed name."""

    field: str
    candidate: str
    listed_name: str
    entry_name: str
    reference_number: str
    kind: str
    alias: bool
    exact: bool

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("field", "candidate", "listed_name", "entry_name",
                                              "reference_number", "kind", "alias", "exact")}


def _partial(ours: set[str], listed: set[str]) -> bool:
    small, big = (ours, listed) if len(ours) <= len(listed) else (listed, ours)
    return len(small) >= 2 and small <= big


def find_matches(names: dict[str, str | None]) -> list[Match]:
    """Possible matches of our names (``{field: name}``) against the list, exact ones first."""
    wanted = {f: keys(n) for f, n in names.items() if keys(n)}
    if not wanted:
        return []
    rows = db.session.execute(select(SanctionsName.id, SanctionsName.key)).all()
    hits: dict[int, list[tuple[str, bool]]] = {}
    for name_id, listed_key in rows:
        listed_tokens = set(listed_key.split())
        for f, ours in wanted.items():
            if listed_key in ours:
                hits.setdefault(name_id, []).append((f, True))
            elif any(_partial(set(k.split()), listed_tokens) for k in ours):
                hits.setdefault(name_id, []).append((f, False))
    if not hits:
        return []
    listed = {n.id: n for n in db.session.execute(
        select(SanctionsName).where(SanctionsName.id.in_(list(hits)))).scalars()}
    found = []
    for name_id, fields_ in hits.items():
        n = listed[name_id]
        for f, exact in fields_:
            found.append(Match(f, names[f] or "", n.name, n.entry.name, n.entry.reference_number, n.entry.kind,
                               n.is_alias, exact))
    return sorted(set(found), key=lambda m: (not m.exact, m.reference_number, m.field, m.listed_name))


def organisation_names(org) -> dict[str, str | None]:
    """The names of an applicant organisation that are screened: its name, the bank account's holder and the
    contact person."""
    return {"name": org.name, "bank_account_holder": org.bank_account_holder, "contact_name": org.contact_name}
