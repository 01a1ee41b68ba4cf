"""Every write about grants: creation on approval, agreement, tranches, disbursements, reports, refunds, closure.

Operations take objects and validated data, check the domain rules, write, audit in the same transaction and
flush; they never commit. Anything that moves or reserves money takes the fund lock first
(:func:`fund.accounting.ledger.lock_fund`: ``SELECT ... FOR UPDATE`` on PostgreSQL, the ``BEGIN IMMEDIATE`` write lock on
SQLite) and re-reads the rows it decides on, so concurrent requests see each other's committed work and
money never leaves twice, early, or past the award.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from fund import audit
from fund.accounting import ledger
from fund.accounting.figures import grant_figures
from fund.db import db, utcnow
from fund.errors import Conflict, FundError
from fund.i18n import translate as _
from fund.models import User
from fund.money import MoneyError, to_decimal
from grants.awards.models import (
    FINAL,
    INTERIM,
    INTERIM_ACCEPTED,
    SIGNATURE,
    Disbursement,
    Grant,
    GrantBudgetLine,
    GrantNumberCounter,
    GrantReport,
    Tranche,
)
from grants.models import Application

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


def _next_number(year: int) -> str:
    """VTF/<year>/<sequence>: an insert-if-missing then one atomic UPDATE ... RETURNING, so concurrent approvals
    never share a number."""
    table = GrantNumberCounter.__table__
    dialect_insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(dialect_insert(table).values(year=year, last=0).on_conflict_do_nothing(
        index_elements=["year"]))
    seq = db.session.execute(
        update(table).where(table.c.year == year).values(last=table.c.last + 1).returning(table.c.last)
    ).scalar_one()
    return f"VTF/{year}/{seq:03d}"


def _usd(value, field: str = "amount_usd") -> Decimal:
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


# Creation (called by the Board's approval) ---------------------------------------------------------------------

def create_grant(application: Application, amount_usd: Decimal, *, actor: User,
                 schedule: Sequence[tuple[Decimal, str]] | None = None) -> Grant:
    """Create the grant of an approved application and commit its money in the ledger.

    The grant starts "pending_signature" with the next number of the year (VTF/2027/014), the organisation,
    the amount, start and end dates from the application, the application's budget lines as the approved
    budget (scaled to the award when the Board approved another amount than requested: :func:`approved_budget`),
    the tranche schedule (default 70 % on signature, 30 % after the interim report is accepted, split by
    largest remainder so the tranches sum exactly to the award) and the report schedule (interim at mid-term,
    final within 60 days of the end). The commitment is posted with :func:`fund.accounting.ledger.commit_grant`: a
    :class:`Conflict` (409) when it exceeds the available balance, and then nothing of the grant is written
    (the work runs in a savepoint). The application's own workflow is left to the caller."""
    amount = _usd(amount_usd)
    if application.status not in ("recommended", "reserve", "approved"):
        raise Conflict(_("Only a recommended, reserve-listed or approved application can become a grant."),
                       code="not_approvable")
    ledger.lock_fund()  # the fund lock before anything else, as the ledger functions take it
    existing = db.session.execute(select(Grant.id).where(Grant.application_id == application.id)).first()
    if existing is not None:
        raise Conflict(_("This application already has a grant."), code="grant_exists")
    with db.session.begin_nested():
        grant = _build_grant(application, amount, actor, schedule or DEFAULT_SCHEDULE)
        entry = ledger.commit_grant(grant.id, amount, actor=actor,
                                    description=f"Grant {grant.number} committed")
    audit.record("grant.create", grant, actor=actor,
                 summary=f"Grant {grant.number} of USD {amount} to organisation {grant.organisation_id} "
                         f"(application {application.id}); commitment posted as ledger entry {entry.id}",
                 changes={"number": [None, grant.number], "amount": [None, str(amount)],
                          "status": [None, grant.status],
                          "budget": [[str(line.total) for line in application.budget_lines],
                                     [str(b.amount) for b in grant.budget_lines]],
                          "tranches": [None, [[t.number, str(t.amount), t.condition] for t in grant.tranches]],
                          "reports": [None, [[r.kind, r.due_on.isoformat()] for r in grant.reports]]})
    return grant


def _build_grant(application: Application, amount: Decimal, actor: User,
                 schedule: Sequence[tuple[Decimal, str]]) -> Grant:
    start = application.start_date or utcnow().date()
    months = application.duration_months or 12
    end = add_months(start, months) - dt.timedelta(days=1)
    mid = start + (end - start) / 2
    grant = Grant(
        number=_next_number(utcnow().year), application_id=application.id,
        organisation_id=application.organisation_id, title=application.project_title or application.reference or "",
        currency="USD", amount=amount, start_date=start, end_date=end, status="pending_signature",
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(grant)
    amounts = approved_budget(amount, [line.total for line in application.budget_lines])
    for pos, (line, approved) in enumerate(zip(application.budget_lines, amounts, strict=True), start=1):
        grant.budget_lines.append(GrantBudgetLine(position=pos, category=line.category,
                                                  description=line.description, amount=approved))
    grant.reports.extend([
        GrantReport(kind=INTERIM, status="due", period_start=start, period_end=mid - dt.timedelta(days=1),
                    due_on=mid, currency="USD"),
        GrantReport(kind=FINAL, status="due", period_start=mid, period_end=end,
                    due_on=end + dt.timedelta(days=FINAL_REPORT_DAYS), currency="USD"),
    ])
    _set_tranches(grant, schedule)
    db.session.flush()
    return grant


def _expected_on(grant: Grant, condition: str) -> dt.date:
    if condition == SIGNATURE:
        return grant.start_date
    report = grant.report(INTERIM if condition == INTERIM_ACCEPTED else FINAL)
    return report.due_on + dt.timedelta(days=TRANCHE_AFTER_REPORT_DAYS)


def _set_tranches(grant: Grant, schedule: Sequence[tuple[Decimal, str]]) -> None:
    amounts = split_largest_remainder(grant.amount, [Decimal(p) for p, _c in schedule])
    grant.tranches.clear()
    grant.disbursements.clear()
    db.session.flush()
    for number, ((_p, condition), amount) in enumerate(zip(schedule, amounts, strict=True), start=1):
        tranche = Tranche(number=number, amount=amount, condition=condition,
                          expected_on=_expected_on(grant, condition))
        grant.tranches.append(tranche)
        grant.disbursements.append(Disbursement(tranche=tranche, amount=amount, currency="USD",
                                                status="scheduled"))
    db.session.flush()


def _status_label(status: str) -> str:
    from grants.awards.workflow import GRANT_STATES

    return str(GRANT_STATES.get(status, status))


# Locks and shared helpers -------------------------------------------------------------------------------------

def _relock(obj):
    """Take the fund lock, then re-read ``obj`` so that decisions rest on committed state."""
    ledger.lock_fund()
    db.session.refresh(obj)
    return obj


def _lock_row(obj):
    """Re-read one row under a row lock (PostgreSQL; SQLite transactions already hold the write lock)."""
    model = type(obj)
    db.session.execute(select(model.id).where(model.id == obj.id).with_for_update())
    db.session.refresh(obj)
    return obj


def _store(grant: Grant, upload, kind: str, actor: User):
    from grants.operations import _store as store_document

    return store_document(upload, organisation_id=grant.organisation_id, application_id=grant.application_id,
                          kind=kind, actor=actor)


def grant_members(grant: Grant) -> list[tuple[str, str]]:
    """(e-mail, language) of everyone who should hear about a grant: the organisation's active users and its
    contact address."""
    members = db.session.execute(
        select(User).where(User.organisation_id == grant.organisation_id, User.active.is_(True))
    ).scalars().all()
    recipients = {(u.email, u.language or "en") for u in members}
    contact = grant.organisation.contact_email
    if contact and contact not in {email for email, _lang in recipients}:
        recipients.add((contact, "en"))
    return sorted(recipients)


def external_url(endpoint: str, **values) -> str:
    """An absolute link, also outside a request (CLI jobs): SERVER_BASE_URL names the site then."""
    from flask import current_app, has_request_context, url_for

    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    with current_app.test_request_context(base_url=current_app.config.get("SERVER_BASE_URL") or None):
        return url_for(endpoint, _external=True, **values)


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


# The agreement ------------------------------------------------------------------------------------------------

def upload_signed_agreement(grant: Grant, upload, actor: User):
    """The organisation uploads its signed copy of the agreement (while the grant awaits signature)."""
    _lock_row(grant)
    if grant.status != "pending_signature":
        raise Conflict(_("The agreement can be uploaded only while the grant awaits signature."),
                       code="not_pending_signature")
    from grants.awards.agreement import check_agreement

    check_agreement(grant)
    doc = _store(grant, upload, "signed_agreement", actor)
    old = grant.signed_document_id
    grant.signed_document_id, grant.signed_at, grant.signed_by_id = doc.id, utcnow(), actor.id
    db.session.flush()
    audit.record("grant.agreement_signed", grant, actor=actor,
                 summary=f"Signed agreement of grant {grant.number} uploaded ({doc.filename}, {doc.sha256[:12]}…)",
                 changes={"signed_document_id": [old, doc.id], "sha256": [None, doc.sha256]})
    return doc


def countersign(grant: Grant, actor: User) -> Grant:
    """The fund manager countersigns: the grant becomes active, and its commitment is posted if it was not."""
    from grants.awards.workflow import GRANT_WORKFLOW

    _relock(grant)
    GRANT_WORKFLOW.fire(grant, "countersign", actor)
    grant.countersigned_at, grant.countersigned_by_id = utcnow(), actor.id
    figures = grant_figures(grant.id)
    needed = grant.amount - figures.committed
    if needed > 0:
        entry = ledger.commit_grant(grant.id, needed, actor=actor,
                                    description=f"Grant {grant.number} committed on countersignature")
        audit.record("grant.commitment", grant, actor=actor,
                     summary=f"Commitment of USD {needed} posted for grant {grant.number} (entry {entry.id})",
                     changes={"committed": [str(figures.committed), str(grant.amount)]})
    db.session.flush()
    return grant


def suspend(grant: Grant, actor: User, message: str) -> Grant:
    from grants.awards.workflow import GRANT_WORKFLOW

    _relock(grant)
    GRANT_WORKFLOW.fire(grant, "suspend", actor, message=message)
    mail_grantee(grant, "suspended", lambda: _("Grant %(number)s suspended", number=grant.number), message=message)
    return grant


def resume(grant: Grant, actor: User) -> Grant:
    from grants.awards.workflow import GRANT_WORKFLOW

    _relock(grant)
    return GRANT_WORKFLOW.fire(grant, "resume", actor)


def _wind_down(grant: Grant, actor: User, reason: str) -> None:
    """Cancel the disbursements that will not be paid and release what is left of the commitment."""
    from grants.awards.workflow import DISBURSEMENT_WORKFLOW

    for d in db.session.execute(select(Disbursement).where(
            Disbursement.grant_id == grant.id, Disbursement.status.in_(("scheduled", "requested", "approved")))
    ).scalars():
        DISBURSEMENT_WORKFLOW.fire(d, "cancel", actor, message=reason)
    remaining = grant_figures(grant.id).remaining
    if remaining > 0:
        ledger.release_commitment(grant.id, None, actor=actor,
                                  description=f"Commitment of grant {grant.number} released: {reason}")


def close(grant: Grant, actor: User) -> Grant:
    """Close a grant whose final report is accepted and whose payments and refunds reconcile with the reported
    expenditure; whatever is left of the commitment goes back to the available balance."""
    from grants.awards.workflow import GRANT_WORKFLOW

    _relock(grant)
    GRANT_WORKFLOW.fire(grant, "close", actor)
    _wind_down(grant, actor, "grant closed")
    grant.closed_at = utcnow()
    db.session.flush()
    mail_grantee(grant, "closed", lambda: _("Grant %(number)s closed", number=grant.number))
    return grant


def terminate(grant: Grant, actor: User, message: str) -> Grant:
    from grants.awards.workflow import GRANT_WORKFLOW

    _relock(grant)
    GRANT_WORKFLOW.fire(grant, "terminate", actor, message=message)
    _wind_down(grant, actor, "grant terminated")
    grant.closed_at = utcnow()
    db.session.flush()
    return grant


def set_tranches(grant: Grant, schedule: Sequence[tuple[Decimal, str]], actor: User) -> Grant:
    """Change the tranche schedule (percentages of the award and conditions) before any payment is requested."""
    _relock(grant)
    if grant.status not in ("pending_signature", "active"):
        raise Conflict(_("The tranches of a grant that is “%(status)s” cannot be changed.",
                         status=_status_label(grant.status)))
    started = db.session.execute(select(Disbursement.id).where(
        Disbursement.grant_id == grant.id, Disbursement.status.not_in(("scheduled", "cancelled")))).first()
    if started is not None:
        raise Conflict(_("Payments have been requested: the tranche schedule can no longer change."),
                       code="tranches_started")
    old = [[t.number, str(t.amount), t.condition] for t in grant.tranches]
    _set_tranches(grant, schedule)
    new = [[t.number, str(t.amount), t.condition] for t in grant.tranches]
    audit.record("grant.tranches", grant, actor=actor, summary=f"Tranche schedule of grant {grant.number} changed",
                 changes={"tranches": [old, new]})
    return grant


def revise_budget(grant: Grant, lines: list[dict], actor: User) -> Grant:
    """Revise the approved budget by agreement: lines kept (by ``id``), changed, added or removed; the revised
    budget adds up to the award. A line with reported expenditure cannot be removed."""
    from grants.awards.models import ReportExpense

    _lock_row(grant)
    if grant.status not in ("pending_signature", "active", "suspended"):
        raise Conflict(_("The budget of a grant that is “%(status)s” cannot be revised.",
                         status=_status_label(grant.status)), code="grant_not_open")
    total = sum((line["amount"] for line in lines), ZERO)
    if total != grant.amount:
        message = _("The revised budget adds up to USD %(total)s; it must add up to the award, USD %(award)s.",
                    total=total, award=grant.amount)
        raise FundError(message, fields={"lines": [message]})
    existing = {b.id: b for b in grant.budget_lines}
    kept = [line["id"] for line in lines if line.get("id") is not None]
    unknown = sorted(set(kept) - set(existing))
    if unknown or len(kept) != len(set(kept)):
        message = _("Lines %(ids)s are not lines of this grant's budget (or are given twice).",
                    ids=", ".join(str(i) for i in unknown) or "-")
        raise FundError(message, fields={"lines": [message]})
    removed = set(existing) - set(kept)
    reported = set(db.session.execute(select(ReportExpense.budget_line_id).where(
        ReportExpense.budget_line_id.in_(removed))).scalars()) if removed else set()
    if reported:
        raise Conflict(_("Budget lines with reported expenditure cannot be removed: %(lines)s.",
                         lines=", ".join(existing[i].description for i in sorted(reported))),
                       code="line_reported")
    old = [[b.id, b.category, b.description, str(b.amount)] for b in grant.budget_lines]
    for line_id in removed:
        grant.budget_lines.remove(existing[line_id])
    db.session.flush()
    for position, line in enumerate(lines, start=1):
        row = existing[line["id"]] if line.get("id") is not None else GrantBudgetLine()
        row.position, row.category, row.description, row.amount = (position, line["category"],
                                                                   line["description"], line["amount"])
        if line.get("id") is None:
            grant.budget_lines.append(row)
    db.session.flush()
    db.session.expire(grant, ["budget_lines"])
    new = [[b.id, b.category, b.description, str(b.amount)] for b in grant.budget_lines]
    audit.record("grant.budget_revised", grant, actor=actor, summary=f"Budget of grant {grant.number} revised",
                 changes={"budget_lines": [old, new]})
    return grant


# Disbursements ------------------------------------------------------------------------------------------------

def tranche_of(grant: Grant, number: int) -> Tranche:
    tranche = next((t for t in grant.tranches if t.number == number), None)
    if tranche is None:
        raise FundError(_("This grant has no tranche %(n)d.", n=number),
                        fields={"tranche": [_("This grant has tranches %(list)s.",
                                              list=", ".join(str(t.number) for t in grant.tranches))]})
    return tranche


def request_disbursement(grant: Grant, tranche_number: int, amount: Decimal, actor: User,
                         note: str | None = None) -> Disbursement:
    """A finance officer requests the payment of (part of) a tranche: the tranche's scheduled disbursement
    becomes "requested", or a new request is added for a further part of the tranche."""
    from grants.awards.workflow import DISBURSEMENT_WORKFLOW, committed_amounts

    amount = _usd(amount, "amount")
    _relock(grant)
    if grant.status != "active":
        raise Conflict(_("Payments are requested for active grants only (this one is “%(status)s”).",
                         status=_status_label(grant.status)), code="grant_not_active")
    tranche = tranche_of(grant, tranche_number)
    paid = committed_amounts(grant.id, tranche_id=tranche.id, statuses=("paid",))
    if amount > tranche.amount - paid:
        raise Conflict(_("At most USD %(left)s of tranche %(n)d is left to pay.", left=tranche.amount - paid,
                         n=tranche.number),
                       fields={"amount": [_("At most USD %(left)s.", left=tranche.amount - paid)]},
                       code="tranche_exceeded")
    d = db.session.execute(select(Disbursement).where(
        Disbursement.tranche_id == tranche.id, Disbursement.status == "scheduled").order_by(Disbursement.id)
    ).scalars().first()
    if d is None:
        d = Disbursement(grant_id=grant.id, tranche_id=tranche.id, amount=amount, currency="USD",
                         status="scheduled")
        db.session.add(d)
        db.session.flush()
    old_amount = d.amount
    d.amount, d.requested_by_id, d.requested_at, d.note = amount, actor.id, utcnow(), note
    DISBURSEMENT_WORKFLOW.fire(d, "request", actor)
    audit.record("disbursement.requested", d, actor=actor,
                 summary=f"Payment of USD {amount} requested for tranche {tranche.number} of grant {grant.number}",
                 changes={"amount": [str(old_amount), str(amount)], "requested_by_id": [None, actor.id]})
    return d


def edit_disbursement(d: Disbursement, amount: Decimal, actor: User, note: str | None = None) -> Disbursement:
    """Change a request's amount. Any approval is void: it goes back to "requested", and neither the requester
    nor the editor may approve it."""
    from grants.awards.workflow import DISBURSEMENT_WORKFLOW

    amount = _usd(amount, "amount")
    _relock(d)
    old = {"amount": str(d.amount), "approved_by_id": d.approved_by_id}
    was = d.status
    DISBURSEMENT_WORKFLOW.fire(d, "edit", actor, message=note)
    d.amount, d.edited_by_id, d.edited_at = amount, actor.id, utcnow()
    d.approved_by_id, d.approved_at = None, None
    if note is not None:
        d.note = note
    db.session.flush()
    audit.record("disbursement.edited", d, actor=actor,
                 summary=f"Disbursement {d.id} changed to USD {amount}"
                         + (" (its approval is void)" if was == "approved" else ""),
                 changes={"amount": [old["amount"], str(amount)], "approved_by_id": [old["approved_by_id"], None]})
    return d


def approve_disbursement(d: Disbursement, actor: User) -> Disbursement:
    """A second finance officer approves, under the fund lock: the tranche's condition is met, paid + approved
    stay within the award and the tranche, cash covers it, the grant is active (409 otherwise)."""
    from grants.awards.workflow import DISBURSEMENT_WORKFLOW

    _relock(d)
    DISBURSEMENT_WORKFLOW.fire(d, "approve", actor)
    d.approved_by_id, d.approved_at = actor.id, utcnow()
    db.session.flush()
    return d


def record_refused_approval(disbursement_id: int, actor: User, refusal: FundError):
    """Keep a refused approval in the audit trail: who tried to approve which payment, and why it was refused.

    The approval's own transaction has rolled back (its audit event with it), so the caller calls this after
    the rollback and commits it as a transaction of its own: :func:`fund.audit.record` takes the chain's head
    under its lock, so the hash chain holds. The reasons are written in English, whatever the reader's
    language (the guards are evaluated again for that, without the fund lock)."""
    from flask_babel import force_locale

    from grants.awards.workflow import approval_blockers

    d = db.session.get(Disbursement, disbursement_id)
    grant = db.session.get(Grant, d.grant_id)
    with force_locale("en"):
        reasons = approval_blockers(d, actor) if d.status == "requested" else []
    reason = " ".join(reasons) or refusal.message
    return audit.record(
        "disbursement.approve_refused", d, actor=actor,
        summary=f"Approval of disbursement {d.id} (USD {d.amount}, tranche {d.tranche.number} of grant "
                f"{grant.number}) refused: {reason}",
        changes={"refused": [None, refusal.code or str(refusal.status)], "status": [d.status, d.status]})


def pay_disbursement(d: Disbursement, payment_reference: str, paid_on: dt.date, actor: User) -> Disbursement:
    """Record the payment (reference and value date): the guards again, under the fund lock, then the ledger
    posts grants payable -> cash and charges PSC."""
    from grants.awards.workflow import DISBURSEMENT_WORKFLOW

    _relock(d)
    grant = db.session.get(Grant, d.grant_id)
    with db.session.begin_nested():
        DISBURSEMENT_WORKFLOW.fire(d, "pay", actor, payment_reference=payment_reference, paid_on=paid_on)
        posted = ledger.pay_disbursement(
            d.grant_id, d.amount, value_date=paid_on, actor=actor,
            description=f"Tranche {d.tranche.number} of grant {grant.number}, payment {payment_reference}")
        d.payment_reference, d.paid_on = payment_reference.strip(), paid_on
        d.paid_by_id, d.paid_at = actor.id, utcnow()
        d.ledger_entry_id, d.psc_usd = posted.entry.id, posted.psc_usd
        db.session.flush()
    audit.record("disbursement.paid", d, actor=actor,
                 summary=f"USD {d.amount} paid to grant {grant.number} (ref. {d.payment_reference}, value date "
                         f"{paid_on.isoformat()}), ledger entry {posted.entry.id}, PSC USD {posted.psc_usd}",
                 changes={"payment_reference": [None, d.payment_reference], "paid_on": [None, paid_on.isoformat()],
                          "ledger_entry_id": [None, posted.entry.id]})
    mail_grantee(grant, "paid", lambda: _("Payment to grant %(number)s", number=grant.number), disbursement=d)
    return d


def cancel_disbursement(d: Disbursement, actor: User, message: str | None = None) -> Disbursement:
    from grants.awards.workflow import DISBURSEMENT_WORKFLOW

    _relock(d)
    return DISBURSEMENT_WORKFLOW.fire(d, "cancel", actor, message=message)


def fail_disbursement(d: Disbursement, actor: User, message: str) -> Disbursement:
    """A payment that did not reach the grantee: an approved one is marked failed; a paid one is also reversed
    in the ledger (cash and the commitment come back, PSC is recomputed)."""
    from grants.awards.workflow import DISBURSEMENT_WORKFLOW

    _relock(d)
    was = d.status
    DISBURSEMENT_WORKFLOW.fire(d, "fail", actor, message=message)
    if was == "paid" and d.ledger_entry_id is not None:
        ledger.reverse_entry(d.ledger_entry_id, reason=f"Payment failed: {message}", actor=actor)
    return d


@ledger.on_reversal(ledger.DISBURSEMENT)
def _disbursement_reversed(original, reversal) -> None:
    """A disbursement entry reversed from the ledger browser: its disbursement is failed too."""
    from grants.awards.workflow import DISBURSEMENT_WORKFLOW

    d = db.session.execute(select(Disbursement).where(Disbursement.ledger_entry_id == original.id)
                           ).scalar_one_or_none()
    if d is None or d.status != "paid":
        return
    actor = db.session.get(User, reversal.created_by_id) if reversal.created_by_id else None
    DISBURSEMENT_WORKFLOW.fire(d, "reverse", actor, message=f"Ledger entry {original.id} reversed")


# Reports ------------------------------------------------------------------------------------------------------

def save_report(grant: Grant, kind: str, data: dict, actor: User) -> GrantReport:
    """Save any part of the interim or final report while it is due or returned: narrative fields, results
    (four breakdowns) and the financial report (expenditure per budget line). A draft is kept as typed, even
    when its breakdowns disagree or a line more than 10 % off is not explained yet: those rules are checked on
    submission (:func:`grants.awards.reports.rule_problems` lists them, for warnings). Only what cannot be
    stored at all (unknown categories, lines not of this grant) is refused, before anything is written."""
    from grants.awards.models import SEX_AGE, ReportExpense, ReportResult
    from grants.awards.reports import check_categories, check_lines
    from grants.awards.workflow import REPORT_EDITABLE

    report = grant.report(kind)
    if report is None:
        raise FundError(_("This grant has no %(kind)s report.", kind=kind), fields={"kind": [_("Unknown report.")]})
    _lock_row(report)
    if grant.status not in ("active", "suspended"):
        raise Conflict(_("Reports are written while the grant is active."), code="grant_not_active")
    if report.status not in REPORT_EDITABLE:
        raise Conflict(_("This report has been submitted and can no longer be changed."), code="not_editable")
    data = dict(data)
    results = data.pop("results", None)
    lines = data.pop("expenditure", None)
    total = spent = None
    if results is not None:
        check_categories(results)
        total = sum(results.get(SEX_AGE, {}).values())
    if lines is not None:
        check_lines(grant, lines)
        spent = sum((row["spent"] for row in lines), ZERO)
    changes = audit.populate(report, data)
    if results is not None:
        old = {f"{r.breakdown}:{r.key}": r.count for r in report.results}
        new = {f"{b}:{k}": n for b, cells in results.items() for k, n in cells.items() if n}
        if old != new:
            report.results.clear()
            db.session.flush()
            for breakdown, cells in results.items():
                for key, count in sorted(cells.items()):
                    if count:
                        report.results.append(ReportResult(breakdown=breakdown, key=key, count=count))
            changes["results"] = [old, new]
        if report.total_assisted != total:
            changes["total_assisted"] = [report.total_assisted, total]
            report.total_assisted = total
    if lines is not None:
        old = {str(e.budget_line_id): [str(e.spent), e.explanation] for e in report.expenses}
        new = {str(r["budget_line_id"]): [str(r["spent"]), (r.get("explanation") or "").strip() or None]
               for r in lines}
        if old != new:
            report.expenses.clear()
            db.session.flush()
            for r in lines:
                report.expenses.append(ReportExpense(budget_line_id=r["budget_line_id"], spent=r["spent"],
                                                     explanation=(r.get("explanation") or "").strip() or None))
            changes["expenditure"] = [old, new]
        if report.expenditure != spent:
            changes["expenditure_total"] = [str(report.expenditure) if report.expenditure is not None else None,
                                            str(spent)]
            report.expenditure = spent
    if changes:
        report.updated_at = utcnow()
        db.session.flush()
        audit.record("grant_report.update", report, actor=actor,
                     summary=f"{kind.capitalize()} report of grant {grant.number} saved ({', '.join(sorted(changes))})",
                     changes=changes)
    return report


def attach_audit_report(report: GrantReport, upload, actor: User):
    from grants.awards.workflow import REPORT_EDITABLE

    _lock_row(report)
    if report.status not in REPORT_EDITABLE:
        raise Conflict(_("This report has been submitted and can no longer be changed."), code="not_editable")
    grant = db.session.get(Grant, report.grant_id)
    doc = _store(grant, upload, "audit_report", actor)
    old = report.audit_document_id
    report.audit_document_id = doc.id
    db.session.flush()
    audit.record("grant_report.audit_report", report, actor=actor,
                 summary=f"Audit report attached to the {report.kind} report of grant {grant.number}",
                 changes={"audit_document_id": [old, doc.id], "sha256": [None, doc.sha256]})
    return doc


def submit_report(report: GrantReport, actor: User) -> GrantReport:
    """Submit a complete report whose breakdowns agree and whose lines more than 10 % off are explained; the
    money received to date and the unspent balance are kept with it. A refused submission raises FundError
    (422) before writing anything of its own, with the rules broken in ``fields`` (as in
    :func:`grants.awards.reports.rule_problems`) beside the list in ``_schema``: the report form calls
    :func:`save_report` then this in one request, and keeps the draft it saved when the submission is refused."""
    from grants.awards.reports import rule_problems
    from grants.awards.workflow import REPORT_WORKFLOW

    grant = db.session.get(Grant, report.grant_id)
    _lock_row(report)
    try:
        REPORT_WORKFLOW.fire(report, "submit", actor)
    except FundError as exc:
        if exc.code == "guard_failed":
            exc.fields = {**rule_problems(grant, report), **exc.fields}
        raise
    figures = grant_figures(report.grant_id)
    report.received = figures.paid
    report.unspent = figures.paid - (report.expenditure or ZERO)
    report.submitted_at, report.submitted_by_id = utcnow(), actor.id
    db.session.flush()
    audit.record("grant_report.figures", report, actor=actor,
                 summary=f"{report.kind.capitalize()} report {report.id} submitted: received USD {report.received}, "
                         f"spent USD {report.expenditure}, unspent USD {report.unspent}",
                 changes={"received": [None, str(report.received)], "unspent": [None, str(report.unspent)]})
    return report


def accept_report(report: GrantReport, actor: User, message: str | None = None) -> GrantReport:
    """Accepting the interim report releases the tranches that wait for it; accepting the final report opens
    closure."""
    from grants.awards.workflow import REPORT_WORKFLOW

    _relock(report)
    REPORT_WORKFLOW.fire(report, "accept", actor, message=message)
    report.reviewed_at, report.reviewed_by_id = utcnow(), actor.id
    db.session.flush()
    grant = db.session.get(Grant, report.grant_id)
    mail_grantee(grant, "report_accepted", lambda: _("Report accepted: grant %(number)s", number=grant.number),
                 report=report, message=message)
    return report


def return_report(report: GrantReport, actor: User, message: str) -> GrantReport:
    from grants.awards.workflow import REPORT_WORKFLOW

    _relock(report)
    REPORT_WORKFLOW.fire(report, "return", actor, message=message)
    report.reviewed_at, report.reviewed_by_id = utcnow(), actor.id
    db.session.flush()
    grant = db.session.get(Grant, report.grant_id)
    mail_grantee(grant, "report_returned", lambda: _("Report returned: grant %(number)s", number=grant.number),
                 report=report, message=message)
    return report


# Refunds ------------------------------------------------------------------------------------------------------

def record_refund(grant: Grant, data: dict, actor: User):
    """Unspent money paid back by the grantee, in any currency at the month's UN rate: the ledger takes it into
    cash, reduces the grant's expenditure and recomputes its PSC."""
    from grants.awards.models import GrantRefund

    _relock(grant)
    if grant.status not in ("active", "suspended", "terminated"):
        raise Conflict(_("Refunds are recorded against an active, suspended or terminated grant (this one is "
                         "“%(status)s”).", status=_status_label(grant.status)), code="grant_not_open")
    reference = data["bank_reference"].strip()
    posted = ledger.record_grant_refund(
        grant.id, data["amount"], data["currency"], value_date=data["received_on"], actor=actor,
        description=f"Refund from grant {grant.number}, bank reference {reference}")
    cash_line = next(p for p in posted.entry.postings if p.account == ledger.CASH)
    refund = GrantRefund(grant_id=grant.id, currency=cash_line.currency, amount=cash_line.amount, usd=posted.usd,
                         exchange_rate_id=cash_line.exchange_rate_id, received_on=data["received_on"],
                         bank_reference=reference, ledger_entry_id=posted.entry.id, psc_usd=posted.psc_usd,
                         recorded_by_id=actor.id)
    db.session.add(refund)
    db.session.flush()
    audit.record("grant.refund", grant, actor=actor,
                 summary=f"Refund of {refund.currency} {refund.amount} (USD {refund.usd}) from grant {grant.number}, "
                         f"bank reference {reference}, ledger entry {posted.entry.id}",
                 changes={"refund_id": [None, refund.id], "usd": [None, str(refund.usd)],
                          "psc_usd": [None, str(posted.psc_usd)]})
    return refund
