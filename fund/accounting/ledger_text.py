"""Ledger entry descriptions in the reader's language, translated when they are shown.

The ledger is append-only and audited: its descriptions are stored once, in English, as the operations wrote them
("Tranche 1 of grant VTF/2027/004, payment BANK-9"), and are never rewritten. A screen shows them through
:func:`describe`, which recognises the patterns the operations write (one table below, most specific first),
translates the sentence and formats the amounts in it for the reader's locale. A description that matches no
pattern (an entry of an older version, a typed reason) is shown as stored. Free text inside a description (a
reason, a bank reference, a donor's name) stays as it was typed; the reasons the code itself writes ("grant
closed", "Payment failed: ...") are translated too.

Add a pattern here whenever an operation writes a new kind of description; ``tests/fund/test_ledger_text.py``
checks that every pattern translates into French.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l

#: What an operation writes in each named group of a sentence (``%(number)s``: a grant number, and so on).
GROUPS = {"number": r"\S+", "n": r"\d+", "entry": r"\d+", "id": r"\d+", "ref": ".+", "reason": ".+", "donor": ".+"}


def _pattern(text) -> re.Pattern:
    """The stored English sentence of ``text`` (its message id) as a pattern, each ``%(name)s`` a named group."""
    parts = re.split(r"%\((\w+)\)s", text._args[0])
    return re.compile("".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>{GROUPS[part]})"
                              for i, part in enumerate(parts)))


#: (pattern matching the whole stored description, translated sentence with the pattern's named groups), most
#: specific first. A sentence alone is stored as written (its groups as :data:`GROUPS` says); a pattern is given
#: where the stored text differs from the sentence. ``amount`` groups are formatted as money in the ``currency``
#: group's currency (USD when there is none); ``reason`` and ``inner`` groups are themselves passed through
#: :func:`describe`.
PATTERNS: list[tuple[re.Pattern, object]] = [
    (re.compile(entry[0]), entry[1]) if isinstance(entry, tuple) else (_pattern(entry), entry) for entry in (
    _l("Grant %(number)s committed on countersignature"),
    _l("Grant %(number)s committed"),
    _l("Commitment of grant %(number)s released: %(reason)s"),
    _l("Commitment of grant %(number)s released"),
    _l("Tranche %(n)s of grant %(number)s, payment %(ref)s"),
    _l("Disbursement to grant %(number)s"),
    _l("Refund from grant %(number)s, bank reference %(ref)s"),
    _l("Refund from grant %(number)s"),
    _l("Programme support costs of grant %(number)s after reversal of entry %(entry)s"),
    (r"Programme support costs of grant (?P<number>\S+): (?P<amount>-?[\d.]+) USD",
     _l("Programme support costs of grant %(number)s: %(amount)s")),
    _l("Reversal of entry %(entry)s: %(reason)s"),
    _l("Payment failed: %(reason)s"),
    _l("Pledge %(id)s confirmed"),
    _l("Pledge %(id)s cancelled: %(reason)s"),
    _l("Pledge %(id)s cancelled"),
    (r"Pledge (?P<id>\d+): (?P<amount>[\d.]+) (?P<currency>[A-Z]{3}) written off: (?P<reason>.+)",
     _l("Pledge %(id)s: %(amount)s written off: %(reason)s")),
    _l("Pledge %(id)s written off"),
    _l("Contribution %(ref)s from %(donor)s (pledge %(id)s)"),
    _l("Contribution %(ref)s from %(donor)s (unpledged)"),
    _l("Contribution received from donor %(id)s"),
    # Reasons the code writes itself.
    _l("grant closed"),
    _l("grant terminated"),
    # Entries posted without a description carry the English name of their kind (fund.accounting.ledger.KINDS).
    _l("Pledge confirmed"),
    _l("Pledge cancelled"),
    _l("Pledge written off"),
    _l("Contribution received"),
    _l("Grant committed"),
    _l("Commitment released"),
    _l("Disbursement paid"),
    _l("Grantee refund"),
    _l("Programme support costs"),
    )
]


def describe(description: str | None) -> str:
    """A stored ledger description as the reader should read it (translated when it is one the code writes)."""
    from fund.templating import money

    if not description:
        return ""
    for pattern, text in PATTERNS:
        match = pattern.fullmatch(description)
        if match is None:
            continue
        values = match.groupdict()
        for key in ("reason", "inner"):
            if key in values:
                values[key] = describe(values[key])
        if "amount" in values:
            try:
                values["amount"] = money(Decimal(values["amount"]), values.get("currency") or "USD")
            except InvalidOperation:
                pass
        return str(text) % values
    return description
