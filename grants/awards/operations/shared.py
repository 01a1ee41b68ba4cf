"""The pieces every write about a grant uses: the schedule's constants, dates and amounts split to the cent,
the fund lock and row locks, stored documents, and the messages to the grantee.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import select

from fund import audit
from fund.accounting import ledger
from fund.db import db
from fund.errors import FundError
from fund.i18n import translate as _
from fund.models import User
from fund.money import MoneyError, to_decimal
from fund.uploads import check_upload
from fund.views import external_url
from grants.awards.models import INTERIM_ACCEPTED, SIGNATURE, Grant, GrantNumberCounter
from grants.awards.workflow import GRANT_STATES
from grants.downloads import translate_upload_errors
from grants.models import take_next

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
#: The default tranche schedule: (percent of the award, condition).
DEFAULT_SCHEDULE: tuple[tuple[Decimal, str], ...] = ((Decimal(70), SIGNATURE), (Decimal(30), INTERIM_ACCEPTED))
FINAL_REPORT_DAYS = 60
#: Days after the interim report is due that the second tranche is expected (for the cash forecast).
TRANCHE_AFTER_REPORT_DAYS = 30


# Dates and amounts --------------------------------------------------------------------------------------------

def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def split_largest_remainder(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split ``total`` (USD) in proportion to ``weights`` so that the parts sum exactly to it: every part gets
    its share rounded down to the cent, and the cents left over go one each to the largest remainders (the
    earlier part first on a tie)."""
    cents = int((total / CENT).to_integral_value())
    weight_sum = sum(weights, Decimal(0))
    if cents <= 0 or weight_sum <= 0 or any(w <= 0 for w in weights):
        raise ValueError("a positive total and positive weights are needed")
    exact = [Decimal(cents) * w / weight_sum for w in weights]
    floors = [int(x.to_integral_value(rounding=ROUND_FLOOR)) for x in exact]
    left = cents - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [Decimal(c) * CENT for c in floors]


def approved_budget(award: Decimal, requested: Sequence[Decimal]) -> list[Decimal]:
    """The approved budget lines of an award: the requested lines when they add up to it; otherwise (the Board
    approved less, or more, than was asked) every line scaled by award / requested total, to the cent by the
    largest remainder, so that the lines add up exactly to the award and keep their shares. Lines of zero stay
    zero; a budget with nothing requested is left as it is (it must then be revised before the agreement)."""
    requested = [Decimal(a) for a in requested]
    total = sum(requested, ZERO)
    if total == award or total <= 0:
        return requested
    positive = [i for i, a in enumerate(requested) if a > 0]
    parts = split_largest_remainder(award, [requested[i] for i in positive])
    scaled = [ZERO] * len(requested)
    for i, part in zip(positive, parts, strict=True):
        scaled[i] = part
    return scaled


def next_grant_number(year: int) -> str:
    """VTF/<year>/<sequence>, the sequence taken atomically (:func:`grants.models.take_next`), so concurrent
    approvals never share a number."""
    return f"VTF/{year}/{take_next(GrantNumberCounter, year=year):03d}"


def usd_amount(value, field: str = "amount_usd") -> Decimal:
    """An award in US dollars, given by a caller: a positive amount to the cent, refused beside ``field``."""
    try:
        amount = to_decimal(value)
    except MoneyError as exc:
        raise FundError(_("Not a valid amount."), fields={field: [_("Not a valid amount.")]}) from exc
    if amount <= 0:
        raise FundError(_("The amount must be greater than zero."), fields={field: [_("Must be greater than zero.")]})
    if amount != amount.quantize(CENT):
        message = _("%(currency)s amounts have at most %(places)d decimal places.", currency="USD", places=2)
        raise FundError(message, fields={field: [message]})
    return amount.quantize(CENT)


# Locks and shared helpers -------------------------------------------------------------------------------------

def relock(obj):
    """Take the fund lock, then re-read ``obj`` so that decisions rest on committed state."""
    ledger.lock_fund()
    db.session.refresh(obj)
    return obj


def lock_row(obj):
    """Re-read one row under a row lock (PostgreSQL; SQLite transactions already hold the write lock)."""
    model = type(obj)
    db.session.execute(select(model.id).where(model.id == obj.id).with_for_update())
    db.session.refresh(obj)
    return obj


def store_document(grant: Grant, upload, kind: str, actor: User):
    from grants.operations import _store

    return _store(upload, organisation_id=grant.organisation_id, application_id=grant.application_id,
                          kind=kind, actor=actor)


def attach_document(grant: Grant, row, column: str, upload, kind: str, actor: User, *, action: str, summary):
    """Store an upload as the grant's document of ``kind``, name it in ``row``'s ``column`` and record the change
    in the audit trail (``summary(doc)`` is its sentence). Returns the stored document."""
    doc = store_document(grant, upload, kind, actor)
    old = getattr(row, column)
    setattr(row, column, doc.id)
    db.session.flush()
    audit.record(action, row, actor=actor, summary=summary(doc),
                 changes={column: [old, doc.id], "sha256": [None, doc.sha256]})
    return doc


def checked_upload(file, field: str = "file"):
    """An uploaded file checked (type recognised from the content, size) before an operation stores it, its
    refusal in the words of the pages and the API, beside ``field``."""
    with translate_upload_errors(field):
        return check_upload(file, field=field)


def grant_members(grant: Grant) -> list[tuple[str, str]]:
    """(e-mail, language) of everyone who should hear about a grant: the organisation's active users and its
    contact address."""
    return grant.organisation.recipients()


def mail_grantee(grant: Grant, template: str, subject, **ctx) -> int:
    """Queue one message per recipient in the recipient's language (``subject`` is a callable returning the
    subject in the current locale). Returns how many were queued."""
    from flask import render_template
    from flask_babel import force_locale

    from fund.mail import queue_mail

    link = external_url("grants_awards.grant_detail", grant_id=grant.id)
    count = 0
    for email, language in grant_members(grant):
        with force_locale(language):
            body = render_template(f"grants/awards/mail/{template}.txt", grant=grant, link=link, **ctx)
            queue_mail(email, str(subject()), body=body, kind=f"grants:{template}")
        count += 1
    return count


def grant_status_label(status: str) -> str:
    return str(GRANT_STATES.get(status, status))
