"""The sanctions list: importing the UN's XML (or a CSV) all or nothing with a progress bar, and a matcher that
finds a listed name whatever its case, accents, punctuation and word order, aliases included; a possible match
is shown to the fund manager on the screening page and never decided silently."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from fund.audit import AuditEvent
from fund.db import db
from grants.review import sanctions
from grants.review.models import SanctionsEntry, SanctionsImport, SanctionsName
from tests.grants.review import factories as rf

SAMPLE = Path(__file__).parent / "data" / "consolidated_sample.xml"


def run_import(app, path: Path):
    return app.test_cli_runner().invoke(args=["sanctions", "import", str(path)])


def listed() -> list[tuple[str, str, str]]:
    return sorted(db.session.execute(select(SanctionsEntry.reference_number, SanctionsEntry.kind,
                                            SanctionsEntry.name)).all())


def test_keys_ignore_case_accents_punctuation_and_word_order():
    assert sanctions.key("José María NÚÑEZ-Peña") == "jose maria nunez pena"
    assert sanctions.key("peña, núñez  JOSE maria.") == "jose maria nunez pena"
    assert sanctions.key("Al-Qa'ida") == sanctions.key("al qaida") == "al qaida"
    assert sanctions.keys("Fondation Élan d'Espoir") == {"despoir elan fondation", "d elan espoir fondation"}
    assert sanctions.key("  ") == "" and sanctions.keys(None) == set()


def test_the_un_xml_imports_with_a_progress_bar_and_the_matcher_finds_listed_names(app):
    result = run_import(app, SAMPLE)
    assert result.exit_code == 0, result.output
    assert "Importing 4 entries" in result.output
    assert "Imported 4 entries" in result.output and "2027-03-02" in result.output
    with app.app_context():
        assert listed() == [
            ("HTi.901", "individual", "JOSÉ MARÍA NÚÑEZ PEÑA"),
            ("KPe.952", "entity", "NORTHERN STAR RECRUITMENT AND TRAVEL AGENCY"),
            ("LYe.951", "entity", "FONDATION ÉLAN D'ESPOIR TRANSFRONTALIER"),
            ("QDi.902", "individual", "KHALID ABD AL-RAHMAN AL-QURASHI"),
        ]
        aliases = set(db.session.execute(select(SanctionsName.name).where(SanctionsName.is_alias)).scalars())
        assert {"Pepe Núñez", "Elan Hope Foundation", "خالد عبد الرحمن القرشي"} <= aliases
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "sanctions.import")).scalar_one()
        assert event.changes["entries"] == [0, 4]

        # Other case, no accents, another word order, punctuation: still found, with the listed name and reference.
        found = sanctions.find_matches({"contact_name": "pena nunez, Jose-Maria"})
        assert [(m.reference_number, m.listed_name, m.exact, m.alias) for m in found] == [
            ("HTi.901", "JOSÉ MARÍA NÚÑEZ PEÑA", True, False)]
        # An alias, and an elided French article written without its apostrophe
        assert [m.reference_number for m in sanctions.find_matches({"name": "ELAN HOPE foundation"})] == ["LYe.951"]
        assert [m.reference_number for m in sanctions.find_matches(
            {"name": "Transfrontalier d Espoir Élan (Fondation)"})] == ["LYe.951"]
        # The original script is a name too
        assert [m.reference_number for m in sanctions.find_matches({"name": "خالد عبد الرحمن القرشي"})] == ["QDi.902"]
        # A longer name containing all the words of a listed one is a possible (partial) match
        partial = sanctions.find_matches({"name": "Northern Star Agency for Domestic Workers"})
        assert [(m.reference_number, m.exact) for m in partial] == [("KPe.952", False)]
        # Unrelated names, and one shared word only, are not
        assert sanctions.find_matches({"name": "Association Espoir", "contact_name": "Awa Diop"}) == []


def test_an_import_is_all_or_nothing(app, tmp_path):
    assert run_import(app, SAMPLE).exit_code == 0
    broken = tmp_path / "broken.xml"
    broken.write_text(SAMPLE.read_text(encoding="utf-8").replace("<REFERENCE_NUMBER>KPe.952</REFERENCE_NUMBER>", ""),
                      encoding="utf-8")
    result = run_import(app, broken)
    assert result.exit_code == 1
    assert "entity 2: no REFERENCE_NUMBER" in result.output and "Nothing was imported" in result.output
    truncated = tmp_path / "truncated.xml"
    truncated.write_bytes(SAMPLE.read_bytes()[:2000])
    assert run_import(app, truncated).exit_code == 1
    with app.app_context():
        assert len(listed()) == 4  # the list in force is unchanged
        assert db.session.execute(select(func.count()).select_from(SanctionsImport)).scalar_one() == 1


def test_a_document_with_entities_is_refused(app, tmp_path):
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                    "<CONSOLIDATED_LIST><ENTITIES><ENTITY><FIRST_NAME>&b;</FIRST_NAME>"
                    "<REFERENCE_NUMBER>X.1</REFERENCE_NUMBER></ENTITY></ENTITIES></CONSOLIDATED_LIST>")
    result = run_import(app, bomb)
    assert result.exit_code == 1 and "DTD" in result.output
    with app.app_context():
        assert listed() == []


def test_a_csv_list_replaces_the_previous_one(app, tmp_path):
    assert run_import(app, SAMPLE).exit_code == 0
    path = tmp_path / "list.csv"
    path.write_text("reference_number,type,name,aliases\n"
                    "CSV.1,entity,Sunrise Placement Bureau,Sunrise Bureau;Bureau Soleil Levant\n"
                    "CSV.2,individual,Ana Lúcia Ferreira,\n", encoding="utf-8")
    result = run_import(app, path)
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert [r[0] for r in listed()] == ["CSV.1", "CSV.2"]
        assert [m.reference_number for m in sanctions.find_matches({"name": "bureau soleil-levant"})] == ["CSV.1"]
        assert [m.reference_number for m in sanctions.find_matches({"name": "FERREIRA, Ana Lucia"})] == ["CSV.2"]
    bad = tmp_path / "bad.csv"
    bad.write_text("reference_number,type,name\nX.1,company,Someone\n", encoding="utf-8")
    result = run_import(app, bad)
    assert result.exit_code == 1 and "line 2" in result.output
    with app.app_context():
        assert [r[0] for r in listed()] == ["CSV.1", "CSV.2"]


@pytest.fixture
def listed_contact(app, within):
    assert run_import(app, SAMPLE).exit_code == 0
    return within(lambda: rf.submitted(contact_name="Peña Núñez, José María").id)


def test_a_possible_match_is_shown_on_the_screening_page_and_must_be_looked_at(app, login_as, listed_contact,
                                                                                api_as):
    fm = login_as("fund_manager")
    page = fm.get(f"/grants/applications/{listed_contact}/screening").get_data(as_text=True)
    assert "Possible matches" in page and "JOSÉ MARÍA NÚÑEZ PEÑA" in page and "HTi.901" in page
    api = api_as(fm.user)
    items = {code: {"result": "pass"} for code in rf.ALL_PASS}
    resp = api.post(f"/api/v1/applications/{listed_contact}/screening", json={"items": items, "outcome": "eligible"})
    assert resp.status_code == 422
    assert "not_sanctioned-note" in resp.json["error"]["fields"]
    with app.app_context():
        from grants.models import Application

        assert db.session.get(Application, listed_contact).status == "submitted"
    items["not_sanctioned"] = {"result": "pass", "note": "Our contact was born in 1991 in Dakar; the listed person "
                                                         "in 1978: not the same person."}
    resp = api.post(f"/api/v1/applications/{listed_contact}/screening", json={"items": items, "outcome": "eligible"})
    assert resp.status_code == 200, resp.json
    assert resp.json["application_status"] == "eligible"
    assert [m["reference_number"] for m in resp.json["sanctions_matches"]] == ["HTi.901"]
    with app.app_context():
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "screening.save")).scalar_one()
        assert event.changes["sanctions_matches"] == [None, ["JOSÉ MARÍA NÚÑEZ PEÑA (HTi.901)"]]


@pytest.mark.parametrize("document", [
    # Internal entities in UTF-16 without a byte-order mark: no "<!ENTITY" bytes for a byte check to see.
    ('<?xml version="1.0" encoding="UTF-16LE"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
     "<CONSOLIDATED_LIST><ENTITIES><ENTITY><FIRST_NAME>&b;</FIRST_NAME>"
     "<REFERENCE_NUMBER>X.1</REFERENCE_NUMBER></ENTITY></ENTITIES></CONSOLIDATED_LIST>").encode("utf-16-le"),
    # A DTD after 4 KB of leading comment.
    ('<?xml version="1.0"?><!--' + "x" * 5000 + '--><!DOCTYPE CONSOLIDATED_LIST SYSTEM "http://example.org/x.dtd">'
     "<CONSOLIDATED_LIST><ENTITIES><ENTITY><FIRST_NAME>Late DTD</FIRST_NAME>"
     "<REFERENCE_NUMBER>X.2</REFERENCE_NUMBER></ENTITY></ENTITIES></CONSOLIDATED_LIST>").encode(),
    # An external entity.
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
     b"<CONSOLIDATED_LIST><ENTITIES><ENTITY><FIRST_NAME>&e;</FIRST_NAME>"
     b"<REFERENCE_NUMBER>X.3</REFERENCE_NUMBER></ENTITY></ENTITIES></CONSOLIDATED_LIST>"),
], ids=["utf16-entities", "late-dtd", "external-entity"])
def test_documents_with_a_dtd_are_refused_whatever_their_encoding(app, tmp_path, document):
    path = tmp_path / "list.xml"
    path.write_bytes(document)
    result = run_import(app, path)
    assert result.exit_code == 1, result.output
    assert "DTD" in result.output and "Traceback" not in result.output
    with pytest.raises(sanctions.SanctionsFileError, match="DTD"):
        sanctions.parse_xml(document)
    with app.app_context():
        assert listed() == []
