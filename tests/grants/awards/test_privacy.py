"""Data protection around awarded grants: a contact of an active grant is not anonymised, an organisation's
contacts are anonymised once its grants have ended (applications, grants and money kept), and a grantee report
with personal data in its free text is not submitted."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from fund import audit
from fund import privacy as fund_privacy
from fund.accounting import figures
from fund.audit import AuditEvent, AuditPersonal, AuditSubject
from fund.db import db
from fund.errors import FundError
from fund.models import User
from grants.awards import operations as award_ops
from grants.awards.models import Grant
from grants.models import Application, Organisation
from grants.privacy import anonymise_organisation_contacts
from tests.grants.awards import factories as af
from tests.grants.awards.conftest import sign_and_countersign
from tests.grants.awards.reports_data import report_body


def _mentions(text: str, organisation_id: int | None = None) -> int:
    """How many events' personal parts mention ``text`` (among the events about an organisation, if given)."""
    query = select(AuditPersonal)
    if organisation_id is not None:
        query = query.where(AuditPersonal.event_id.in_(
            select(AuditSubject.event_id).where(AuditSubject.kind == "organisation",
                                                AuditSubject.subject_id == organisation_id)))
    rows = db.session.execute(query).scalars()
    return sum(1 for p in rows if text in json.dumps([p.actor, p.summary, p.changes]))


def _audit_count() -> int:
    return db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


def test_a_contact_of_an_active_grant_is_not_anonymised_until_it_ends(app, world, make_user):
    w = world()
    admin = make_user("admin")
    with app.test_request_context():
        admin = db.session.get(User, admin.id)
        member = db.session.get(User, w.applicant.id)
        grant = db.session.get(Grant, w.grant_id)
        events = _audit_count()
        with pytest.raises(FundError) as refused:
            fund_privacy.anonymise_user(member, actor=admin)
        assert refused.value.status == 409
        assert grant.number in refused.value.message and "pending signature" in refused.value.message
        db.session.rollback()
        assert _audit_count() == events and db.session.get(User, member.id).email == w.applicant.email

        award_ops.terminate(grant, af.gf.manager(), "The project stopped.")
        fund_privacy.anonymise_user(db.session.get(User, member.id), actor=admin)
        db.session.commit()
        assert fund_privacy.is_anonymised(db.session.get(User, member.id))
        grant = db.session.get(Grant, w.grant_id)
        assert grant.organisation_id == db.session.get(Application, grant.application_id).organisation_id
        assert audit.verify().ok


def test_an_organisation_s_contacts_are_anonymised_once_its_grants_have_ended(app, world, make_user):
    w = world()
    admin = make_user("admin")
    with app.test_request_context():
        admin = db.session.get(User, admin.id)
        admin_id = admin.id
        grant = db.session.get(Grant, w.grant_id)
        org_id, number = grant.organisation_id, grant.number
        org = db.session.get(Organisation, org_id)
        contact = org.contact_email
        assert _mentions(contact, org_id) > 0
        with pytest.raises(FundError) as refused:
            anonymise_organisation_contacts(org, actor=admin)
        assert refused.value.status == 409 and number in refused.value.message
        db.session.rollback()

        award_ops.terminate(db.session.get(Grant, w.grant_id), af.gf.manager(), "The project stopped.")
        db.session.commit()
        position = figures.fund_position().as_dict()
        org = db.session.get(Organisation, org_id)
        assert anonymise_organisation_contacts(org, actor=db.session.get(User, admin_id)) == 1
        db.session.commit()
        db.session.remove()

        org = db.session.get(Organisation, org_id)
        assert (org.contact_name, org.contact_email, org.contact_phone) == (None, None, None)
        assert org.name == "Association Espoir"  # the organisation itself stays
        assert fund_privacy.is_anonymised(db.session.get(User, w.applicant.id))
        assert db.session.get(Grant, w.grant_id).organisation_id == org.id
        assert _mentions(contact, org_id) == 0 and _mentions(w.applicant.email) == 0
        assert figures.fund_position().as_dict() == position
        assert audit.verify().ok


def test_the_organisation_page_offers_the_action_to_admins_and_explains_a_refusal(app, world, login_as):
    w = world()
    with app.app_context():
        org_id = db.session.get(Grant, w.grant_id).organisation_id
    admin = login_as("admin")
    page = admin.get(f"/grants/organisations/{org_id}")
    assert "Anonymise the contacts" in page.get_data(as_text=True)
    manager = login_as("fund_manager")
    assert "Anonymise the contacts" not in manager.get(f"/grants/organisations/{org_id}").get_data(as_text=True)

    resp = admin.submit(f"/grants/organisations/{org_id}/anonymise-contacts", {"confirm": "yes"},
                        page=f"/grants/organisations/{org_id}")
    assert resp.status_code == 409
    assert "while it has an active grant" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Organisation, org_id).contact_email == "contact@espoir.example.org"


def test_a_report_with_personal_data_is_refused_with_the_field_named(app, world, login_as):
    w = world()
    sign_and_countersign(w)
    grant = w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()
    rid = next(r["id"] for r in grant["reports"] if r["kind"] == "interim")
    body = report_body("interim", grant, shares={"personnel": "10800.00", "shelter": "7200.00",
                                                 "indirect": "1250.00"})
    body["challenges"] = "Mariama (passport A1234567) left the shelter; her sister is on +221 77 123 45 67."
    assert w.ngo.post(f"/api/v1/grants/{w.grant_id}/reports", json=body).status_code == 201
    resp = w.ngo.post(f"/api/v1/reports/{rid}/submit")
    assert resp.status_code == 422
    problems = " ".join(resp.get_json()["error"]["fields"]["_schema"])
    assert "Challenges" in problems and "a passport or identity card number" in problems
    assert "a phone number" in problems
    assert w.ngo.get(f"/api/v1/reports/{rid}").get_json()["status"] == "due"

    page = login_as(w.applicant).get(f"/grants/awards/reports/{rid}").get_data(as_text=True)
    assert "Never name victims" in page

    assert w.ngo.patch(f"/api/v1/reports/{rid}", json={"challenges": "One survivor left the shelter."}
                       ).status_code == 200
    assert w.ngo.post(f"/api/v1/reports/{rid}/submit").status_code == 200
