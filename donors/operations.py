"""Every write of the donors package: donors, pledges (confirm, cancel, write off), contributions received.

Operations take objects and validated data, check the domain rules, post to the fund's ledger, write the
audit event in the same transaction, flush and never commit. Anything that reads a balance and then writes
takes the fund lock first (:func:`fund.accounting.ledger.lock_fund`), so two payments cannot both fit one outstanding
amount.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, lazyload

from donors import statements
from donors.models import (
    ANNOUNCED,
    BOOKED,
    CANCELLED,
    CONFIRMED,
    OPEN,
    PLEDGE_TRANSITIONS,
    STATUS_LABELS,
    WRITERS,
    WRITTEN_OFF,
    Contribution,
    Donor,
    IssuedStatement,
    Pledge,
    PledgeInstalment,
    StatementCounter,
    settled_status,
)
from fund import audit, storage
from fund.accounting import ledger, rates
from fund.accounting.figures import PledgeFigures, pledges_figures
from fund.accounting.ledger import JournalEntry
from fund.db import db, utcnow
from fund.errors import FundError
from fund.i18n import translate as _
from fund.money import MoneyError
from fund.pdf import PdfError
from fund.views import external_url

log = logging.getLogger("donors")

# Donors -------------------------------------------------------------------------------------------------------


def create_donor(data: dict, *, actor=None) -> Donor:
    name = data["name"].strip()
    clash = db.session.execute(select(Donor.id).where(func.lower(Donor.name) == name.lower())).first()
    if clash:
        raise FundError(_("A donor with this name already exists."),
                        fields={"name": [_("A donor with this name already exists (donor %(id)d).", id=clash[0])]})
    donor = Donor(name=name, type=data["type"], country=data.get("country"), language=data.get("language", "en"),
                  contact_name=data.get("contact_name"), contact_email=data.get("contact_email"),
                  anonymous=bool(data.get("anonymous", False)), created_at=utcnow())
    db.session.add(donor)
    db.session.flush()
    audit.record("donor.create", donor, actor=actor, summary=f"Donor {donor.id} {name} created",
                 changes={k: [None, getattr(donor, k)] for k in
                          ("name", "type", "country", "language", "contact_name", "contact_email", "anonymous")})
    return donor


# Pledges ------------------------------------------------------------------------------------------------------


@dataclass
class InstalmentView:
    instalment: PledgeInstalment
    paid: Decimal
    status: str  # paid, partly_paid, due, overdue, closed


@dataclass
class PledgeSummary:
    """A pledge with its amounts from the ledger, in its currency."""

    pledge: Pledge
    received: Decimal
    written_off: Decimal
    outstanding: Decimal
    receivable_usd: Decimal
    instalments: list[InstalmentView] = field(default_factory=list)


def outstanding(pledge: Pledge, figures: PledgeFigures) -> Decimal:
    """pledged - received - written off; nothing for a cancelled pledge; never negative."""
    zero = pledge.amount - pledge.amount
    if pledge.status == CANCELLED:
        return zero
    return max(pledge.amount - figures.received - figures.written_off, zero)


def summarise(pledges: list[Pledge], today: dt.date | None = None, *,
              balance_rows: list | None = None) -> dict[int, PledgeSummary]:
    """Summaries of pledges with one ledger query, or none when given ``balance_rows``, the pledges' kept balances
    already read (:func:`fund.accounting.balances.usd_by_account_kind_scopes`); instalments are matched to payments
    in due-date order."""
    today = today or utcnow().date()
    figures = pledges_figures([(p.id, p.currency) for p in pledges], rows=balance_rows)
    result = {}
    for pledge in pledges:
        f = figures[pledge.id]
        summary = PledgeSummary(pledge, f.received, f.written_off, outstanding(pledge, f), f.receivable_usd)
        covered = f.received
        for inst in pledge.instalments:
            paid = min(inst.amount, covered)
            covered -= paid
            if paid >= inst.amount:
                status = "paid"
            elif pledge.status not in OPEN:
                status = "closed"
            elif paid > 0:
                status = "partly_paid"
            else:
                status = "overdue" if inst.due_on < today else "due"
            summary.instalments.append(InstalmentView(inst, paid, status))
        result[pledge.id] = summary
    return result


def summary_of(pledge: Pledge) -> PledgeSummary:
    return summarise([pledge])[pledge.id]


def _transition(pledge: Pledge, action: str, target: str, *, actor=None, summary: str = "",
                changes: dict | None = None) -> None:
    """Move a pledge along its state machine (donors.models.PLEDGE_TRANSITIONS), audited."""
    transition = PLEDGE_TRANSITIONS[action]
    if pledge.status not in transition.sources or target not in transition.targets:
        message = _("Not allowed while the pledge is %(status)s.", status=STATUS_LABELS[pledge.status]())
        raise FundError(message, fields={"status": [message]}, status=409, code="conflict")
    if actor is not None and not actor.has_any_role(*transition.roles):
        raise FundError(_("You may not change this pledge."), status=403, code="forbidden")
    old = pledge.status
    pledge.status = target
    db.session.flush()
    audit.record(f"pledge.{action}", pledge, actor=actor,
                 summary=summary or f"Pledge {pledge.id} {old} -> {target}",
                 changes={"status": [old, target], **(changes or {})})


def create_pledge(donor: Donor, data: dict, *, actor=None) -> Pledge:
    """Record a pledge (announced, or confirmed straight away), with optional instalments and earmark.

    Instalments must sum exactly to the pledge. A confirmed pledge is booked as receivable at the rate of its
    confirmation month (``confirmed_on``, default ``pledged_on``)."""
    amount, currency = data["amount"], data["currency"]
    status = data.get("status") or ANNOUNCED
    instalments = data.get("instalments") or []
    if instalments:
        total = sum((i["amount"] for i in instalments), Decimal(0))
        if total != amount:
            message = _("The instalments add up to %(total)s %(currency)s, not the pledged %(amount)s %(currency)s.",
                        total=total, amount=amount, currency=currency)
            raise FundError(message, fields={"instalments": [message]})
    earmark = data.get("earmark") or {}
    pledge = Pledge(donor_id=donor.id, currency=currency, amount_minor=rates.to_minor(amount, currency),
                    pledged_on=data["pledged_on"], status=ANNOUNCED, earmark_type=earmark.get("type"),
                    earmark_value=earmark.get("value"), note=data.get("note"), created_at=utcnow(),
                    created_by_id=getattr(actor, "id", None))
    pledge.instalments = [PledgeInstalment(due_on=i["due_on"], amount_minor=rates.to_minor(i["amount"], currency))
                          for i in instalments]
    db.session.add(pledge)
    db.session.flush()
    audit.record("pledge.create", pledge, actor=actor,
                 summary=f"Pledge {pledge.id} of {amount} {currency} by donor {donor.id} recorded",
                 changes={"amount": [None, str(amount)], "currency": [None, currency],
                          "pledged_on": [None, pledge.pledged_on], "earmark": [None, pledge.earmark],
                          "instalments": [None, [[i["due_on"], str(i["amount"])] for i in instalments]]})
    if status == CONFIRMED:
        confirm_pledge(pledge, confirmed_on=data.get("confirmed_on") or data["pledged_on"], actor=actor,
                       rate_fields=("currency", "pledged_on"))
    elif status != ANNOUNCED:
        message = _("A new pledge is announced or confirmed.")
        raise FundError(message, fields={"status": [message]})
    return pledge


def confirm_pledge(pledge: Pledge, *, confirmed_on: dt.date | None = None, actor=None,
                   rate_fields: tuple[str, ...] = ("currency", "confirmed_on")) -> JournalEntry:
    """Confirm an announced pledge (agreement signed): booked as receivable at the rate of ``confirmed_on``'s
    month (default today)."""
    ledger.lock_fund()
    confirmed_on = confirmed_on or utcnow().date()
    if pledge.status != ANNOUNCED:
        _transition(pledge, "confirm", CONFIRMED, actor=actor)  # raises: not allowed from this status
    rate = rates.rate_for(pledge.currency, confirmed_on, fields=rate_fields)
    entry = ledger.post_pledge_confirmed(donor_id=pledge.donor_id, pledge_id=pledge.id, amount=pledge.amount,
                                         currency=pledge.currency, value_date=confirmed_on, rate=rate, actor=actor,
                                         description=f"Pledge {pledge.id} confirmed")
    pledge.confirmed_on = confirmed_on
    _transition(pledge, "confirm", CONFIRMED, actor=actor,
                summary=f"Pledge {pledge.id} confirmed on {confirmed_on} (ledger entry {entry.id})",
                changes={"confirmed_on": [None, confirmed_on]})
    return entry


def cancel_pledge(pledge: Pledge, *, reason: str, actor=None) -> JournalEntry | None:
    """Cancel a pledge on which nothing was received or written off (a confirmed one leaves the receivable)."""
    ledger.lock_fund()
    s = summary_of(pledge)
    if s.received or s.written_off:
        raise FundError(_("Money was received or written off on this pledge: write off what remains instead."),
                        fields={"status": [_("Only a pledge with nothing received or written off can be "
                                             "cancelled.")]},
                        status=409, code="conflict")
    if pledge.status not in PLEDGE_TRANSITIONS["cancel"].sources:
        _transition(pledge, "cancel", CANCELLED, actor=actor)  # raises: not allowed from this status
    entry = None
    if pledge.status in BOOKED:
        entry = ledger.post_pledge_cancelled(donor_id=pledge.donor_id, pledge_id=pledge.id, currency=pledge.currency,
                                             actor=actor, description=f"Pledge {pledge.id} cancelled: {reason}")
    _transition(pledge, "cancel", CANCELLED, actor=actor, summary=f"Pledge {pledge.id} cancelled: {reason}",
                changes={"reason": [None, reason]})
    return entry


def write_off_pledge(pledge: Pledge, *, amount: Decimal | None = None, reason: str, actor=None) -> JournalEntry:
    """Write off part or all (``amount=None``) of what a confirmed pledge still owes."""
    ledger.lock_fund()
    if pledge.status not in PLEDGE_TRANSITIONS["write_off"].sources:
        _transition(pledge, "write_off", WRITTEN_OFF, actor=actor)  # raises: not allowed from this status
    s = summary_of(pledge)
    if amount is not None:
        try:
            amount = rates.check_places(amount, pledge.currency)
        except MoneyError as exc:
            _refuse("amount", str(exc))
    amount = s.outstanding if amount is None else amount
    if amount <= 0 or amount > s.outstanding:
        message = _("At most the outstanding amount, %(amount)s %(currency)s.", amount=s.outstanding,
                    currency=pledge.currency)
        raise FundError(message, fields={"amount": [message]})
    entry = ledger.post_pledge_write_off(donor_id=pledge.donor_id, pledge_id=pledge.id, amount=amount,
                                         currency=pledge.currency, actor=actor,
                                         description=f"Pledge {pledge.id}: {amount} {pledge.currency} written off: "
                                                     f"{reason}")
    target = settled_status(pledge.amount, s.received, s.written_off + amount)
    _transition(pledge, "write_off", target, actor=actor,
                summary=f"Pledge {pledge.id}: {amount} {pledge.currency} written off ({reason})",
                changes={"written_off": [str(s.written_off), str(s.written_off + amount)], "reason": [None, reason]})
    return entry


# Contributions ------------------------------------------------------------------------------------------------


def _refuse(field_name: str, message: str, status: int = 422) -> None:
    raise FundError(message, fields={field_name: [message]}, status=status)


def record_contribution(donor: Donor, data: dict, *, actor=None) -> Contribution:
    """Record money received from ``donor``, against one of its pledges or unpledged.

    Refused (422, naming the field, nothing written): a bank reference already recorded; a pledge of another
    donor or one that is closed; a currency other than the pledge's; more than the pledge's outstanding amount
    (record it unpledged instead); no UN operational rate for the currency and the month of ``received_on``.
    The amount is converted at that month's current rate version, ROUND_HALF_UP to the cent, and posted."""
    ledger.lock_fund()
    amount, currency, received_on = data["amount"], data["currency"], data["received_on"]
    reference = data["bank_reference"].strip()
    existing = db.session.execute(select(Contribution.id).where(Contribution.bank_reference == reference)).first()
    if existing:
        _refuse("bank_reference", _("This bank reference is already recorded (contribution %(id)d).",
                                    id=existing[0]))
    pledge = None
    if data.get("pledge_id") is not None:
        pledge = db.session.get(Pledge, data["pledge_id"])
        if pledge is None:
            _refuse("pledge_id", _("There is no such pledge."))
        if pledge.donor_id != donor.id:
            _refuse("pledge_id", _("This pledge belongs to another donor."))
        if pledge.status not in OPEN:
            _refuse("pledge_id", _("This pledge is %(status)s: record the payment as unpledged.",
                                   status=STATUS_LABELS[pledge.status]()))
        if currency != pledge.currency:
            _refuse("currency", _("Payments against this pledge are in its currency, %(currency)s.",
                                  currency=pledge.currency))
    rate = rates.rate_for(currency, received_on, fields=("currency", "received_on"))
    if pledge is not None:
        s = summary_of(pledge)
        if amount > s.outstanding:
            _refuse("amount", _("The payment is larger than the pledge's outstanding amount (%(amount)s "
                                "%(currency)s): record it against no pledge (unpledged) or split it.",
                                amount=s.outstanding, currency=currency))
        if pledge.status == ANNOUNCED:
            confirm_pledge(pledge, confirmed_on=received_on, actor=actor, rate_fields=("currency", "received_on"))
    entry = ledger.post_contribution_received(
        donor_id=donor.id, amount=amount, currency=currency, value_date=received_on,
        pledge_id=pledge.id if pledge is not None else None, rate=rate, actor=actor,
        earmark=(pledge.earmark_type, pledge.earmark_value) if pledge is not None else None,
        description=f"Contribution {reference} from {donor.name}" + (f" (pledge {pledge.id})" if pledge else
                                                                      " (unpledged)"))
    usd = rate.to_usd(amount)
    contribution = Contribution(
        donor_id=donor.id, pledge_id=pledge.id if pledge is not None else None, currency=currency,
        amount_minor=rates.to_minor(amount, currency), received_on=received_on, bank_reference=reference,
        exchange_rate_id=rate.id, units_per_usd=rate.units_per_usd, usd_cents=rates.to_minor(usd, "USD"),
        ledger_entry_id=entry.id, note=data.get("note"), created_at=utcnow(), created_by_id=getattr(actor, "id", None),
    )
    db.session.add(contribution)
    try:
        db.session.flush()  # the unique bank reference backs the check made under the fund lock
    except IntegrityError:
        _refuse("bank_reference", _("This bank reference is already recorded."))
    if pledge is not None:
        s = summary_of(pledge)
        _transition(pledge, "receive", settled_status(pledge.amount, s.received, s.written_off), actor=actor,
                    summary=f"Pledge {pledge.id}: {amount} {currency} received ({reference})")
    audit.record("contribution.create", contribution, actor=actor,
                 summary=f"Contribution {reference}: {amount} {currency} = {usd} USD at {rate.units_per_usd} "
                         f"({rate.month_label}) from donor {donor.id}" + (f" for pledge {pledge.id}" if pledge else ""),
                 changes={"amount": [None, str(amount)], "currency": [None, currency],
                          "usd_amount": [None, str(usd)], "exchange_rate_id": [None, rate.id],
                          "units_per_usd": [None, str(rate.units_per_usd)], "bank_reference": [None, reference],
                          "pledge_id": [None, pledge.id if pledge else None], "ledger_entry_id": [None, entry.id]})
    return contribution


# Corrections: a reversed ledger entry brings the pledge (and contribution) back in line -----------------------


def _status_from_ledger(pledge: Pledge, f: PledgeFigures) -> str:
    if f.booked <= 0:
        return ANNOUNCED
    if f.cancelled > 0:
        return CANCELLED
    return settled_status(pledge.amount, f.received, f.written_off)


@ledger.on_reversal(ledger.CONTRIBUTION, ledger.PLEDGE_CONFIRMED, ledger.PLEDGE_CANCELLED, ledger.PLEDGE_WRITE_OFF)
def _after_reversal(original: JournalEntry, reversal: JournalEntry) -> None:
    if original.kind == ledger.CONTRIBUTION:
        contribution = db.session.execute(
            select(Contribution).where(Contribution.ledger_entry_id == original.id)).scalar_one_or_none()
        if contribution is not None:
            audit.record("contribution.reverse", contribution,
                         summary=f"Contribution {contribution.bank_reference} reversed by ledger entry {reversal.id}",
                         changes={"reversal_entry_id": [None, reversal.id]})
    pledge_ids = sorted({p.pledge_id for p in original.postings if p.pledge_id is not None})
    pledges = db.session.execute(select(Pledge).where(Pledge.id.in_(pledge_ids))).scalars().all() if pledge_ids else []
    figures = pledges_figures([(p.id, p.currency) for p in pledges])
    for pledge in pledges:
        target = _status_from_ledger(pledge, figures[pledge.id])
        if target != pledge.status:
            if target == ANNOUNCED:
                pledge.confirmed_on = None
            _transition(pledge, "correct", target,
                        summary=f"Pledge {pledge.id} {pledge.status} -> {target} after ledger entry {original.id} "
                                f"was reversed (entry {reversal.id})")


def contributions_query(donor_id: int | None = None):
    """Contributions newest first, with their ledger entry and its reversal loaded (joined: one statement), not
    the entries' postings."""
    query = select(Contribution).options(
        joinedload(Contribution.ledger_entry).options(
            lazyload(JournalEntry.postings),
            joinedload(JournalEntry.reversed_by).lazyload(JournalEntry.postings)))
    if donor_id is not None:
        query = query.where(Contribution.donor_id == donor_id)
    return query.order_by(Contribution.received_on.desc(), Contribution.id.desc())



# Statements ---------------------------------------------------------------------------------------------------

#: Verification codes: 16 characters of an alphabet without look-alikes (80 random bits), in groups of four.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_verification_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def normalise_code(code: str) -> str:
    """A verification code as typed (any case, spaces, with or without dashes) in its printed form."""
    raw = "".join(c for c in (code or "").upper() if c in CODE_ALPHABET)[:16]
    return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def _lock_counter(year: int) -> StatementCounter:
    """The year's statement counter, locked for the rest of the transaction (created on first use)."""
    stmt = select(StatementCounter).where(StatementCounter.year == year).with_for_update()
    counter = db.session.execute(stmt).scalar_one_or_none()
    if counter is None:
        if db.session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        db.session.execute(insert(StatementCounter).values(year=year, last=0).on_conflict_do_nothing())
        counter = db.session.execute(stmt.execution_options(populate_existing=True)).scalar_one()
    return counter


def valid_statement(donor_id: int, date_from: dt.date, date_to: dt.date,
                    language: str | None = None) -> IssuedStatement | None:
    """The statement of the donor for exactly this period (and language) that is not void, if any."""
    query = select(IssuedStatement).where(
        IssuedStatement.donor_id == donor_id, IssuedStatement.period_from == date_from,
        IssuedStatement.period_to == date_to, IssuedStatement.voided_at.is_(None))
    if language is not None:
        query = query.where(IssuedStatement.language == language)
    return db.session.execute(query.order_by(IssuedStatement.id).limit(1)).scalar_one_or_none()


def issue_statement(donor: Donor, data: dict, *, actor=None) -> IssuedStatement:
    """Issue the donor's statement for ``data["date_from"]``..``data["date_to"]`` in ``data["language"]`` (default:
    the donor's language): number it, render it with its verification code and QR code, store the PDF and its
    SHA-256. Refused (422) for a period not yet ended; (409) while a statement that is not void covers the same
    period in the same language. Numbers come from the locked yearly counter, so they never repeat or skip."""
    date_from, date_to = data["date_from"], data["date_to"]
    language = data.get("language") or donor.language
    if date_from > date_to:
        _refuse("to", _("The period ends before it starts."))
    if date_to > utcnow().date():
        _refuse("to", _("A statement is issued for a period that has ended (up to today at the latest)."))
    counter = _lock_counter(date_to.year)
    existing = valid_statement(donor.id, date_from, date_to, language)
    if existing is not None:
        message = _("Statement %(number)s already covers this period in this language: void it to issue a new one.",
                    number=existing.number)
        raise FundError(message, fields={"from": [message]}, status=409, code="conflict")
    counter.last += 1
    number = f"VTF-ST-{date_to.year}-{counter.last:04d}"
    code = new_verification_code()
    statement = statements.build_statement(donor, date_from, date_to, language)
    statement.number, statement.issued_at, statement.verification_code = number, utcnow(), code
    statement.verification_url = external_url("verify.verify", code=code)
    try:
        pdf = statements.render_statement_pdf(statement, preview=False)
    except PdfError as exc:
        raise FundError(_("The statement could not be produced; try again later."), status=503,
                        code="pdf_failed") from exc
    digest = hashlib.sha256(pdf).hexdigest()
    key = storage.put_in_transaction(db.session, pdf)
    totals = statement.totals()
    issued = IssuedStatement(
        number=number, donor_id=donor.id, period_from=date_from, period_to=date_to, language=language,
        issued_at=statement.issued_at, issued_by_id=getattr(actor, "id", None), donor_name=donor.name,
        anonymous=donor.anonymous, sha256=digest, storage_key=key, size=len(pdf), verification_code=code,
        totals=totals)
    db.session.add(issued)
    db.session.flush()
    audit.record("statement.issue", issued, actor=actor,
                 summary=f"Statement {number} of donor {donor.id} for {date_from} to {date_to} ({language}) issued",
                 changes={"number": [None, number], "period": [None, [date_from, date_to]],
                          "language": [None, language], "sha256": [None, digest], "size": [None, len(pdf)],
                          "totals": [None, totals]})
    return issued


def void_statement(issued: IssuedStatement, *, reason: str, actor=None) -> IssuedStatement:
    """Void an issued statement (once; it is kept, and its verification page then says it is void)."""
    reason = (reason or "").strip()
    if not reason:
        _refuse("reason", _("Give the reason for voiding the statement."))
    if actor is not None and not actor.has_any_role(*WRITERS):
        raise FundError(_("Only finance officers and administrators void statements."), status=403,
                        code="forbidden")
    now = utcnow()
    done = db.session.execute(
        update(IssuedStatement).where(IssuedStatement.id == issued.id, IssuedStatement.voided_at.is_(None))
        .values(voided_at=now, voided_by_id=getattr(actor, "id", None), void_reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        message = _("Statement %(number)s is already void.", number=issued.number)
        raise FundError(message, fields={"reason": [message]}, status=409, code="conflict")
    db.session.refresh(issued)
    audit.record("statement.void", issued, actor=actor, summary=f"Statement {issued.number} voided: {reason}",
                 changes={"voided_at": [None, now], "void_reason": [None, reason]})
    return issued


def stored_pdf(issued: IssuedStatement) -> bytes:
    """The PDF as issued, from storage (never re-rendered), checked against its SHA-256."""
    data = storage.get_storage().get(issued.storage_key)
    if hashlib.sha256(data).hexdigest() != issued.sha256:
        log.error("stored file of statement %s does not match its SHA-256 %s", issued.number, issued.sha256)
        raise FundError(_("The stored file of statement %(number)s does not match its fingerprint: contact the fund.",
                          number=issued.number), status=409, code="integrity")
    return data


def notify_statement(issued: IssuedStatement) -> int:
    """Queue an e-mail with a link to the statement (never the file) to each active user of the donor, in the
    user's language. Returns how many were queued."""
    from flask import render_template
    from flask_babel import force_locale, gettext

    from fund.mail import queue_mail
    from fund.models import DONOR, User

    link = external_url("donors.issued_statement", number=issued.number)
    users = db.session.execute(select(User).where(User.donor_id == issued.donor_id, User.active.is_(True))
                               .order_by(User.id)).scalars().all()
    count = 0
    for user in users:
        if not user.has_any_role(DONOR):
            continue
        with force_locale(user.language or issued.language):
            subject = gettext("Donor statement %(number)s", number=issued.number)  # in the user's language
            body = render_template("donors/mail/statement_issued.txt", statement=issued, link=link)
            queue_mail(user.email, str(subject), body=body, kind="donors:statement_issued")
        count += 1
    return count
