"""The words of the selection, in the reader's language (lazy strings, for pages, mail and PDFs)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from grants.review.workflow import REVIEW_STATES as REVIEW_STATUS_LABELS  # noqa: F401  (one list of states)

ITEM_LABELS = {
    "registered_nonprofit": _l("Registered non-profit for at least one year"),
    "applies_directly": _l("Applies directly, not as an intermediary"),
    "own_bank_account": _l("Bank account in the organisation's own name"),
    "safeguarding_policy": _l("Safeguarding / PSEA policy"),
    "direct_assistance": _l("At least one year of direct assistance to victims"),
    "not_sanctioned": _l("Not on the UN Security Council consolidated sanctions list"),
    "budget_within_limits": _l("Budget within the call's limits"),
}
RESULT_LABELS = {"pass": _l("Pass"), "fail": _l("Fail"), "needs_info": _l("Needs information")}
OUTCOME_LABELS = {"eligible": _l("Eligible"), "ineligible": _l("Ineligible"),
                  "returned": _l("Returned for information")}
SANCTIONS_FIELDS = {"name": _l("Organisation name"), "bank_account_holder": _l("Account holder"),
                    "contact_name": _l("Contact person")}
RECOMMENDATION_LABELS = {"fund": _l("Fund"), "fund_with_changes": _l("Fund with changes"),
                         "reserve": _l("Reserve list"), "do_not_fund": _l("Do not fund")}
#: The scoring scale of every criterion, shown on the review form.
SCORE_LABELS = {1: lazy_pgettext("score", "Poor"), 2: lazy_pgettext("score", "Weak"),
                3: lazy_pgettext("score", "Adequate"), 4: lazy_pgettext("score", "Good"),
                5: lazy_pgettext("score", "Excellent")}
DECISION_LABELS = {"approved": _l("Approved"), "reserve": _l("Reserve list"), "rejected": _l("Rejected")}
COI_LABELS = {"pending": _l("Not declared yet"), "none": _l("No conflict"),
              "conflict": _l("Conflict declared: recused")}
