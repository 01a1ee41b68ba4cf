"""Demonstration data: an organisation with two applicant users, an open call, applications in several states."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

from flask import current_app

from fund.db import db, utcnow
from fund.models import APPLICANT, FUND_MANAGER, User
from fund.uploads import check_bytes

MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def minimal_xlsx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/></Types>'))
        zf.writestr("xl/workbook.xml", "<workbook/>")
    return buf.getvalue()


def load_demo(users: dict[str, User]) -> list[str]:
    from fund import operations as fund_ops
    from fund.demo import DEMO_PASSWORD
    from grants import operations

    manager = users[FUND_MANAGER]
    now = utcnow()
    with current_app.test_request_context(base_url=current_app.config.get("SERVER_BASE_URL") or None):
        lead = fund_ops.create_user("applicant@ngo.example.org", APPLICANT, DEMO_PASSWORD, name="Awa Traoré",
                                    language="fr")
        colleague = fund_ops.create_user("colleague@ngo.example.org", APPLICANT, DEMO_PASSWORD,
                                         name="Pedro Alves")
        other = fund_ops.create_user("other@ngo2.example.org", APPLICANT, DEMO_PASSWORD, name="Lina Haddad")
        org = operations.create_organisation(lead, {
            "name": "Association Espoir et Dignité", "acronym": "AED", "country": "SN", "org_type": "ngo",
            "registration_number": "SN-DKR-2012-B-1234", "registration_date": dt.date(2012, 5, 14),
            "address": "12 rue des Jardins, Dakar", "website": "https://aed.example.org", "year_established": 2012,
            "contact_name": "Awa Traoré", "contact_email": "applicant@ngo.example.org",
            "contact_phone": "+221 33 000 00 00", "years_direct_assistance": 9,
            "bank_account_holder": "Association Espoir et Dignité", "bank_name": "Banque de Dakar",
            "bank_account_number": "SN08SN0100152000048500003035", "bank_swift": "BDAKSNDA",
        })
        colleague.organisation_id = org.id
        operations.store_psea_policy(org, check_bytes(MINIMAL_PDF, "psea-policy.pdf"), lead)
        org2 = operations.create_organisation(other, {"name": "Safe Harbour Initiative", "country": "JO",
                                                      "org_type": "community_based"})
        criteria = [
            {"name_en": "Relevance to victims' needs", "name_fr": "Pertinence au regard des besoins des victimes",
             "weight": 40},
            {"name_en": "Feasibility and capacity", "name_fr": "Faisabilité et capacités", "weight": 35},
            {"name_en": "Value for money", "name_fr": "Rapport coût-efficacité", "weight": 25},
        ]
        call = operations.create_call({
            "title_en": "Medium-term assistance 2027", "title_fr": "Assistance à moyen terme 2027",
            "description_en": "Grants for direct assistance to victims of trafficking in persons, up to 24 months.",
            "description_fr": "Subventions pour l'assistance directe aux victimes de la traite des personnes, "
                              "jusqu'à 24 mois.",
            "window": "medium_term", "opens_at": now - dt.timedelta(days=10), "closes_at": now + dt.timedelta(days=45),
            "envelope": Decimal("1400000.00"), "min_grant": Decimal("20000.00"), "max_grant": Decimal("60000.00"),
            "max_duration_months": 24, "eligible_countries": [], "priority_forms": ["forced_labour"],
            "required_documents": ["psea_policy", "budget_workbook"], "criteria": criteria,
        }, manager)
        operations.open_call(call, manager)
        draft_call = operations.create_call({
            "title_en": "Emergency assistance 2028", "title_fr": "Assistance d'urgence 2028", "window": "emergency",
            "opens_at": now + dt.timedelta(days=60), "closes_at": now + dt.timedelta(days=120),
            "envelope": Decimal("300000.00"), "min_grant": Decimal("10000.00"), "max_grant": Decimal("30000.00"),
            "max_duration_months": 9, "criteria": criteria,
        }, manager)

        application = operations.create_application(call, lead, _complete_answers())
        operations.add_document(application, check_bytes(minimal_xlsx(), "budget.xlsx"), "budget_workbook", lead)
        operations.submit_application(application, lead)
        operations.return_application(application, "Please explain how victims are referred by the labour "
                                                   "inspectorate, and add the partner agreement.", manager)
        draft = operations.create_application(call, other, {"project_title": "Safe shelter for domestic workers"})
        db.session.flush()
    return [
        "Grants demo:",
        f"  applicant        {lead.email} (French; administrator of {org.name}), {colleague.email} (member)",
        f"  applicant        {other.email} ({org2.name}, a draft application #{draft.id})",
        f"  call             “{call.title_en}” open; “{draft_call.title_en}” draft; public list at /grants/calls",
        f"  application      {application.reference} returned for revision (to resubmit)",
    ]


def _complete_answers() -> dict:
    return {
        "project_title": "Safe return and reintegration for survivors of forced labour",
        "summary": "Shelter, legal aid and vocational training for survivors of forced labour in Dakar and Thiès.",
        "objectives": "120 survivors assisted; 80 complete vocational training; 60 obtain identity documents.",
        "countries": ["SN"], "locations": "Dakar, Thiès", "start_date": dt.date.today() + dt.timedelta(days=90),
        "duration_months": 18, "forms_of_exploitation": ["forced_labour", "domestic_servitude"],
        "assistance_types": ["shelter", "legal_counselling", "livelihood_vocational"],
        "beneficiaries": [{"sex": "female", "age_band": "18-24", "count": 40},
                          {"sex": "female", "age_band": "25-59", "count": 50},
                          {"sex": "male", "age_band": "25-59", "count": 30}],
        "identification_referral": "Referrals from the labour inspectorate, the police and community outreach.",
        "partners": "Ministry of Labour; two community health centres.",
        "risks_safeguarding": "Confidential case files kept offline; staff trained on PSEA; no names shared.",
        "monitoring_plan": "Quarterly follow-up; anonymous feedback from the people assisted.",
        "budget_lines": [
            {"category": "personnel", "description": "Case workers (2 x 18 months)", "quantity": Decimal("36"),
             "unit_cost": Decimal("600.00")},
            {"category": "shelter", "description": "Shelter running costs", "quantity": Decimal("18"),
             "unit_cost": Decimal("800.00")},
            {"category": "training", "description": "Vocational courses", "quantity": Decimal("80"),
             "unit_cost": Decimal("50.00")},
            {"category": "indirect", "description": "Administration", "quantity": Decimal("1"),
             "unit_cost": Decimal("2500.00")},
        ],
    }
