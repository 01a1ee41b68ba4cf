"""The one vocabulary of what grants do and whom they assist (DOMAIN.md, "Taxonomies the service speaks").

Applications (forms of exploitation addressed, types of assistance offered, planned beneficiaries), calls (priority
forms), grantee reports (victims assisted by sex and age band, by main form of exploitation, by main type of
assistance), donor statements, the public results, the exports and the API all store and show these codes, and
take them from here: nothing declares its own list. ``fund`` holds them because ``grants``, ``donors`` and
``transparency`` all read them and none of them imports another.

- :data:`FORMS_OF_EXPLOITATION` and :data:`ASSISTANCE_TYPES` (grouped in :data:`ASSISTANCE_GROUPS`): code -> label.
- :data:`SEXES` and :data:`AGE_BANDS`: the cells of every beneficiary count (codes; labels in :data:`SEX_LABELS`,
  :data:`AGE_BAND_LABELS`).
- :data:`NOT_RECORDED`: what a report's breakdown by form, assistance or country counts when the grantee did not
  record it; it belongs to reports and outputs, never to an application.

Codes are stored in the database; labels are translated when shown.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

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
ASSISTANCE_TYPES = {code: label for _group, (_glabel, items) in ASSISTANCE_GROUPS.items()
                    for code, label in items.items()}

NOT_RECORDED = "not_recorded"
NOT_RECORDED_LABEL = _l("Not recorded")

SEXES = ("female", "male", "other_or_not_recorded")
AGE_BANDS = ("0-11", "12-17", "18-24", "25-59", "60+", NOT_RECORDED)
SEX_LABELS = dict(zip(SEXES, (_l("Female"), _l("Male"), _l("Other or not recorded")), strict=True))
AGE_BAND_LABELS = dict(zip(AGE_BANDS, (_l("0–11"), _l("12–17"), _l("18–24"), _l("25–59"), _l("60+"),
                                       _l("Age not recorded")), strict=True))
