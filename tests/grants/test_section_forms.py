"""The application's sections keep what was typed and say at once what is wrong, beside the field: indirect
costs over 7 % stop "Save and continue" on the budget (the lines are saved all the same), a beneficiary count
that is not a number names its cell, and money is read and shown as the user's language writes it."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select

from fund.db import db
from grants.models import Application, Document
from tests.grants import factories as f


def _start(app, make_user, build, login_as, lang="en"):
    user = make_user("applicant")
    app_id = build(lambda: f.make_application(user, complete=False))
    client = login_as(user)
    if lang != "en":
        client.submit("/language", {"lang": lang, "next": "/"}, page="/")
    return client, f"/grants/applications/{app_id}/sections", app_id


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True)).replace("\u202f", " ").replace("\xa0", " ")


BUDGET = {"line-0-category": "personnel", "line-0-description": "Case workers", "line-0-quantity": "10",
          "line-0-unit_cost": "1000.00", "line-1-category": "indirect", "line-1-description": "Administration",
          "line-1-quantity": "1", "line-1-unit_cost": "800.00"}


def test_indirect_costs_over_seven_percent_keep_the_applicant_on_the_budget(app, make_user, build, login_as):
    client, sections, app_id = _start(app, make_user, build, login_as)
    resp = client.submit(f"{sections}/budget", {**BUDGET, "after": "next"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/sections/budget")  # not moved on
    with app.app_context():
        assert len(db.session.get(Application, app_id).budget_lines) == 2  # saved all the same
    page = text(client.get(resp.headers["Location"]))
    assert 'id="line-1-unit_cost-warning"' in page
    assert "Indirect costs (800.00 USD) are more than 7 % of direct costs (at most 700.00 USD)" in page

    resp = client.submit(f"{sections}/budget", {**BUDGET, "line-1-unit_cost": "700.00", "after": "next"})
    assert resp.headers["Location"].endswith("/sections/documents")
    assert "unit_cost-warning" not in text(client.get(f"{sections}/budget"))


def test_a_beneficiary_count_that_is_not_a_number_names_its_cell(app, make_user, build, login_as):
    client, sections, _app_id = _start(app, make_user, build, login_as)
    resp = client.submit(f"{sections}/beneficiaries", {"b-female-18-24": "forty", "b-male-25-59": "12"})
    assert resp.status_code == 422
    page = text(resp)
    assert 'id="b-female-18-24-error"' in page and "Female, 18–24: Enter a whole number." in page
    assert 'href="#f-b-female-18-24"' in page  # the summary links to the cell
    assert 'value="forty"' in page and 'value="12"' in page


def test_money_is_read_and_shown_as_the_language_writes_it(app, make_user, build, login_as):
    client, sections, app_id = _start(app, make_user, build, login_as, lang="fr")
    budget = {**BUDGET, "line-0-quantity": "1,5", "line-0-unit_cost": "14 400,00",
              "line-1-unit_cost": "1.000,50"}
    assert client.submit(f"{sections}/budget", budget).status_code == 302
    with app.app_context():
        lines = db.session.get(Application, app_id).budget_lines
        assert [(str(x.quantity), str(x.unit_cost)) for x in lines] == [("1.50", "14400.00"), ("1.00", "1000.50")]
    page = text(client.get(f"{sections}/budget"))
    assert 'value="14 400,00"' in page and 'value="1,5"' in page and 'value="1 000,50"' in page

    client.submit("/language", {"lang": "en", "next": "/"}, page="/")
    assert 'value="14,400.00"' in text(client.get(f"{sections}/budget"))
    english = {**BUDGET, "line-0-unit_cost": "14,400.00", "line-1-unit_cost": "700,25"}  # a French comma too
    assert client.submit(f"{sections}/budget", english).status_code == 302
    with app.app_context():
        lines = db.session.get(Application, app_id).budget_lines
        assert [str(x.unit_cost) for x in lines] == ["14400.00", "700.25"]


def test_the_budget_workbook_must_be_a_spreadsheet(app, make_user, build, login_as):
    import io

    client, sections, app_id = _start(app, make_user, build, login_as)
    url = f"/grants/applications/{app_id}/documents"
    for content, name in ((f.PDF_BYTES, "budget.pdf"), (f.PDF_BYTES, "budget.xlsx"),
                          (f.office_bytes("word"), "budget.docx"), (f.office_bytes("xl"), "budget.pdf")):
        resp = client.submit(url, {"kind": "budget_workbook", "file": (io.BytesIO(content), name)},
                             page=f"{sections}/documents")
        assert resp.status_code == 422, name
        page = text(resp)
        assert 'id="file-error"' in page or 'id="f-file"' in page
        assert "The detailed budget must be a spreadsheet: upload an Excel workbook (.xlsx)." in page
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Document)
                                  .where(Document.application_id == app_id)).scalar_one() == 0
    resp = client.submit(url, {"kind": "budget_workbook", "file": (io.BytesIO(f.office_bytes("xl")), "budget.xlsx")},
                         page=f"{sections}/documents")
    assert resp.status_code == 302
    # A PDF is still fine for the other kinds of document.
    resp = client.submit(url, {"kind": "letter_of_support", "file": (io.BytesIO(f.PDF_BYTES), "letter.pdf")},
                         page=f"{sections}/documents")
    assert resp.status_code == 302


def test_the_section_status_and_the_acknowledgement_speak_french(app, make_user, build, login_as, api_as):
    user = make_user("applicant", language="fr")
    app_id = build(lambda: f.make_application(user))
    client = login_as(user)
    client.submit("/language", {"lang": "fr", "next": "/"}, page="/")
    page = text(client.get(f"/grants/applications/{app_id}/sections/project"))
    assert "(complet)" in page and "(complète)" in page and "(complètes)" in page  # le projet, la démarche, les formes
    assert "Le projet</strong>" in page and "(complète)" not in page.split("Le projet</strong>")[1][:80]
    resp = api_as(user).post(f"/api/v1/applications/{app_id}/submit")
    assert resp.status_code == 200, resp.get_json()
    with app.app_context():
        names = db.session.execute(select(Document.filename).where(Document.application_id == app_id,
                                                                   Document.kind == "acknowledgement")).scalars()
        assert [n.split("-", 4)[-1] for n in names] == ["accuse-de-reception.pdf"]


@pytest.mark.parametrize(("lang", "typed", "read"), [
    ("fr", "14 400,00", "14400.00"), ("fr", "14\u202f400,00", "14400.00"), ("fr", "14,400.00", "14400.00"),
    ("fr", "1,5", "1.5"), ("fr", "1.5", "1.5"), ("fr", "14.400,00", "14400.00"), ("fr", "1,500", "1.500"),
    ("en", "14,400.00", "14400.00"), ("en", "14400,50", "14400.50"), ("en", "1,500", "1500"),
    ("en", "14 400,00", "14400.00"), ("en", "-5", "-5"), ("en", "thirty", "thirty"), ("en", "", ""),
])
def test_numbers_are_read_as_the_language_writes_them(app, lang, typed, read):
    from flask_babel import force_locale

    from grants.views import number

    with app.test_request_context(), force_locale(lang):
        assert number(typed) == read
