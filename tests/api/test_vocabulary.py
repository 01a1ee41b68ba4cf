"""One vocabulary (fund.vocabulary) for forms of exploitation, types of assistance, sexes and age bands: what
applications and calls accept, what reports count, what statements and public pages label, what the API documents
on input and output, and what demo and bench data store."""

from __future__ import annotations

import pytest

from fund import vocabulary

FORMS = list(vocabulary.FORMS_OF_EXPLOITATION)
ASSISTANCE = list(vocabulary.ASSISTANCE_TYPES)


@pytest.fixture(scope="module")
def document():
    from fund import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SERVER_NAME": "localhost"})
    return app.test_client().get("/api/v1/openapi.json").get_json()


def test_the_vocabulary_is_the_one_of_domain_md():
    assert FORMS == ["sexual_exploitation", "forced_labour", "domestic_servitude", "forced_marriage",
                     "forced_criminal_activity", "forced_begging", "organ_removal", "child_soldiers",
                     "csam_production", "other"]
    assert {group: list(items) for group, (_label, items) in vocabulary.ASSISTANCE_GROUPS.items()} == {
        "humanitarian": ["shelter", "food_basic_needs", "medical_care", "psychosocial_support"],
        "legal": ["legal_counselling", "legal_representation", "residence_identity_documents", "witness_support"],
        "financial": ["cash_assistance", "livelihood_vocational", "reintegration_repatriation"]}
    assert vocabulary.SEXES == ("female", "male", "other_or_not_recorded")
    assert vocabulary.AGE_BANDS == ("0-11", "12-17", "18-24", "25-59", "60+", "not_recorded")


def test_every_package_takes_its_codes_and_labels_from_it():
    from donors import statements
    from grants import taxonomies
    from grants.awards import models as award_models
    from grants.awards import reports

    assert taxonomies.FORMS_OF_EXPLOITATION is vocabulary.FORMS_OF_EXPLOITATION
    assert taxonomies.ASSISTANCE_TYPES is vocabulary.ASSISTANCE_TYPES
    assert list(taxonomies.SEXES) == list(vocabulary.SEXES) == list(vocabulary.SEXES)
    assert list(taxonomies.AGE_BANDS) == list(vocabulary.AGE_BANDS) == list(vocabulary.AGE_BANDS)
    assert award_models.NOT_RECORDED == vocabulary.NOT_RECORDED
    # what a report may count
    assert reports.allowed_keys(award_models.BY_FORM) == {*FORMS, vocabulary.NOT_RECORDED}
    assert reports.allowed_keys(award_models.BY_ASSISTANCE) == {*ASSISTANCE, vocabulary.NOT_RECORDED}
    assert reports.allowed_keys(award_models.SEX_AGE) == {
        reports.cell_key(s, a) for s in vocabulary.SEXES for a in vocabulary.AGE_BANDS}
    # what statements and the public pages label: exactly what reports may count
    assert list(statements.FORM_LABELS) == [*FORMS, vocabulary.NOT_RECORDED]
    assert list(statements.ASSISTANCE_LABELS) == [*ASSISTANCE, vocabulary.NOT_RECORDED]
    assert list(statements.SEX_LABELS) == list(reports.SEX_LABELS) == list(vocabulary.SEXES)
    assert list(statements.AGE_LABELS) == list(reports.AGE_LABELS) == list(vocabulary.AGE_BANDS)


def _items_enum(document, schema: str, prop: str) -> list:
    spec = document["components"]["schemas"][schema]["properties"][prop]
    return spec.get("items", spec)["enum"]


def test_the_api_accepts_and_returns_the_same_codes(document):
    schemas = document["components"]["schemas"]
    inputs = [name for name, s in schemas.items() if "forms_of_exploitation" in s.get("properties", {})]
    assert "ApplicationOut" in inputs and len(inputs) >= 3  # the create, the change and the output
    for name in inputs:
        assert _items_enum(document, name, "forms_of_exploitation") == FORMS, name
        assert _items_enum(document, name, "assistance_types") == ASSISTANCE, name
    for name in ("CallIn", "CallOut"):
        assert _items_enum(document, name, "priority_forms") == FORMS, name
    beneficiaries = [name for name, s in schemas.items() if {"sex", "age_band"} <= set(s.get("properties", {}))]
    assert len(beneficiaries) >= 3  # application beneficiaries in and out, report cells
    for name in beneficiaries:
        assert [v for v in _items_enum(document, name, "sex") if v] == list(vocabulary.SEXES), name
        assert [v for v in _items_enum(document, name, "age_band") if v] == list(vocabulary.AGE_BANDS), name


def test_demo_and_bench_data_use_the_vocabulary():
    from bench import transparency as bench

    assert set(bench.FORMS) <= set(FORMS) and set(bench.ASSISTANCE) <= set(ASSISTANCE)


def test_a_code_outside_the_vocabulary_is_refused_by_the_api(app, api_as):
    from tests.grants import factories as gf

    with app.test_request_context():
        from fund.db import db

        call_id = gf.make_call().id
        db.session.commit()
    ngo = api_as("applicant")
    from tests.api.test_api_only import ORGANISATION

    assert ngo.post("/api/v1/organisations", json=ORGANISATION).status_code == 201
    resp = ngo.post("/api/v1/applications", json={"call_id": call_id, "forms_of_exploitation": ["trafficking"],
                                                  "assistance_types": ["other"],
                                                  "beneficiaries": [{"sex": "other", "age_band": "18_24",
                                                                     "count": 3}]})
    assert resp.status_code == 422
    fields = resp.get_json()["error"]["fields"]
    assert {"forms_of_exploitation", "assistance_types", "beneficiaries"} <= set(fields)
