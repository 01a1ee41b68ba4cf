"""The blueprint of the grants-awarded pages, who reads them, a refusal as form errors, and money typed in a form."""

from __future__ import annotations

from flask import Blueprint, request

from fund.db import db
from fund.errors import FundError
from fund.models import ADMIN, APPLICANT, AUDITOR, FINANCE_OFFICER, FUND_MANAGER
from grants.views import flatten_errors, number

bp = Blueprint("grants_awards", __name__, url_prefix="/grants/awards")

GRANT_READERS = (APPLICANT, FUND_MANAGER, FINANCE_OFFICER, ADMIN, AUDITOR)
STAFF_READERS = (FUND_MANAGER, FINANCE_OFFICER, ADMIN, AUDITOR)
FINANCE_READERS = (FINANCE_OFFICER, FUND_MANAGER, ADMIN, AUDITOR)


def errors_of(exc: FundError) -> dict:
    """A refusal as the errors a page shows: beside its fields, or above the form (``_action``)."""
    if exc.fields:
        return flatten_errors(exc.fields)
    return {"_action": [exc.message]}


def money_form(*names) -> dict:
    """The posted form without its empty fields, the amounts ``names`` read as numbers."""
    data = {k: v.strip() for k, v in request.form.items() if v.strip() != ""}
    for name in names:
        if name in data:
            data[name] = number(data[name])
    return data


def refused(exc: FundError, *, passes: tuple[int, ...] = (403,)) -> FundError:
    """A refused action that its page shows again, the transaction rolled back. The refusals in ``passes`` have
    an error page of their own (403: someone else's object; 413: a file too large) and are raised again."""
    if exc.status in passes:
        raise exc
    db.session.rollback()
    return exc
