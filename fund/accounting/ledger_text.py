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

#: (pattern matching the whole stored description, translated sentence with the pattern's named groups).
#: ``amount`` groups are formatted as money in the ``currency`` group's currency (USD when there is none);
#: ``reason`` and ``inner`` groups are themselves passed through :func:`describe`.
PATTERNS: list[tuple[re.Pattern, object]] = [(re.compile(p), text) for p, text in (
    (r"Grant (?P<number>\S+) committed on countersignature", _l("Grant %(number)s committed on countersignature")),
    (r"Grant (?P<number>\S+) committed", _l("Grant %(number)s committed")),
    (r"Commitment of grant (?P<number>\S+) released: (?P<reason>.+)",
     _l("Commitment of grant %(number)s released: %(reason)s")),
    (r"Commitment of grant (?P<number>\S+) released", _l("Commitment of grant %(number)s released")),
    (r"Tranche (?P<n>\d+) of grant (?P<number>\S+), payment (?P<ref>.+)",
     _l("Tranche %(n)s of grant %(number)s, payment %(ref)s")),
    (r"Disbursement to grant (?P<number>\S+)", _l("Disbursement to grant %(number)s")),
    (r"Refund from grant (?P<number>\S+), bank reference (?P<ref>.+)",
     _l("Refund from grant %(number)s, bank reference %(ref)s")),
    (r"Refund from grant (?P<number>\S+)", _l("Refund from grant %(number)s")),
    (r"Programme support costs of grant (?P<number>\S+) after reversal of entry (?P<entry>\d+)",
     _l("Programme support costs of grant %(number)s after reversal of entry %(entry)s")),
    (r"Programme support costs of grant (?P<number>\S+): (?P<amount>-?[\d.]+) USD",
     _l("Programme support costs of grant %(number)s: %(amount)s")),
    (r"Reversal of entry (?P<entry>\d+): (?P<reason>.+)", _l("Reversal of entry %(entry)s: %(reason)s")),
    (r"Payment failed: (?P<reason>.+)", _l("Payment failed: %(reason)s")),
    (r"Pledge (?P<id>\d+) confirmed", _l("Pledge %(id)s confirmed")),
    (r"Pledge (?P<id>\d+) cancelled: (?P<reason>.+)", _l("Pledge %(id)s cancelled: %(reason)s")),
    (r"Pledge (?P<id>\d+) cancelled", _l("Pledge %(id)s cancelled")),
    (r"Pledge (?P<id>\d+): (?P<amount>[\d.]+) (?P<currency>[A-Z]{3}) written off: (?P<reason>.+)",
     _l("Pledge %(id)s: %(amount)s written off: %(reason)s")),
    (r"Pledge (?P<id>\d+) written off", _l("Pledge %(id)s written off")),
    (r"Contribution (?P<ref>.+) from (?P<donor>.+) \(pledge (?P<id>\d+)\)",
     _l("Contribution %(ref)s from %(donor)s (pledge %(id)s)")),
    (r"Contribution (?P<ref>.+) from (?P<donor>.+) \(unpledged\)",
     _l("Contribution %(ref)s from %(donor)s (unpledged)")),
    (r"Contribution received from donor (?P<id>\d+)", _l("Contribution received from donor %(id)s")),
    # Reasons the code writes itself.
    (r"grant closed", _l("grant closed")),
    (r"grant terminated", _l("grant terminated")),
    # Entries posted without a description carry the English name of their kind (fund.accounting.ledger.KINDS).
    (r"Pledge confirmed", _l("Pledge confirmed")),
    (r"Pledge cancelled", _l("Pledge cancelled")),
    (r"Pledge written off", _l("Pledge written off")),
    (r"Contribution received", _l("Contribution received")),
    (r"Grant committed", _l("Grant committed")),
    (r"Commitment released", _l("Commitment released")),
    (r"Disbursement paid", _l("Disbursement paid")),
    (r"Grantee refund", _l("Grantee refund")),
    (r"Programme support costs", _l("Programme support costs")),
)]


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
