"""The applicant's journey through the portal, without JavaScript, in French and in English: register, create
the organisation, fill in the form over several visits, upload, submit, download the acknowledgement."""

from __future__ import annotations

import html
import io
import re
from types import SimpleNamespace

import pypdf
import pytest
from sqlalchemy import select

from fund.db import db
from fund.mail import OutboxMessage
from grants.models import Application
from tests.conftest import PASSWORD
from tests.grants import factories as f

TEXT = {
    "en": {
        "no_org": "Create your organisation's profile", "draft": "Save draft", "received": "Received",
        "ack": "Acknowledgement of submission", "saved": "Saved.", "bad_number": "This value is not valid.",
        "call": "Medium-term assistance", "submitted": "Your application has been submitted. Reference:",
        "dashboard": "Your organisation and applications", "checklist": "Completeness checklist",
        "unit_cost": "600.00", "indirect": "1,000.00", "total": "22,600.00 USD",
    },
    "fr": {
        "no_org": "Créer le profil de votre organisation", "draft": "Enregistrer le brouillon", "received": "Reçue",
        "ack": "Accusé de réception", "saved": "Enregistré.", "bad_number": "Cette valeur n'est pas valide.",
        "call": "Assistance à moyen terme", "submitted": "Votre candidature a été soumise. Référence :",
        "dashboard": "Votre organisation et vos candidatures", "checklist": "Liste de contrôle",
        "unit_cost": "600,00", "indirect": "1 000,00", "total": "22 600,00 USD",
    },
}


def page(resp) -> str:
    return html.unescape(resp.get_data(as_text=True)).replace("\u202f", " ").replace("\xa0", " ")


def follow(client, resp):
    assert resp.status_code in (302, 303), (resp.status_code, page(resp)[:3000])
    return client.get(resp.headers["Location"])


def new_visit(app, sign_in, email):
    """A later visit: a fresh browser session, signed in again."""
    client = app.test_client()
    resp = sign_in(client, SimpleNamespace(email=email, tf_totp_secret=None))
    assert resp.status_code in (302, 303)
    return client


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_portal_journey_without_javascript(app, build, sign_in, lang):
    t, other = TEXT[lang], TEXT["fr" if lang == "en" else "en"]
    call_id = build(lambda: f.make_call())
    email = f"ngo-{lang}@example.org"

    # Visit 1: choose the language, register, create the organisation's profile, upload the PSEA policy.
    client = app.test_client()
    client.submit("/language", {"lang": lang, "next": "/"}, page="/")
    calls = page(client.get("/grants/calls"))
    assert t["call"] in calls and f'<html lang="{lang}">' in calls
    resp = client.submit("/account/register", {"email": email, "password": PASSWORD, "password_confirm": PASSWORD})
    assert resp.headers["Location"].endswith("/account/login")
    # The address is confirmed by the link e-mailed to it (in the visitor's language), then the visitor signs in.
    with app.app_context():
        body = db.session.execute(select(OutboxMessage.body_text).where(OutboxMessage.recipient == email)
                                  ).scalar_one()
    client.get(re.search(r"http://localhost(/account/confirm/\S+)", body).group(1))
    resp = client.submit("/account/login", {"email": email, "password": PASSWORD})
    dashboard = page(follow(client, resp))
    assert t["dashboard"] in dashboard
    home = page(client.get("/grants/portal"))
    assert t["no_org"] in home and other["no_org"] not in home

    org_form = {
        "name": "Association Espoir", "acronym": "AE", "org_type": "ngo", "country": "SN",
        "registration_number": "SN-2012-1234", "registration_date": "2012-05-14", "year_established": "2012",
        "years_direct_assistance": "5", "address": "12 rue des Jardins, Dakar", "website": "https://ae.example.org",
        "contact_name": "Awa Traoré", "contact_email": "awa@ae.example.org", "contact_phone": "+221 33 000 00 00",
        "bank_account_holder": "Association Espoir", "bank_name": "Banque de Dakar",
        "bank_account_number": "GB82 WEST 1234 5698 7654 32", "bank_swift": "BDAKSNDA",
    }
    resp = client.submit("/grants/organisation/new", org_form)
    org_url = resp.headers["Location"]
    org_id = int(re.search(r"/organisations/(\d+)", org_url).group(1))
    org_page = page(client.get(org_url))
    assert "•••• 5432" in org_page and "GB82WEST12345698765432" not in org_page  # shown masked
    resp = client.submit(f"/grants/organisations/{org_id}/psea",
                         {"file": (io.BytesIO(f.PDF_BYTES), "politique-protection.pdf")}, page=org_url)
    assert resp.status_code in (302, 303)
    assert "politique-protection.pdf" in page(client.get(org_url))

    # Start the application and fill the first section.
    resp = client.submit(f"/grants/calls/{call_id}/apply", {}, page=f"/grants/calls/{call_id}")
    section_url = resp.headers["Location"]
    app_id = int(re.search(r"/applications/(\d+)/", section_url).group(1))
    base = f"/grants/applications/{app_id}"
    project = page(client.get(section_url))
    assert t["draft"] in project and other["draft"] not in project
    resp = client.submit(section_url, {"project_title": "Retour sûr", "summary": "Hébergement et aide juridique.",
                                       "objectives": "120 survivants assistés.", "after": "next"})
    assert resp.headers["Location"].endswith("/sections/location")

    # Visit 2: the saved answers are there; where and when, focus, beneficiaries.
    client = new_visit(app, sign_in, email)
    assert 'value="Retour sûr"' in page(client.get(f"{base}/sections/project"))
    resp = client.submit(f"{base}/sections/location", {"countries": ["SN"], "locations": "Dakar",
                                                       "start_date": "2027-09-01", "duration_months": "18"})
    assert t["saved"] in page(follow(client, resp))
    client.submit(f"{base}/sections/focus", {"forms_of_exploitation": ["forced_labour", "domestic_servitude"],
                                             "assistance_types": ["shelter", "legal_counselling"]})
    client.submit(f"{base}/sections/beneficiaries", {"b-female-18-24": "40", "b-male-25-59": "12"})

    # Visit 3: approach, budget (a mistake first, shown beside its field), documents, then submit.
    client = new_visit(app, sign_in, email)
    client.submit(f"{base}/sections/approach", {
        "identification_referral": "Orientation par l'inspection du travail.", "partners": "Ministère du Travail.",
        "risks_safeguarding": "Dossiers confidentiels.", "monitoring_plan": "Suivi trimestriel."})
    bad = client.submit(f"{base}/sections/budget", {
        "line-0-category": "personnel", "line-0-description": "Travailleurs sociaux", "line-0-quantity": "trente",
        "line-0-unit_cost": t["unit_cost"]})
    assert bad.status_code == 422
    bad_page = page(bad)
    assert t["bad_number"] in bad_page and 'value="Travailleurs sociaux"' in bad_page  # kept, with the message
    resp = client.submit(f"{base}/sections/budget", {
        "line-0-category": "personnel", "line-0-description": "Travailleurs sociaux", "line-0-quantity": "36",
        "line-0-unit_cost": t["unit_cost"],
        "line-1-category": "indirect", "line-1-description": "Administration", "line-1-quantity": "1",
        "line-1-unit_cost": t["indirect"], "line-2-category": "", "line-2-description": "", "line-2-quantity": "",
        "line-2-unit_cost": ""}, page=f"{base}/sections/budget")
    assert resp.status_code in (302, 303), page(resp)[:4000]
    resp = client.submit(f"{base}/documents", {"kind": "budget_workbook",
                                                "file": (io.BytesIO(f.office_bytes("xl")), "budget.xlsx")},
                         page=f"{base}/sections/documents")
    assert resp.status_code in (302, 303)
    overview = page(client.get(base))
    assert t["checklist"] in overview and t["total"] in overview
    resp = client.submit(f"{base}/submit", {}, page=base)
    done = page(follow(client, resp))
    assert t["submitted"] in done and t["received"] in done
    reference = re.search(r"VTF-\d{4}-SGP2-\d{4}", done).group(0)

    with app.app_context():
        a = db.session.get(Application, app_id)
        assert (a.status, a.reference, str(a.requested_amount)) == ("submitted", reference, "22600.00")
        assert [(b.sex, b.age_band, b.count) for b in a.beneficiaries] == [("female", "18-24", 40),
                                                                           ("male", "25-59", 12)]
        assert a.countries == ["SN"] and a.forms_of_exploitation == ["forced_labour", "domestic_servitude"]

    # The acknowledgement, in the applicant's language.
    ack_url = re.search(r'href="(/grants/documents/\d+)">[^<]*PDF', done).group(1)
    pdf = client.get(ack_url)
    assert pdf.status_code == 200 and pdf.headers["Content-Disposition"].startswith("attachment")
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert t["ack"] in text and reference in text and "Retour sûr" in text

    # Read-only now: the sections send the applicant back to the overview.
    resp = client.get(f"{base}/sections/project")
    assert resp.status_code in (302, 303) and resp.headers["Location"].endswith(base)
    with app.app_context():
        assert db.session.execute(select(Application.project_title)).scalar_one() == "Retour sûr"
