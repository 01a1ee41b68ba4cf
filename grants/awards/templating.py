"""Jinja globals of the grants-awarded pages: translated labels of statuses and conditions."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from grants.awards.presenters import event_sentence, grantee_next_step, grantee_status, organisation_grants, who
from grants.awards.workflow import (
    CONDITION_LABELS,
    DISBURSEMENT_STATES,
    DISBURSEMENT_WORKFLOW,
    GRANT_STATES,
    REPORT_KIND_LABELS,
    REPORT_STATES,
)

TRANCHE_STATUS = {
    "paid": _l("Paid"),
    "partly_paid": _l("Partly paid"),
    "approved": _l("Approved"),
    "requested": _l("Requested"),
    "scheduled": _l("Ready to request"),
    "waiting": _l("Waiting for its condition"),
    "cancelled": _l("Cancelled"),
}
#: What the organisation reads for an application the Board (or screening) has decided, when no grant exists.
APPLICATION_OUTCOME = {
    "approved": lazy_pgettext("application", "Approved by the Board"),
    "rejected": lazy_pgettext("application", "Not selected"),
    "ineligible": lazy_pgettext("application", "Not eligible"),
}


def _label(table: dict):
    return lambda code: str(table.get(code, code)) if code else ""


def init_templating(app: Flask) -> None:
    env = app.jinja_env
    env.globals["grant_status"] = _label(GRANT_STATES)
    env.globals["disbursement_status"] = _label(DISBURSEMENT_STATES)
    env.globals["report_status"] = _label(REPORT_STATES)
    env.globals["tranche_status"] = _label(TRANCHE_STATUS)
    env.globals["tranche_condition"] = _label(CONDITION_LABELS)
    env.globals["report_kind"] = _label(REPORT_KIND_LABELS)
    env.globals["application_outcome"] = _label(APPLICATION_OUTCOME)
    env.globals["organisation_grants"] = organisation_grants
    env.globals["grantee_status"] = grantee_status
    env.globals["grantee_next_step"] = grantee_next_step
    env.globals["event_sentence"] = event_sentence
    env.globals["who"] = who
    env.globals["disbursement_trigger"] = lambda trigger: str(DISBURSEMENT_WORKFLOW[trigger].label)
