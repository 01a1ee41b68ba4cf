"""Routes of grants awarded (grants/awards: portal and API).

The builders create grants of users["applicant"]'s organisation through the operations, and disbursements
requested (and approved) by *other* finance officers, so that users["finance_officer"] is really allowed to
approve and pay; other roles are refused at route level (403) or see a 404 for objects that are not theirs.
"""

import functools
from decimal import Decimal

from flask import current_app

from fund.uploads import check_bytes
from grants.awards import operations as ops
from tests.grants import factories as gf
from tests.grants.awards import factories as af
from tests.matrix import Route, roles

APPLICANT = roles("applicant")
FM = roles("fund_manager")
FO = roles("finance_officer")
READERS = roles("applicant", "fund_manager", "finance_officer", "admin", "auditor")
STAFF = roles("fund_manager", "finance_officer", "admin", "auditor")
FINANCE_READERS = roles("finance_officer", "fund_manager", "admin", "auditor")


def in_request(builder):
    @functools.wraps(builder)
    def wrapper(users):
        with current_app.test_request_context():
            return builder(users)

    return wrapper


def _pending(users):
    return af.make_grant(applicant=gf.user(users))


def _active(users):
    grant = _pending(users)
    ops.upload_signed_agreement(grant, check_bytes(gf.PDF_BYTES, "signed.pdf"), gf.user(users))
    ops.countersign(grant, gf.user(users, "fund_manager"))
    return grant


def _requested(users):
    grant = _active(users)
    return ops.request_disbursement(grant, 1, Decimal("100.00"), af.staff("finance_officer", f"fo-a-{grant.id}"))


def _approved(users):
    d = _requested(users)
    ops.approve_disbursement(d, af.staff("finance_officer", f"fo-b-{d.id}"))
    return d


@in_request
def pending_grant(users):
    return {"grant_id": _pending(users).id}


@in_request
def active_grant(users):
    return {"grant_id": _active(users).id}


@in_request
def requested(users):
    return {"disbursement_id": _requested(users).id}


@in_request
def approved(users):
    return {"disbursement_id": _approved(users).id}


@in_request
def report(users):
    return {"report_id": _active(users).report("interim").id}


def grant_trigger(trigger):
    return lambda users: {**active_grant(users), "trigger": trigger}


def disbursement_action(action):
    return lambda users: {**requested(users), "action": action}


def review(trigger):
    return lambda users: {**report(users), "trigger": trigger}


PAY = {"payment_reference": "MATRIX", "paid_on": "2026-01-05"}
REFUND = {"amount": "1.00", "currency": "USD", "received_on": "2026-01-05", "bank_reference": "MATRIX"}

ROUTES: dict = {
    # Portal
    ("grants_awards.grantee_home", "GET"): Route(APPLICANT),
    ("grants_awards.grants", "GET"): Route(STAFF),
    ("grants_awards.grant_detail", "GET"): Route(READERS, args=active_grant),
    ("grants_awards.agreement_pdf", "GET"): Route(READERS, args=pending_grant),
    ("grants_awards.upload_agreement", "POST"): Route(APPLICANT, args=pending_grant, body={}),
    ("grants_awards.grant_transition", "POST"): Route(FM, args=grant_trigger("suspend"), body={"message": "M"}),
    ("grants_awards.request_disbursement", "POST"): Route(FO, args=active_grant, body={"tranche": "1",
                                                                                       "amount": "10.00"}),
    ("grants_awards.new_refund", "GET"): Route(FO, args=active_grant),
    ("grants_awards.record_refund", "POST"): Route(FO, args=active_grant, body=REFUND),
    ("grants_awards.disbursement_action", "POST"): Route(FO, args=disbursement_action("approve")),
    ("grants_awards.edit_disbursement", "POST"): Route(FO, args=requested, body={"amount": "50.00"}),
    ("grants_awards.pay_disbursement", "POST"): Route(FO, args=approved, body=PAY),
    ("grants_awards.approval_queue", "GET"): Route(FO),
    ("grants_awards.payments", "GET"): Route(FO),
    ("grants_awards.forecast", "GET"): Route(FINANCE_READERS),
    ("grants_awards.report", "GET"): Route(READERS, args=report),
    ("grants_awards.save_report", "POST"): Route(APPLICANT, args=report, body={"activities": "Matrix"}),
    ("grants_awards.upload_audit_report", "POST"): Route(APPLICANT, args=report, body={}),
    ("grants_awards.submit_report", "POST"): Route(APPLICANT, args=report),
    ("grants_awards.review_report", "POST"): Route(FM, args=review("return"), body={"message": "M"}),
    # API
    ("grants_awards_api.list_grants", "GET"): Route(READERS),
    ("grants_awards_api.get_grant", "GET"): Route(READERS, args=active_grant),
    ("grants_awards_api.upload_agreement", "POST"): Route(APPLICANT, args=pending_grant, body={}),
    ("grants_awards_api.countersign", "POST"): Route(FM, args=pending_grant),
    ("grants_awards_api.suspend", "POST"): Route(FM, args=active_grant, body={"message": "M"}),
    ("grants_awards_api.resume", "POST"): Route(FM, args=active_grant),
    ("grants_awards_api.terminate", "POST"): Route(FM, args=active_grant, body={"message": "M"}),
    ("grants_awards_api.set_tranches", "PUT"): Route(FM, args=pending_grant, body={"tranches": [
        {"percent": "100", "condition": "signature"}]}),
    ("grants_awards_api.close", "POST"): Route(FM, args=active_grant),
    ("grants_awards_api.revise_budget", "PUT"): Route(FM, args=active_grant, body={"lines": [
        {"category": "personnel", "description": "All", "amount": "38500.00"}]}),
    ("grants_awards_api.record_refund", "POST"): Route(FO, args=active_grant, body=REFUND),
    ("grants_awards_api.request_disbursement", "POST"): Route(FO, args=active_grant, body={"tranche": 1,
                                                                                           "amount": "10.00"}),
    ("grants_awards_api.list_disbursements", "GET"): Route(STAFF),
    ("grants_awards_api.edit_disbursement", "PATCH"): Route(FO, args=requested, body={"amount": "50.00"}),
    ("grants_awards_api.approve_disbursement", "POST"): Route(FO, args=requested),
    ("grants_awards_api.pay_disbursement", "POST"): Route(FO, args=approved, body=PAY),
    ("grants_awards_api.cancel_disbursement", "POST"): Route(FO, args=requested),
    ("grants_awards_api.fail_disbursement", "POST"): Route(FO, args=approved, body={"message": "M"}),
    ("grants_awards_api.save_report", "POST"): Route(APPLICANT, args=active_grant, body={"kind": "interim"}),
    ("grants_awards_api.get_report", "GET"): Route(READERS, args=report),
    ("grants_awards_api.update_report", "PATCH"): Route(APPLICANT, args=report, body={"lessons": "Matrix"}),
    ("grants_awards_api.upload_audit_report", "POST"): Route(APPLICANT, args=report, body={}),
    ("grants_awards_api.submit_report", "POST"): Route(APPLICANT, args=report),
    ("grants_awards_api.accept_report", "POST"): Route(FM, args=report),
    ("grants_awards_api.return_report", "POST"): Route(FM, args=report, body={"message": "M"}),
}
