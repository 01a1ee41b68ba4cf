"""The vocabularies the grants package speaks (DOMAIN.md): codes stored in the database, labels translated."""

from __future__ import annotations

import functools

from flask_babel import lazy_gettext as _l

from fund import vocabulary

ORGANISATION_TYPES = {
    "ngo": _l("Non-governmental organisation"),
    "community_based": _l("Community-based organisation"),
    "faith_based": _l("Faith-based organisation"),
    "academic": _l("Academic institution"),
    "other": _l("Other"),
}

#: Funding windows: code used in reference numbers, and label.
WINDOWS = {
    "emergency": ("SGP1", _l("Emergency assistance (sub-grant programme 1)")),
    "medium_term": ("SGP2", _l("Medium-term assistance (sub-grant programme 2)")),
}

#: Forms of exploitation, types of assistance, sexes and age bands: the one vocabulary of applications, reports,
#: statements, public outputs and exports (fund.vocabulary), re-exported for the grants package.
FORMS_OF_EXPLOITATION = vocabulary.FORMS_OF_EXPLOITATION
ASSISTANCE_GROUPS = vocabulary.ASSISTANCE_GROUPS
ASSISTANCE_TYPES = vocabulary.ASSISTANCE_TYPES
SEXES = vocabulary.SEX_LABELS
AGE_BANDS = vocabulary.AGE_BAND_LABELS

BUDGET_CATEGORIES = {
    "personnel": _l("Personnel"),
    "direct_assistance": _l("Direct assistance to victims"),
    "shelter": _l("Shelter"),
    "legal_aid": _l("Legal aid"),
    "medical_psychosocial": _l("Medical and psychosocial"),
    "training": _l("Training"),
    "travel": _l("Travel"),
    "equipment": _l("Equipment"),
    "monitoring_evaluation": _l("Monitoring and evaluation"),
    "audit": _l("Audit"),
    "indirect": _l("Indirect costs"),
}
INDIRECT = "indirect"

#: Kinds of document an application or an organisation holds. "acknowledgement" is generated, never uploaded.
DOCUMENT_KINDS = {
    "registration_certificate": _l("Certificate of registration"),
    "budget_workbook": _l("Detailed budget (spreadsheet)"),
    "financial_statements": _l("Audited financial statements"),
    "annual_report": _l("Annual report"),
    "letter_of_support": _l("Letter of support"),
    "psea_policy": _l("Safeguarding / PSEA policy"),
    "other": _l("Other document"),
}
#: Documents an applicant may upload to an application (the PSEA policy belongs to the organisation profile).
APPLICATION_DOCUMENT_KINDS = {k: v for k, v in DOCUMENT_KINDS.items() if k != "psea_policy"}
ACKNOWLEDGEMENT = "acknowledgement"


@functools.lru_cache(maxsize=4)
def countries(language: str = "en") -> list[tuple[str, str]]:
    """ISO 3166-1 alpha-2 codes and names (French names when ``language`` is "fr"), sorted by name."""
    import pycountry

    names = {c.alpha_2: c.name for c in pycountry.countries}
    if language == "fr":
        import gettext

        try:
            fr = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"])
            names = {code: fr.gettext(name) for code, name in names.items()}
        except OSError:
            pass
    return sorted(names.items(), key=lambda item: _sort_key(item[1]))


def _sort_key(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn").lower()


@functools.lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    import pycountry

    return frozenset(c.alpha_2 for c in pycountry.countries)


def country_name(code: str | None, language: str = "en") -> str:
    if not code:
        return ""
    return _names(language).get(code, code)


@functools.lru_cache(maxsize=4)
def _names(language: str) -> dict[str, str]:
    return dict(countries(language))
