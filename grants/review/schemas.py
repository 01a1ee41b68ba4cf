"""marshmallow schemas of screening, reviews and decisions: input (forms and API) and output (API)."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from fund.schemas import Amount, DecimalString, Id, InSchema, PageMeta, PageQuery, QuerySchema, Sort
from grants.review.models import (
    COI_CONFLICT,
    COI_NONE,
    COI_PENDING,
    DECISION_OUTCOMES,
    ITEM_RESULTS,
    RECOMMENDATIONS,
    SANCTIONS_KINDS,
    SCREENING_ITEMS,
    SCREENING_OUTCOMES,
    Review,
)
from grants.review.ranking import SORT_KEYS
from grants.review.workflow import REVIEW_STATES
from grants.schemas import CriterionOut
from grants.workflow import APPLICATION_STATES

COI_VALUES = [COI_PENDING, COI_NONE, COI_CONFLICT]

TEXT = validate.Length(max=5000)


# Screening ----------------------------------------------------------------------------------------------------

class ScreeningItemIn(InSchema):
    result = fields.String(required=True, validate=validate.OneOf(ITEM_RESULTS),
                           error_messages={"required": "Choose pass, fail or needs information."})
    note = fields.String(load_default=None, allow_none=True, validate=TEXT)


class ScreeningIn(InSchema):
    """Every item of the checklist, and optionally the outcome (with the message to the organisation when the
    application is declared ineligible or returned for information)."""

    items = fields.Dict(keys=fields.String(validate=validate.OneOf(SCREENING_ITEMS)),
                        values=fields.Nested(ScreeningItemIn), required=True)
    outcome = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(SCREENING_OUTCOMES))
    message = fields.String(load_default=None, allow_none=True, validate=TEXT)

    @validates_schema
    def _all_items(self, data, **kwargs):
        missing = [code for code in SCREENING_ITEMS if code not in data.get("items", {})]
        if missing:
            message = str(_l("Choose pass, fail or needs information."))
            raise ValidationError({code: {"result": [message]} for code in missing}, field_name="items")


class ScreeningItemOut(Schema):
    code = fields.String(validate=validate.OneOf(SCREENING_ITEMS))
    label = fields.String()
    result = fields.String(allow_none=True, validate=validate.OneOf(ITEM_RESULTS))
    note = fields.String(allow_none=True)
    suggested = fields.String(allow_none=True)
    suggestion_note = fields.String(allow_none=True)


class SanctionsMatchOut(Schema):
    field = fields.String()
    candidate = fields.String()
    listed_name = fields.String()
    entry_name = fields.String()
    reference_number = fields.String()
    kind = fields.String(validate=validate.OneOf(SANCTIONS_KINDS))
    alias = fields.Boolean()
    exact = fields.Boolean()


class ScreeningOut(Schema):
    application_id = fields.Integer()
    application_status = fields.String(validate=validate.OneOf(list(APPLICATION_STATES)))
    outcome = fields.String(allow_none=True, validate=validate.OneOf(SCREENING_OUTCOMES))
    message = fields.String(allow_none=True)
    items = fields.List(fields.Nested(ScreeningItemOut))
    sanctions_list_imported = fields.Boolean()
    sanctions_matches = fields.List(fields.Nested(SanctionsMatchOut))
    updated_at = fields.DateTime(allow_none=True)


# Reviewers and reviews ----------------------------------------------------------------------------------------

class ReviewersIn(InSchema):
    user_ids = fields.List(Id(strict=True), required=True, validate=validate.Length(min=1, max=20))


class AssignmentOut(Schema):
    id = fields.Integer()
    reviewer_id = fields.Integer()
    reviewer_name = fields.String(allow_none=True)
    reviewer_email = fields.String()
    status = fields.String(validate=validate.OneOf(list(REVIEW_STATES)))
    conflict_of_interest = fields.String(validate=validate.OneOf(COI_VALUES))
    conflict_reason = fields.String(allow_none=True)
    declared_at = fields.DateTime(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)


class AssignmentsOut(Schema):
    application_id = fields.Integer()
    application_status = fields.String(validate=validate.OneOf(list(APPLICATION_STATES)))
    min_reviewers = fields.Integer()
    reviewers = fields.List(fields.Nested(AssignmentOut))


class BulkAssignmentIn(InSchema):
    """Reviewers to assign to applications of one call: the ``application_ids`` named, or with
    ``all_screened_in`` every application of the call that is eligible or under review (give one or the
    other)."""

    user_ids = fields.List(Id(strict=True), required=True, validate=validate.Length(min=1, max=50),
                           metadata={"description": "Users with the reviewer role."})
    application_ids = fields.List(Id(strict=True), load_default=None, validate=validate.Length(min=1, max=500))
    all_screened_in = fields.Boolean(load_default=False,
                                     metadata={"description": "Every eligible application, or one under review, "
                                                              "of the call."})

    @validates_schema
    def _one_or_the_other(self, data, **kwargs):
        if data.get("all_screened_in") and data.get("application_ids") is not None:
            raise ValidationError(str(_l("Choose applications or all the screened-in applications, not both.")),
                                  field_name="application_ids")
        if not data.get("all_screened_in") and data.get("application_ids") is None:
            raise ValidationError(str(_l("Choose at least one application.")), field_name="application_ids")


class BulkAssignmentCreatedOut(Schema):
    id = fields.Integer()
    application_id = fields.Integer()
    reviewer_id = fields.Integer()


class BulkAssignmentApplicationOut(Schema):
    application_id = fields.Integer()
    reference = fields.String(allow_none=True)
    application_status = fields.String()
    reviewers = fields.Integer(metadata={"description": "Reviewers assigned, recused ones excluded."})


class BulkAssignmentOut(Schema):
    call_id = fields.Integer()
    created = fields.List(fields.Nested(BulkAssignmentCreatedOut))
    already_assigned = fields.Integer(metadata={"description": "Pairs already in place, left as they were."})
    applications = fields.List(fields.Nested(BulkAssignmentApplicationOut))


class ConflictIn(InSchema):
    conflict = fields.Boolean(required=True)
    reason = fields.String(load_default=None, allow_none=True, validate=TEXT)

    @validates_schema
    def _reason(self, data, **kwargs):
        if data.get("conflict") and not (data.get("reason") or "").strip():
            raise ValidationError(str(_l("Say what the conflict of interest is.")), field_name="reason")


class ReviewIn(InSchema):
    """Any of: scores and comments per criterion id, the recommendation, a general comment."""

    scores = fields.Dict(keys=Id(), values=fields.Integer(strict=True, allow_none=True,
                                                                     validate=validate.Range(min=1, max=5)))
    comments = fields.Dict(keys=Id(), values=fields.String(allow_none=True, validate=TEXT))
    recommendation = fields.String(allow_none=True, validate=validate.OneOf(RECOMMENDATIONS))
    general_comment = fields.String(allow_none=True, validate=TEXT)


class CriterionFigureOut(CriterionOut):
    """An assessment criterion of the call (as the call shows it), named by ``criterion_id`` beside the figures that
    belong to it: a review's score, the ranking's mean and spread."""

    id = fields.Integer(attribute="criterion_id", data_key="criterion_id")


class ReviewScoreOut(CriterionFigureOut):
    score = fields.Integer(allow_none=True)
    comment = fields.String(allow_none=True)


class ReviewApplicationOut(Schema):
    id = fields.Integer()
    reference = fields.String(allow_none=True)
    organisation = fields.String()
    country = fields.String()
    call_id = fields.Integer()
    call_title = fields.String()
    project_title = fields.String(allow_none=True)
    summary = fields.String(allow_none=True)
    requested_amount = Amount()
    currency = fields.String()


class ReviewOut(Schema):
    """A reviewer's own review. Application content and scores appear only after they declared no conflict;
    other reviewers' scores never appear."""

    id = fields.Integer()
    application = fields.Nested(ReviewApplicationOut)
    status = fields.String(validate=validate.OneOf(list(REVIEW_STATES)))
    conflict_of_interest = fields.String(validate=validate.OneOf(COI_VALUES))
    declared_at = fields.DateTime(allow_none=True)
    scores = fields.List(fields.Nested(ReviewScoreOut), allow_none=True)
    recommendation = fields.String(allow_none=True, validate=validate.OneOf(RECOMMENDATIONS))
    general_comment = fields.String(allow_none=True)
    weighted_score = DecimalString(positive=False, allow_none=True)
    missing = fields.List(fields.String(), allow_none=True)
    saved_at = fields.DateTime(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)


class ReviewQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(list(REVIEW_STATES)))
    sort = Sort({"id": Review.id, "status": Review.status, "submitted_at": Review.submitted_at}, default="-id")


# Ranking ------------------------------------------------------------------------------------------------------

SORTS = ("rank", "score", "reference", "organisation", "requested", "status", "reviews")


def _one_to_five(value: Decimal) -> None:
    if not 1 <= value <= 5:
        raise ValidationError("Must be between 1 and 5.")


class RankingQuery(PageQuery):
    """The ranking table's parameters (the portal page takes the same ones)."""

    sort = fields.String(load_default="rank", validate=validate.OneOf(SORTS))
    direction = fields.String(load_default="asc", validate=validate.OneOf(["asc", "desc"]))
    status = fields.String(load_default=None, validate=validate.OneOf(list(APPLICATION_STATES)))
    disagreement = fields.Boolean(load_default=False)
    min_score = DecimalString(load_default=None, validate=_one_to_five,
                              metadata={"description": "A weighted score from 1 to 5, such as \"3.5\"."})
    q = fields.String(load_default=None, validate=validate.Length(max=200))


class RankingListQuery(RankingQuery):
    """The ranking through the API: the portal's filters, and ``sort`` as every API list takes it."""

    class Meta:
        exclude = ("direction",)

    sort = Sort({name: key or (lambda row, name=name: getattr(row, name)) for name, key in SORT_KEYS.items()},
                default="rank", max_keys=1)


class RankingCriterionOut(CriterionFigureOut):
    mean = DecimalString(positive=False, allow_none=True)
    low = fields.Integer(allow_none=True)
    high = fields.Integer(allow_none=True)
    disagreement = fields.Boolean()


class RankingRowOut(Schema):
    rank = fields.Integer(allow_none=True)
    application_id = fields.Integer()
    reference = fields.String(allow_none=True)
    organisation = fields.String()
    project_title = fields.String(allow_none=True)
    requested_amount = Amount()
    currency = fields.String()
    status = fields.String(validate=validate.OneOf(list(APPLICATION_STATES)))
    score = DecimalString(positive=False, allow_none=True)
    reviewer_scores = fields.List(DecimalString(positive=False))
    reviews_submitted = fields.Integer()
    reviewers_assigned = fields.Integer()
    reviewers_recused = fields.Integer()
    disagreement = fields.Boolean()
    criteria = fields.List(fields.Nested(RankingCriterionOut))


class RankingOut(Schema):
    call_id = fields.Integer()
    items = fields.List(fields.Nested(RankingRowOut))
    meta = fields.Nested(PageMeta)


# Decisions ----------------------------------------------------------------------------------------------------

class DecisionIn(InSchema):
    """approved (with ``amount``), reserve, or rejected (with ``reason``). ``reason`` also records why a
    reserve-list application is approved before a better-ranked one."""

    outcome = fields.String(required=True, validate=validate.OneOf(DECISION_OUTCOMES))
    amount = Amount(load_default=None, allow_none=True)
    reason = fields.String(load_default=None, allow_none=True, validate=TEXT)

    @validates_schema
    def _needs(self, data, **kwargs):
        if data.get("outcome") == "approved":
            if data.get("amount") is None:
                raise ValidationError(str(_l("Give the amount approved.")), field_name="amount")
            if data["amount"] != data["amount"].quantize(Decimal("0.01")):
                raise ValidationError(str(_l("At most 2 decimal places.")), field_name="amount")
        elif data.get("amount") is not None:
            raise ValidationError(str(_l("An amount is given only with an approval.")), field_name="amount")
        if data.get("outcome") == "rejected" and not (data.get("reason") or "").strip():
            raise ValidationError(str(_l("Give the reason for the rejection.")), field_name="reason")


class DecisionOut(Schema):
    id = fields.Integer()
    application_id = fields.Integer()
    application_status = fields.String(validate=validate.OneOf(list(APPLICATION_STATES)))
    outcome = fields.String(validate=validate.OneOf(DECISION_OUTCOMES))
    amount = Amount(allow_none=True)
    currency = fields.String()
    reason = fields.String(allow_none=True)
    out_of_order_reason = fields.String(allow_none=True)
    score = DecimalString(positive=False, allow_none=True)
    grant_id = fields.Integer(allow_none=True)
    decided_at = fields.DateTime()


class MinReviewersIn(InSchema):
    min_reviewers = fields.Integer(required=True, validate=validate.Range(min=1, max=10))
    csrf_token = fields.String()


class ReviewSettingsIn(MinReviewersIn):
    """The call's review settings form: the minimum number of reviewers and the review deadline (empty: none)."""

    review_deadline = fields.Date(load_default=None, allow_none=True)


class ReviewSettingsApiIn(InSchema):
    """A call's review settings, replaced as a whole: ``review_deadline`` absent or null means no deadline."""

    min_reviewers = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10),
                                   metadata={"description": "Reviewers each application needs (recused ones do not "
                                                            "count)."})
    review_deadline = fields.Date(load_default=None, allow_none=True,
                                  metadata={"description": "The last day reviewers may be assigned."})


class ReviewSettingsOut(Schema):
    call_id = fields.Integer()
    min_reviewers = fields.Integer()
    review_deadline = fields.Date(allow_none=True)
    deadline_passed = fields.Boolean()


class CallFilterQuery(QuerySchema):
    call_id = Id(load_default=None)
