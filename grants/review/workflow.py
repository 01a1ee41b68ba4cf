"""The state machine of a review (one reviewer's assignment to one application), declared in one place.

assigned --start--> draft --submit--> submitted; assigned or draft --declare_conflict--> recused. Only the
reviewer triggers them; :meth:`grants.workflow.Workflow.fire` checks the source state and the role, writes the
audit event and is the only code that assigns ``Review.status``.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from fund.models import REVIEWER
from grants.workflow import Transition, Workflow

REVIEW_STATES = {
    "assigned": _l("To do"),
    "draft": _l("Saved, not submitted"),
    "submitted": _l("Submitted"),
    "recused": _l("Recused"),
}

_REVIEWER = frozenset({REVIEWER})

REVIEW_WORKFLOW = Workflow("review", REVIEW_STATES, [
    Transition("start", frozenset({"assigned"}), "draft", _REVIEWER, _l("Save the first scores")),
    Transition("submit", frozenset({"draft"}), "submitted", _REVIEWER, _l("Submit the review")),
    Transition("declare_conflict", frozenset({"assigned", "draft"}), "recused", _REVIEWER,
               _l("Declare a conflict of interest"), needs_message=True),
])
