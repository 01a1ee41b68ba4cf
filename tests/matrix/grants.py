"""Routes of the grants package (portal and API).

The builders create objects owned by users["applicant"]'s organisation, so that the applicant is really
allowed; the other roles are refused at route level (403) or see a 404 for objects that are not theirs.
"""

import functools

from flask import current_app

from tests.grants import factories as f
from tests.matrix import ALL, PUBLIC, Route, roles

APPLICANT = roles("applicant")
FM = roles("fund_manager")
FO = roles("finance_officer")
APP_READERS = roles("applicant", "fund_manager", "admin", "auditor")
ORG_READERS = roles("applicant", "fund_manager", "finance_officer", "admin", "auditor")
STAFF_READERS = roles("fund_manager", "admin", "auditor")
ORG_LIST = roles("fund_manager", "finance_officer", "admin", "auditor")


def in_request(builder):
    """Operations format messages and links in the language of a request: build inside one."""

    @functools.wraps(builder)
    def wrapper(users):
        with current_app.test_request_context():
            return builder(users)

    return wrapper


@in_request
def org(users):
    return {"organisation_id": f.organisation_of(f.user(users)).id}


@in_request
def call(users):
    return {"call_id": f.make_call().id}


@in_request
def draft_call(users):
    return {"call_id": f.make_call(status="draft").id}


@in_request
def application(users):
    return {"application_id": f.make_application(f.user(users), complete=False).id}


@in_request
def submitted(users):
    app = f.make_application(f.user(users))
    from grants import operations

    operations.submit_application(app, f.user(users))
    return {"application_id": app.id}


@in_request
def document(users):
    app = f.make_application(f.user(users), complete=False)
    return {"document_id": f.add_document(app, f.user(users)).id}


@in_request
def member(users):
    o = f.organisation_of(f.user(users))
    return {"organisation_id": o.id, "user_id": users["applicant"].id}


@in_request
def section(users):
    return {**application(users), "section": "project"}


@in_request
def invitation(users):
    from grants import operations

    o = f.organisation_of(f.user(users))
    _inv, token = operations.invite(o, "invitee@example.org", f.user(users))
    return {"token": token}


CALL_BODY = {"title_en": "x"}

ROUTES: dict = {
    # Public pages
    ("grants.calls", "GET"): Route(PUBLIC),
    ("grants.call_detail", "GET"): Route(PUBLIC, args=call),
    ("grants.accept_invitation", "GET"): Route(PUBLIC, args=invitation),
    ("grants.accept_invitation", "POST"): Route(PUBLIC, args=invitation, body={}),
    # The applicant portal
    ("grants.applicant_home", "GET"): Route(APPLICANT),
    ("grants.new_organisation", "GET"): Route(APPLICANT),
    ("grants.new_organisation", "POST"): Route(APPLICANT, body={}),
    ("grants.organisations", "GET"): Route(ORG_LIST),
    ("grants.organisation", "GET"): Route(ORG_READERS, args=org),
    ("grants.bank_details", "GET"): Route(FO, args=org),
    ("grants.edit_organisation", "GET"): Route(APPLICANT, args=org),
    ("grants.edit_organisation", "POST"): Route(APPLICANT, args=org, body={}),
    ("grants.upload_psea", "POST"): Route(APPLICANT, args=org, body={}),
    ("grants.invite_member", "POST"): Route(APPLICANT, args=org, body={}),
    ("grants.promote_member", "POST"): Route(APPLICANT, args=member),
    ("grants.start_application", "POST"): Route(APPLICANT, args=call),
    ("grants.application_overview", "GET"): Route(APP_READERS, args=application),
    ("grants.application_section", "GET"): Route(APPLICANT, args=section),
    ("grants.application_section", "POST"): Route(APPLICANT, args=section, body={"project_title": "Matrix"}),
    ("grants.upload_document", "POST"): Route(APPLICANT, args=application, body={}),
    ("grants.delete_document", "POST"): Route(APPLICANT, args=document),
    ("grants.download_document", "GET"): Route(APP_READERS, args=document),
    ("grants.submit_application", "POST"): Route(APPLICANT, args=application),
    ("grants.withdraw_application", "POST"): Route(APPLICANT, args=application, body={}),
    ("grants.applications", "GET"): Route(STAFF_READERS),
    ("grants.return_application", "POST"): Route(FM, args=submitted, body={}),
    # Calls, for the fund
    ("grants.manage_calls", "GET"): Route(STAFF_READERS),
    ("grants.new_call", "GET"): Route(FM),
    ("grants.new_call", "POST"): Route(FM, body=CALL_BODY),
    ("grants.edit_call", "GET"): Route(FM, args=draft_call),
    ("grants.edit_call", "POST"): Route(FM, args=draft_call, body=CALL_BODY),
    ("grants.call_transition", "POST"): Route(FM, args=lambda users: {**call(users), "trigger": "decide"}),
    # API
    ("grants_api.create_organisation", "POST"): Route(APPLICANT, body={}),
    ("grants_api.get_organisation", "GET"): Route(ORG_READERS, args=org),
    ("grants_api.update_organisation", "PATCH"): Route(APPLICANT, args=org, body={"contact_phone": "+221 33 800"}),
    ("grants_api.upload_psea_policy", "POST"): Route(APPLICANT, args=org, body={}),
    ("grants_api.create_call", "POST"): Route(FM, body=CALL_BODY),
    ("grants_api.list_calls", "GET"): Route(ALL),
    ("grants_api.get_call", "GET"): Route(ALL, args=call),
    ("grants_api.open_call", "POST"): Route(FM, args=draft_call),
    ("grants_api.close_call", "POST"): Route(FM, args=call),
    ("grants_api.create_application", "POST"): Route(APPLICANT, body={}),
    ("grants_api.update_application", "PATCH"): Route(APPLICANT, args=application, body={"summary": "Matrix"}),
    ("grants_api.get_application", "GET"): Route(APP_READERS | roles("reviewer"), args=application),
    ("grants_api.list_applications", "GET"): Route(APP_READERS),
    ("grants_api.upload_document", "POST"): Route(APPLICANT, args=application, body={}),
    ("grants_api.get_document", "GET"): Route(APP_READERS | roles("reviewer"), args=document),
    ("grants_api.submit_application", "POST"): Route(APPLICANT, args=application),
    ("grants_api.withdraw_application", "POST"): Route(APPLICANT, args=application),
    ("grants_api.return_application", "POST"): Route(FM, args=submitted, body={}),
}
