"""Demonstration data for `make run`: a grant to a third organisation, countersigned, its first tranche
requested by one finance officer, approved by the other and paid; the interim report due.

Grants need money in the fund, and the donors' demonstration brings it in after the grants package has
registered its loaders: :func:`load_demo` therefore only puts :func:`load_after_money` at the end of the list."""

from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import select

from fund.db import db, utcnow
from fund.errors import FundError
from fund.models import APPLICANT, FINANCE_OFFICER, FUND_MANAGER, User
from fund.uploads import check_bytes


def load_demo(users: dict[str, User]) -> list[str]:
    from fund.demo import DEMO_LOADERS

    if load_after_money not in DEMO_LOADERS:
        DEMO_LOADERS.append(load_after_money)
    return []


def load_after_money(users: dict[str, User]) -> list[str]:
    from fund import operations as fund_ops
    from fund.demo import DEMO_PASSWORD
    from grants import operations as grant_ops
    from grants.awards import operations as ops
    from grants.demo import MINIMAL_PDF, _complete_answers, minimal_xlsx
    from grants.models import Call

    manager = users[FUND_MANAGER]
    officer = users[FINANCE_OFFICER]
    second = users.get("finance2@vtf.example.org")
    call = db.session.execute(select(Call).where(Call.status == "open").order_by(Call.id)).scalars().first()
    if call is None or second is None:
        return ["Grants awarded demo: skipped (no open call or no second finance officer)."]
    with current_app.test_request_context(base_url=current_app.config.get("SERVER_BASE_URL") or None):
        grantee = fund_ops.create_user("grantee@ngo3.example.org", APPLICANT, DEMO_PASSWORD, name="Lucía Pérez")
        org = grant_ops.create_organisation(grantee, {
            "name": "Casa Esperanza", "country": "GT", "org_type": "ngo", "registration_number": "GT-2011-0457",
            "registration_date": dt.date(2011, 3, 2), "address": "6a Avenida 3-45, Ciudad de Guatemala",
            "year_established": 2011, "contact_name": "Lucía Pérez", "contact_email": "grantee@ngo3.example.org",
            "years_direct_assistance": 8, "bank_account_holder": "Casa Esperanza", "bank_name": "Banco Industrial",
            "bank_account_number": "GT82TRAJ01020000001210029690", "bank_swift": "INDLGTGC",
        })
        grant_ops.store_psea_policy(org, check_bytes(MINIMAL_PDF, "psea-policy.pdf"), grantee)
        answers = _complete_answers()
        answers.update(countries=["GT"], locations="Guatemala City, Quetzaltenango",
                       start_date=utcnow().date() - dt.timedelta(days=30),
                       project_title="Shelter and legal aid for survivors of sexual exploitation",
                       forms_of_exploitation=["sexual_exploitation"],
                       assistance_types=["shelter", "legal_representation", "psychosocial_support"])
        application = grant_ops.create_application(call, grantee, answers)
        grant_ops.add_document(application, check_bytes(minimal_xlsx(), "budget.xlsx"), "budget_workbook", grantee)
        grant_ops.submit_application(application, grantee)
        for trigger in ("declare_eligible", "start_review", "recommend"):
            grant_ops.transition(application, trigger, manager)
        try:
            with db.session.begin_nested():
                # Through the Board's decision, so the lists show it (a bare "approve" left the Decision empty)
                from grants.awards.models import Grant
                from grants.review import operations as review_ops

                decision = review_ops.decide(application, {"outcome": "approved",
                                                           "amount": application.requested_amount}, manager)
                grant = db.session.get(Grant, decision.grant_id)
        except FundError as exc:
            return [f"Grants awarded demo: no grant ({exc.message})"]
        ops.upload_signed_agreement(grant, check_bytes(MINIMAL_PDF, "signed-agreement.pdf"), grantee)
        ops.countersign(grant, manager)
        first = grant.tranches[0]
        d = ops.request_disbursement(grant, first.number, first.amount, officer, note="First tranche")
        ops.approve_disbursement(d, second)
        ops.pay_disbursement(d, "DEMO-PAY-0001", utcnow().date(), officer)
        second_request = ops.request_disbursement(grant, 2, grant.tranches[1].amount, second)
        db.session.flush()
    return [
        "Grants awarded demo:",
        f"  grant            {grant.number} to {org.name} ({grantee.email}): tranche 1 of USD {first.amount} paid; "
        f"tranche 2 requested (#{second_request.id}), waiting for the interim report due "
        f"{grant.report('interim').due_on.isoformat()}",
        f"  finance          {officer.email} and {second.email} request and approve (four eyes)",
    ]

