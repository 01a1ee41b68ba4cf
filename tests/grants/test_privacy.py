"""Free text of applications checked for likely personal data before submission, and the forms' warning in
English and French (anonymisation around grants: tests/grants/awards/test_privacy.py)."""

from __future__ import annotations

from unittest import mock

import pytest
from sqlalchemy import func, select

from fund.audit import AuditEvent
from fund.db import db
from fund.errors import FundError
from fund.models import User
from grants import operations as grant_ops
from grants.models import Application
from grants.privacy import personal_data_findings
from tests.grants import factories as f
from tests.grants.awards import factories as af


def _audit_count() -> int:
    return db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


@pytest.mark.parametrize("text, kinds", [
    ("Contact the survivor at awa.diop@gmail.com for follow-up.", ["email"]),
    ("Her mobile is +221 77 123 45 67.", ["phone"]),
    ("Call 77 123 45 67 after 6 pm.", ["phone"]),
    ("Passport A1234567 was recovered from the employer.", ["passport"]),
    ("Passeport n° AB 1234567 récupéré.", ["passport"]),
    ("The girl, born 12/03/2009, was referred by the police.", ["birth_date"]),
    ("Née le 4 mars 2008 à Thiès.", ["birth_date"]),
    ("Date of birth: 2008-03-04.", ["birth_date"]),
])
def test_likely_personal_data_is_found(text, kinds):
    assert [f.kind for f in personal_data_findings(text, "SN")] == kinds


@pytest.mark.parametrize("text", [
    "120 survivors were assisted between 01/03/2027 and 30/06/2027.",
    "Grant VTF/2027/014, application VTF-2027-SGP2-0001, budget USD 38,500.00 over 18 months.",
    "Shelter for 40 women aged 18 to 24; 12 children under 12.",
    "Activities started on 2027-09-01 and training was held on 12 March 2028.",
])
def test_ordinary_project_text_is_not_flagged(text):
    assert personal_data_findings(text, "SN") == []


def test_an_application_with_personal_data_is_not_submitted_until_it_is_removed(app, make_user, build):
    applicant = make_user("applicant")
    application_id = build(lambda: f.make_application(applicant))
    with app.test_request_context():
        application = db.session.get(Application, application_id)
        user = db.session.get(User, applicant.id)
        grant_ops.update_application(application, {
            "summary": "Shelter for Fatou, born 12/03/2009; reach her at fatou.s@example.com.",
            "partners": "Police liaison on +221 77 123 45 67."}, user)
        db.session.commit()
        events = _audit_count()
        with mock.patch("grants.operations.render_pdf", af._quick_acknowledgement):
            with pytest.raises(FundError) as refused:
                grant_ops.submit_application(application, user)
        assert refused.value.status == 422
        message = " ".join([refused.value.message, *sum(refused.value.fields.values(), [])])
        assert "Summary" in message and "an e-mail address" in message and "a date of birth" in message
        assert "Partners" in message and "a phone number" in message
        db.session.rollback()
        application = db.session.get(Application, application_id)
        assert application.status == "draft" and _audit_count() == events

        grant_ops.update_application(application, {"summary": "Shelter, legal aid and training.",
                                                   "partners": "Ministry of Labour."}, user)
        with mock.patch("grants.operations.render_pdf", af._quick_acknowledgement):
            grant_ops.submit_application(application, user)
        db.session.commit()
        assert db.session.get(Application, application_id).status == "submitted"


def test_the_application_form_warns_in_english_and_french(app, make_user, build, login_as):
    applicant = make_user("applicant")
    application_id = build(lambda: f.make_application(applicant))
    client = login_as(applicant)
    page = client.get(f"/grants/applications/{application_id}/sections/project").get_data(as_text=True)
    assert "Never name victims" in page
    client.post("/language", data={"lang": "fr", "next": "/",
                                   "csrf_token": client.csrf_token(f"/grants/applications/{application_id}")})
    page = client.get(f"/grants/applications/{application_id}/sections/project").get_data(as_text=True)
    assert "Ne nommez jamais les victimes" in page


