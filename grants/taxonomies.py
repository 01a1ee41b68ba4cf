"""The vocabularies the grants package speaks (DOMAIN.md): codes stored in the database, labels translated."""

from __future__ import annotations

import functools

from flask_babel import lazy_gettext as _l

from fund import results

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

FORMS_OF_EXPLOITATION = {
    "sexual_exploitation": _l("Sexual exploitation"),
    "forced_labour": _l("Forced labour"),
    "domestic_servitude": _l("Domestic servitude"),
    "forced_marriage": _l("Forced marriage"),
    "forced_criminal_activity": _l("Forced criminal activity"),
    "forced_begging": _l("Forced begging"),
    "organ_removal": _l("Removal of organs"),
    "child_soldiers": _l("Recruitment or use of children in armed conflict"),
    "csam_production": _l("Production of child sexual abuse material"),
    "other": _l("Other"),
}

#: Types of assistance, grouped: group code -> (group label, {code: label}).
ASSISTANCE_GROUPS = {
    "humanitarian": (_l("Humanitarian assistance"), {
        "shelter": _l("Shelter and accommodation"),
        "food_basic_needs": _l("Food and basic needs"),
        "medical_care": _l("Medical care"),
        "psychosocial_support": _l("Psychosocial support"),
    }),
    "legal": (_l("Legal assistance"), {
        "legal_counselling": _l("Legal counselling"),
        "legal_representation": _l("Legal representation"),
        "residence_identity_documents": _l("Residence and identity documents"),
        "witness_support": _l("Support as witness"),
    }),
    "financial": (_l("Financial assistance"), {
        "cash_assistance": _l("Cash assistance"),
        "livelihood_vocational": _l("Livelihood and vocational support"),
        "reintegration_repatriation": _l("Reintegration and repatriation support"),
    }),
}
ASSISTANCE_TYPES = {code: label for _g, (_gl, items) in ASSISTANCE_GROUPS.items() for code, label in items.items()}

#: Sexes and age bands: the codes of fund.results, the one vocabulary of applications, reports, statements and
#: exports (the planned beneficiaries of an application and the victims a report counts are the same cells).
SEXES = dict(zip(results.SEXES, (_l("Female"), _l("Male"), _l("Other or not recorded")), strict=True))
AGE_BANDS = dict(zip(results.AGE_BANDS, (_l("0–11"), _l("12–17"), _l("18–24"), _l("25–59"), _l("60+"),
                                         _l("Age not recorded")), strict=True))

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
