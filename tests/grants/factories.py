"""Builders of organisations, calls, applications and files for the grants tests and the route matrix.

They run inside an application context, write through the operations where that matters, and leave the
commit to the caller.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import zipfile
import zlib
from decimal import Decimal

from fund.db import db, utcnow
from fund.models import FUND_MANAGER, User
from fund.uploads import check_bytes
from grants import operations
from grants.models import Application, Call, Document, Organisation, OrganisationAdmin

PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
HTML_BYTES = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"\x00\xff\x00\x00"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def office_bytes(kind: str, main_type: str | None = None) -> bytes:
    """A minimal DOCX ("word") or XLSX ("xl") package."""
    part, default = {"word": ("word/document.xml", "wordprocessingml.document.main+xml"),
                     "xl": ("xl/workbook.xml", "spreadsheetml.sheet.main+xml")}[kind]
    main_type = main_type or f"application/vnd.openxmlformats-officedocument.{default}"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            f'content-types"><Override PartName="/{part}" ContentType="{main_type}"/></Types>'))
        zf.writestr(part, "<root/>")
    return buf.getvalue()


def user(users_or_user, role: str = "applicant") -> User:
    u = users_or_user[role] if isinstance(users_or_user, dict) else users_or_user
    return db.session.get(User, u.id)


ORG_DATA = {
    "name": "Association Espoir", "acronym": "AE", "country": "SN", "org_type": "ngo",
    "registration_number": "SN-2012-1234", "registration_date": dt.date(2012, 5, 14), "address": "12 rue des Jardins",
    "year_established": 2012, "contact_name": "Awa", "contact_email": "contact@espoir.example.org",
    "years_direct_assistance": 5, "bank_account_holder": "Association Espoir", "bank_name": "Banque de Dakar",
    "bank_account_number": "GB82WEST12345698765432", "bank_swift": "BDAKSNDA",
}


def organisation_of(applicant: User, *, complete: bool = True, **fields) -> Organisation:
    """The applicant's organisation, created (with its PSEA policy when complete) if they have none."""
    applicant = db.session.get(User, applicant.id)
    if applicant.organisation_id:
        return db.session.get(Organisation, applicant.organisation_id)
    data = dict(ORG_DATA if complete else {k: ORG_DATA[k] for k in ("name", "country", "org_type")})
    data.update(fields)
    org = operations.create_organisation(applicant, data)
    if complete:
        operations.store_psea_policy(org, check_bytes(PDF_BYTES, "psea.pdf"), applicant)
    db.session.flush()
    assert db.session.get(OrganisationAdmin, (org.id, applicant.id))
    return org


def manager() -> User:
    from sqlalchemy import select

    from fund.models import Role

    found = db.session.execute(select(User).join(User.roles).where(Role.name == FUND_MANAGER)).scalars().first()
    if found:
        return found
    from fund import operations as fund_ops

    return fund_ops.create_user(f"fm-{utcnow().timestamp()}@example.org", FUND_MANAGER, "correct-horse-battery")


def make_call(*, status: str = "open", opens: dt.timedelta = dt.timedelta(days=-5),
              closes: dt.timedelta = dt.timedelta(days=30), **fields) -> Call:
    now = utcnow()
    data = {
        "title_en": "Medium-term assistance", "title_fr": "Assistance à moyen terme", "window": "medium_term",
        "description_en": "Grants for direct assistance.", "description_fr": "Subventions pour l'assistance directe.",
        "opens_at": now + opens, "closes_at": now + closes, "envelope": Decimal("1000000.00"),
        "min_grant": Decimal("20000.00"), "max_grant": Decimal("60000.00"), "max_duration_months": 24,
        "eligible_countries": [], "priority_forms": ["forced_labour"],
        "required_documents": ["psea_policy", "budget_workbook"],
        "criteria": [{"name_en": "Relevance", "name_fr": "Pertinence", "weight": 60},
                     {"name_en": "Feasibility", "name_fr": "Faisabilité", "weight": 40}],
    }
    data.update(fields)
    late = data["closes_at"] <= now
    if late:  # create it open, then let its closing time pass (the clock moving on)
        data["closes_at"] = now + dt.timedelta(days=1)
    fm = manager()
    call = operations.create_call(data, fm)
    if status in ("open", "closed"):
        operations.open_call(call, fm)
    if late:
        call.closes_at = now + closes
    if status == "closed":
        operations.close_call(call, fm)
    db.session.flush()
    return call


def complete_answers() -> dict:
    return {
        "project_title": "Safe return for survivors of forced labour",
        "summary": "Shelter, legal aid and training.", "objectives": "120 survivors assisted.",
        "countries": ["SN"], "locations": "Dakar", "start_date": dt.date(2027, 9, 1), "duration_months": 18,
        "forms_of_exploitation": ["forced_labour"], "assistance_types": ["shelter", "legal_counselling"],
        "beneficiaries": [{"sex": "female", "age_band": "18-24", "count": 40},
                          {"sex": "male", "age_band": "25-59", "count": 30}],
        "identification_referral": "Labour inspectorate referrals.", "partners": "Ministry of Labour.",
        "risks_safeguarding": "PSEA training.", "monitoring_plan": "Quarterly follow-up.",
        "budget_lines": [
            {"category": "personnel", "description": "Case workers", "quantity": Decimal("36"),
             "unit_cost": Decimal("600.00")},
            {"category": "shelter", "description": "Shelter", "quantity": Decimal("18"),
             "unit_cost": Decimal("800.00")},
            {"category": "indirect", "description": "Administration", "quantity": Decimal("1"),
             "unit_cost": Decimal("2500.00")},
        ],
    }


def make_application(applicant: User, call: Call | None = None, *, complete: bool = True) -> Application:
    applicant = db.session.get(User, applicant.id)
    organisation_of(applicant)
    call = call or make_call()
    application = operations.create_application(call, applicant, complete_answers() if complete else None)
    if complete:
        add_document(application, applicant, office_bytes("xl"), "budget.xlsx", "budget_workbook")
    db.session.flush()
    return application


def add_document(application: Application, applicant: User, data: bytes = PDF_BYTES, name: str = "letter.pdf",
                 kind: str = "letter_of_support") -> Document:
    return operations.add_document(application, check_bytes(data, name), kind, db.session.get(User, applicant.id))
