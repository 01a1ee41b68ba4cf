"""Ledger descriptions are stored once, in English, and translated when a screen shows them."""

from __future__ import annotations

from flask_babel import force_locale

from fund.accounting.ledger_text import PATTERNS, describe


def test_every_pattern_has_a_french_sentence(app):
    with app.test_request_context(), force_locale("fr"):
        untranslated = [p.pattern for p, text in PATTERNS if str(text) == text._args[0]]
    assert untranslated == []


def test_descriptions_the_operations_write_read_in_french(app):
    with app.test_request_context(), force_locale("fr"):
        assert describe("Tranche 1 of grant VTF/2027/004, payment BANK-9") == \
            "Tranche 1 de la subvention VTF/2027/004, paiement BANK-9"
        assert describe("Reversal of entry 12: Payment failed: account closed") == \
            "Contre-passation de l'écriture 12\u00a0: Paiement échoué\u00a0: account closed"
        assert describe("Pledge 3: 1500.00 EUR written off: budget cut") == \
            "Annonce de contribution 3\u00a0: 1\u202f500,00 EUR passés en pertes\u00a0: budget cut"
        assert describe("Contribution NO-1 from Norway (pledge 4)") == "Contribution NO-1 de Norway (annonce 4)"
        assert describe("Commitment of grant VTF/2027/001 released: grant closed") == \
            "Engagement de la subvention VTF/2027/001 libéré\u00a0: subvention clôturée"
        assert describe("Programme support costs") == "Dépenses d'appui aux programmes"
        assert describe("Something typed by hand") == "Something typed by hand"
    with app.test_request_context(), force_locale("en"):
        assert describe("Pledge 3: 1500.00 EUR written off: budget cut") == \
            "Pledge 3: 1,500.00 EUR written off: budget cut"
