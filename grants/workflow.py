"""The state machines of calls and applications, each declared in one place.

A :class:`Workflow` is a table of :class:`Transition` rows: trigger name, the states it leaves from, the state
it enters, the roles that may trigger it and its guards. :meth:`Workflow.fire` is the only code that assigns
``status``: it checks the source state (409), the actor's role (403) and every guard (422, listing all the
problems), changes the status, writes the history row and the audit event in the caller's transaction, then
runs the transition's after-hooks.

Later features add rules without touching the table::

    from grants.workflow import APPLICATION_WORKFLOW

    def screened(application, actor, data) -> list[str]:       # a guard returns the problems it finds
        return [] if screening_complete(application) else [_("Complete the eligibility checklist first.")]

    APPLICATION_WORKFLOW.add_guard("declare_eligible", screened)
    APPLICATION_WORKFLOW.add_hook("approve", create_grant)       # runs after the status has changed

and a screen calls ``APPLICATION_WORKFLOW.fire(application, "declare_eligible", actor, message=...)``.
:meth:`Workflow.available` lists what a user may trigger from the current state, for showing buttons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from fund import audit
from fund.db import db, utcnow
from fund.errors import Conflict, FundError
from fund.models import APPLICANT, FUND_MANAGER, User

#: A guard looks at the object, the actor and the data of the request and returns the problems it finds.
Guard = Callable[[Any, User, dict], list[str]]
#: A hook runs after a transition, in the same transaction.
Hook = Callable[[Any, User, dict], None]

#: Who triggers the transitions of calls and applications: the fund manager or the applicant.
_FM = frozenset({FUND_MANAGER})
_APP = frozenset({APPLICANT})


@dataclass
class Transition:
    trigger: str
    sources: frozenset[str]
    target: str
    roles: frozenset[str]
    label: Any
    guards: list[Guard] = field(default_factory=list)
    hooks: list[Hook] = field(default_factory=list)
    #: The trigger must come with a message (e.g. what to revise); it is kept in the history and the audit.
    needs_message: bool = False


class Workflow:
    def __init__(self, entity: str, states: dict[str, Any], transitions: Iterable[Transition],
                 history: Callable[[Any, Transition, str, User, dict], None] | None = None):
        self.entity = entity
        self.states = states
        self.transitions: dict[str, Transition] = {}
        for t in transitions:
            unknown = (set(t.sources) | {t.target}) - set(states)
            if unknown:
                raise ValueError(f"{entity} transition {t.trigger} names unknown states {unknown}")
            self.transitions[t.trigger] = t
        self.history = history

    def __getitem__(self, trigger: str) -> Transition:
        return self.transitions[trigger]

    def add_guard(self, trigger: str, guard: Guard) -> None:
        self.transitions[trigger].guards.append(guard)

    def add_hook(self, trigger: str, hook: Hook) -> None:
        self.transitions[trigger].hooks.append(hook)

    def label(self, state: str) -> str:
        return str(self.states.get(state, state))

    def can_trigger(self, obj: Any, trigger: str, user: User) -> bool:
        t = self.transitions.get(trigger)
        return bool(t and obj.status in t.sources and user.has_any_role(*t.roles))

    def available(self, obj: Any, user: User) -> list[Transition]:
        """The transitions ``user`` may trigger from the object's current state (guards not evaluated)."""
        return [t for t in self.transitions.values() if obj.status in t.sources and user.has_any_role(*t.roles)]

    def problems(self, obj: Any, trigger: str, actor: User, data: dict | None = None) -> list[str]:
        t = self.transitions[trigger]
        data = data or {}
        found: list[str] = []
        if t.needs_message and not (data.get("message") or "").strip():
            found.append(_("Write a message that says what is needed."))
        for guard in t.guards:
            found.extend(guard(obj, actor, data) or [])
        return found

    def fire(self, obj: Any, trigger: str, actor: User, **data: Any) -> Any:
        """Apply a transition (or raise, leaving the object unchanged). Never commits."""
        t = self.transitions.get(trigger)
        if t is None:
            raise FundError(_("Unknown action."), status=400)
        if obj.status not in t.sources:
            raise Conflict(
                _("This is not possible while the status is “%(status)s”.", status=self.label(obj.status)),
                code="invalid_transition",
            )
        if actor is None or not actor.has_any_role(*t.roles):
            raise FundError(_("You are not allowed to do this."), status=403, code="forbidden")
        found = self.problems(obj, trigger, actor, data)
        if found:
            raise FundError(" ".join(found), fields={"_schema": found}, code="guard_failed")
        old = obj.status
        obj.status = t.target
        db.session.flush()
        if self.history:
            self.history(obj, t, old, actor, data)
        changes = {"status": [old, t.target]}
        if data.get("message"):
            changes["message"] = [None, data["message"]]
        audit.record(f"{self.entity}.{trigger}", obj, actor=actor,
                     summary=f"{self.entity} {obj.id}: {old} -> {t.target} ({trigger})", changes=changes)
        for hook in t.hooks:
            hook(obj, actor, data)
        return obj


# Calls for proposals -----------------------------------------------------------------------------------------

CALL_STATES = {
    "draft": _l("Draft"),
    "open": _l("Open"),
    "closed": _l("Closed"),
    "decided": _l("Decided"),
}


def _call_ready_to_open(call, actor, data) -> list[str]:
    found = []
    if sum(c.weight for c in call.criteria) != 100:
        found.append(_("The weights of the assessment criteria must add up to 100."))
    if call.closes_at <= utcnow():
        found.append(_("The closing date is in the past."))
    return found


CALL_WORKFLOW = Workflow("call", CALL_STATES, [
    Transition("open", frozenset({"draft"}), "open", _FM, _l("Open the call"), guards=[_call_ready_to_open]),
    Transition("close", frozenset({"open"}), "closed", _FM, _l("Close the call")),
    Transition("decide", frozenset({"closed"}), "decided", _FM, _l("Mark the call as decided")),
])


# Applications ------------------------------------------------------------------------------------------------

APPLICATION_STATES = {
    "draft": _l("Draft"),
    "submitted": _l("Submitted"),
    "returned": _l("Returned for revision"),
    "eligible": _l("Eligible"),
    "ineligible": _l("Ineligible"),
    "under_review": _l("Under review"),
    "recommended": _l("Recommended"),
    "not_recommended": _l("Not recommended"),
    "reserve": _l("Reserve list"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "withdrawn": _l("Withdrawn"),
}
#: States in which the organisation may change its application.
EDITABLE = frozenset({"draft", "returned"})
#: States before a decision, from which the applicant may withdraw.
WITHDRAWABLE = frozenset({"draft", "submitted", "returned", "eligible", "under_review", "recommended",
                          "not_recommended", "reserve"})

#: What applicants see: plain names that do not reveal the steps of the assessment.
APPLICANT_STATUS = {
    "draft": "draft",
    "returned": "returned",
    "withdrawn": "withdrawn",
    "submitted": "received",
    "eligible": "under_assessment",
    "under_review": "under_assessment",
    "recommended": "under_assessment",
    "not_recommended": "under_assessment",
    "reserve": "under_assessment",
    "ineligible": "decision",
    "approved": "decision",
    "rejected": "decision",
}
APPLICANT_STATUS_LABELS = {
    "draft": _l("Draft"),
    "returned": _l("Returned for revision"),
    "received": lazy_pgettext("application", "Received"),
    "under_assessment": _l("Under assessment"),
    "decision": _l("Decision"),
    "withdrawn": _l("Withdrawn"),
}


def applicant_status(status: str) -> str:
    return APPLICANT_STATUS[status]


def states_for_applicant_status(public: str) -> list[str]:
    return [s for s, p in APPLICANT_STATUS.items() if p == public]


def _application_history(application, transition: Transition, old: str, actor: User, data: dict) -> None:
    from grants.models import ApplicationEvent

    db.session.add(ApplicationEvent(
        application_id=application.id, trigger=transition.trigger, from_status=old, to_status=transition.target,
        actor_id=getattr(actor, "id", None), message=(data.get("message") or None),
    ))
    db.session.flush()


def _call_open_now(application, actor, data) -> list[str]:
    """Submissions are accepted only while the call is open by the server's clock."""
    from fund.templating import datetime_text as format_datetime  # to the minute, with the time zone

    call, now = application.call, data.get("now") or utcnow()
    if call.is_open_at(now):
        return []
    if call.status == "open" and now < call.opens_at:
        return [_("The call is not open yet: it opens on %(date)s.", date=format_datetime(call.opens_at))]
    return [_("The call closed on %(date)s: applications can no longer be submitted.",
              date=format_datetime(call.closes_at))]


def _application_complete(application, actor, data) -> list[str]:
    from grants.checklist import missing

    found = missing(application)
    if found:
        return [_("The application is not complete.")] + found
    return []


APPLICATION_WORKFLOW = Workflow("application", APPLICATION_STATES, [
    # The organisation
    Transition("submit", frozenset({"draft", "returned"}), "submitted", _APP, _l("Submit the application"),
               guards=[_call_open_now, _application_complete]),
    Transition("withdraw", WITHDRAWABLE, "withdrawn", _APP, _l("Withdraw the application")),
    # The fund's secretariat: screening (the guards and screens come with the screening feature)
    Transition("return", frozenset({"submitted"}), "returned", _FM, _l("Return for revision"), needs_message=True),
    Transition("declare_eligible", frozenset({"submitted"}), "eligible", _FM, _l("Declare eligible")),
    Transition("declare_ineligible", frozenset({"submitted"}), "ineligible", _FM, _l("Declare ineligible"),
               needs_message=True),
    # Technical review and the Board's decision
    Transition("start_review", frozenset({"eligible"}), "under_review", _FM, _l("Start the technical review")),
    Transition("recommend", frozenset({"under_review"}), "recommended", _FM, _l("Recommend")),
    Transition("not_recommend", frozenset({"under_review"}), "not_recommended", _FM, _l("Do not recommend")),
    Transition("reserve", frozenset({"under_review"}), "reserve", _FM, _l("Put on the reserve list")),
    Transition("approve", frozenset({"recommended", "reserve"}), "approved", _FM, _l("Approve")),
    Transition("reject", frozenset({"recommended", "not_recommended", "reserve"}), "rejected", _FM, _l("Reject")),
], history=_application_history)
