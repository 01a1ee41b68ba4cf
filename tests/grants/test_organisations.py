"""Organisations: several applicant users; the administrator invites colleagues with a single-use, expiring
link sent through the outbox; full bank details only for finance officers, each view audited."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from fund.audit import AuditEvent
from fund.db import db, utcnow
from fund.mail import OutboxMessage
from fund.models import User
from grants.models import Invitation, OrganisationAdmin
from tests.conftest import PASSWORD
from tests.grants import factories as f


def admin_with_org(app, make_user):
    admin = make_user("applicant")
    with app.test_request_context():
        org_id = f.organisation_of(admin).id
        db.session.commit()
    return admin, org_id


def invitation_link(app) -> str:
    with app.app_context():
        mail = db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "grants:invitation")
                                  .order_by(OutboxMessage.id.desc())).scalars().first()
        return re.search(r"http://localhost(/grants/invitations/\S+)", mail.body_text).group(1)


def test_an_invited_colleague_creates_an_account_once(app, make_user, login_as):
    admin, org_id = admin_with_org(app, make_user)
    client = login_as(admin)
    org_url = f"/grants/organisations/{org_id}"
    resp = client.submit(f"{org_url}/invitations", {"email": "Colleague@Example.org"}, page=org_url)
    assert resp.status_code in (302, 303)
    with app.app_context():
        mail = db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "grants:invitation")).scalar_one()
        assert mail.recipient == "colleague@example.org" and "Association Espoir" in mail.subject
    link = invitation_link(app)

    guest = app.test_client()
    form = guest.get(link).get_data(as_text=True)
    assert "colleague@example.org" in form
    mismatch = guest.submit(link, {"name": "Col", "password": PASSWORD, "password_confirm": "different-one!"})
    assert mismatch.status_code == 422 and "The passwords do not match." in mismatch.get_data(as_text=True)
    resp = guest.submit(link, {"name": "Colleague", "password": PASSWORD, "password_confirm": PASSWORD})
    assert resp.status_code in (302, 303)
    home = guest.get("/grants/portal").get_data(as_text=True)
    assert "Association Espoir" in home  # signed in and a member
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == "colleague@example.org")).scalar_one()
        assert user.organisation_id == org_id and user.role == "applicant"
        inv = db.session.execute(select(Invitation)).scalar_one()
        assert inv.accepted_user_id == user.id and inv.accepted_at is not None

    again = app.test_client().get(link)
    assert again.status_code == 410 and "already been used" in again.get_data(as_text=True)


def test_an_expired_or_forged_invitation_is_refused(app, make_user, login_as):
    admin, org_id = admin_with_org(app, make_user)
    client = login_as(admin)
    client.submit(f"/grants/organisations/{org_id}/invitations", {"email": "late@example.org"},
                  page=f"/grants/organisations/{org_id}")
    link = invitation_link(app)
    assert app.test_client().get(link[:-3] + "xyz").status_code == 404
    with app.app_context():
        inv = db.session.execute(select(Invitation)).scalar_one()
        inv.expires_at = utcnow() - dt.timedelta(seconds=1)
        db.session.commit()
    resp = app.test_client().get(link)
    assert resp.status_code == 410 and "expired" in resp.get_data(as_text=True)


def test_an_applicant_without_organisation_joins_by_invitation(app, make_user, login_as):
    admin, org_id = admin_with_org(app, make_user)
    existing = make_user("applicant", email="existing@example.org")
    login_as(admin).submit(f"/grants/organisations/{org_id}/invitations", {"email": "existing@example.org"},
                           page=f"/grants/organisations/{org_id}")
    link = invitation_link(app)
    anonymous = app.test_client().get(link).get_data(as_text=True)
    assert "sign in first" in anonymous
    client = login_as(existing)
    resp = client.submit(link, {})
    assert resp.status_code in (302, 303)
    with app.app_context():
        assert db.session.get(User, existing.id).organisation_id == org_id
        assert db.session.execute(select(AuditEvent).where(
            AuditEvent.action == "organisation.invitation_accepted")).scalar_one()


def test_staff_and_members_of_other_organisations_cannot_be_invited(app, make_user, login_as):
    admin, org_id = admin_with_org(app, make_user)
    make_user("fund_manager", email="staff@example.org")
    client = login_as(admin)
    resp = client.submit(f"/grants/organisations/{org_id}/invitations", {"email": "staff@example.org"},
                         page=f"/grants/organisations/{org_id}")
    assert resp.status_code == 422
    assert "cannot join" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(Invitation.id)).first() is None


def test_an_administrator_promotes_a_colleague(app, make_user, login_as):
    admin, org_id = admin_with_org(app, make_user)
    member = make_user("applicant", organisation_id=org_id)
    client = login_as(admin)
    resp = client.submit(f"/grants/organisations/{org_id}/members/{member.id}/admin", {},
                         page=f"/grants/organisations/{org_id}")
    assert resp.status_code in (302, 303)
    with app.app_context():
        assert db.session.get(OrganisationAdmin, (org_id, member.id)) is not None
    assert login_as(member).get(f"/grants/organisations/{org_id}/edit").status_code == 200


def test_bank_details_masked_for_everyone_but_finance_officers(app, make_user, login_as):
    admin, org_id = admin_with_org(app, make_user)
    for who in (admin, "fund_manager", "auditor", "admin"):
        page = login_as(who).get(f"/grants/organisations/{org_id}").get_data(as_text=True)
        assert "•••• 5432" in page and "GB82WEST12345698765432" not in page
        assert "Show the full bank details" not in page
    fo = login_as("finance_officer")
    assert "Show the full bank details" in fo.get(f"/grants/organisations/{org_id}").get_data(as_text=True)
    full = fo.get(f"/grants/organisations/{org_id}/bank-details").get_data(as_text=True)
    assert "GB82WEST12345698765432" in full
    fo.get(f"/grants/organisations/{org_id}/bank-details")
    with app.app_context():
        views = db.session.execute(select(AuditEvent).where(
            AuditEvent.action == "organisation.bank_details_viewed")).scalars().all()
        assert len(views) == 2 and {v.entity_id for v in views} == {str(org_id)}


def test_editing_the_profile_keeps_bank_details_left_empty(app, make_user, login_as):
    admin, org_id = admin_with_org(app, make_user)
    client = login_as(admin)
    url = f"/grants/organisations/{org_id}/edit"
    form = client.get(url).get_data(as_text=True)
    assert "GB82WEST12345698765432" not in form  # never sent back to the browser
    data = {"name": "Association Espoir et Dignité", "country": "SN", "org_type": "ngo",
            "website": "https://espoir.example.org", "bank_account_number": "", "bank_swift": ""}
    resp = client.submit(url, data)
    assert resp.status_code in (302, 303)
    with app.app_context():
        from grants.models import Organisation

        org = db.session.get(Organisation, org_id)
        assert org.name == "Association Espoir et Dignité" and org.bank_account_number == "GB82WEST12345698765432"
        assert org.registration_number is None  # cleared, as the form said
    bad = client.submit(url, {**data, "bank_swift": "12"})
    assert bad.status_code == 422
    assert "A SWIFT / BIC code has 8 or 11 letters and digits." in bad.get_data(as_text=True)


def test_the_dashboard_leads_a_new_applicant_to_create_the_profile(app, login_as):
    client = login_as("applicant")
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "/grants/portal" in dashboard
    home = client.get("/grants/portal").get_data(as_text=True)
    assert "/grants/organisation/new" in home
    resp = client.submit("/grants/organisation/new", {"name": "", "country": "", "org_type": ""})
    assert resp.status_code == 422
    assert resp.get_data(as_text=True).count("This field is required.") >= 3
