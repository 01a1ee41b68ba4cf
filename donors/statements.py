"""Donor statements and the donor portal's figures: what a donor pledged, paid and still owes over a period, what
its money was used for, what those grants achieved, and the fund's totals for context.

Everything comes from the fund's ledger (postings with their ``donor_id``, ``pledge_id`` and ``grant_id``) and,
for grants, from :func:`fund.grant_directory.directory` (donors never import grants). A :class:`Statement` is plain data:
the same object gives the portal page, the PDF, the CSV and the JSON, so they always agree.

Outstanding pledges (the receivable account, per pledge and currency) reconcile exactly, in each pledge's own
currency and in USD at the pledges' booking rates::

    opening + pledged - received - written off = closing

where *pledged* is the pledges confirmed in the period net of cancellations, *received* what payments took off
the pledges and *written off* what was written off, all by ledger value date. Payments are also shown at the UN
operational rate of their own month; against a pledge the difference from the booking value is the exchange
difference of the ledger.

Use of funds (:data:`METHOD`) is read from the attribution the fund recorded when the money moved
(:mod:`fund.accounting.attribution`), never recomputed: the donor's unspent money at the start of the period, what it
received, what its money paid to grants and in programme support costs, and what is unspent at the end::

    opening + received - attributed - psc = held

Results are the public ones (:func:`results_of`): each attributed grant's victims assisted as the fund publishes
them, and the fund's published results, so that statements add no figure a reader could combine with others.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, or_, select

from donors.models import ANNOUNCED, CANCELLED, Contribution, Donor, IssuedStatement, Pledge
from fund import disclosure
from fund.accounting import attribution, ledger
from fund.accounting.ledger import JournalEntry, Posting
from fund.accounting.rates import BASE_CURRENCY, from_minor
from fund.db import db
from fund.grant_directory import directory
from fund.suppression import SMALL, WITHHELD
from fund.vocabulary import (
    AGE_BAND_LABELS,
    ASSISTANCE_TYPES,
    FORMS_OF_EXPLOITATION,
    NOT_RECORDED,
    NOT_RECORDED_LABEL,
    SEX_LABELS,
)

ZERO = Decimal("0.00")

#: The attribution method, as printed on the donor page, the portal statement and the PDF.
METHOD = _l(
    "How your money is attributed to grants: the fund records, at each payment to a grant, whose money paid it. "
    "Earmarked money pays first, and only grants of its funding window, region or theme; money without an earmark "
    "then pays the rest. Within each, every donor pays in proportion to its money not yet spent at that moment, "
    "whatever the year it was received. Programme support costs charged on the payment are paid the same way. "
    "When a grantee refunds money, it returns to the donors whose money paid that grant, in proportion to what "
    "each paid. Amounts are rounded to the cent by the largest remainder, so that they add up exactly. The "
    "figures are kept as recorded: a later contribution, yours or another donor's, never changes them, and "
    "together the statements of all donors never attribute to a grant more than the fund paid it.")
WITHDRAWN_NOTE = _l("Too few people were assisted to break these results down without risk of identifying "
                    "anyone: only the total is shown.")
RESULTS_NOTE = _l(
    "Results are those the fund publishes on its public pages, from every grantee report it has accepted to date: "
    "for each grant your money paid in the period, and for all the fund's grants together. People are counted, "
    "never named. A count from 1 to 4 shows as “<5”; “x” marks a figure withheld so that a small count cannot be "
    "worked out from the totals; “—” marks a total not published for the same reason.")

#: Labels of the one vocabulary (fund.vocabulary); a report's breakdowns may also count "not recorded".
AGE_LABELS = AGE_BAND_LABELS
FORM_LABELS = {**FORMS_OF_EXPLOITATION, NOT_RECORDED: NOT_RECORDED_LABEL}
ASSISTANCE_LABELS = {**ASSISTANCE_TYPES, NOT_RECORDED: NOT_RECORDED_LABEL}
EARMARK_LABELS = {"funding_window": _l("Funding window"), "region": _l("Region"), "theme": _l("Theme")}


def _label(table: dict, code: str) -> str:
    label = table.get(code)
    return str(label) if label is not None else code.replace("_", " ")


def country_label(code: str) -> str:
    """The country's name in the current language."""
    if code == "not_recorded":
        return str(_l("Not recorded"))
    locale = get_locale()
    return locale.territories.get(code, code) if locale is not None else code


def _usd(cents) -> Decimal:
    return from_minor(int(cents or 0), BASE_CURRENCY)


# Figures ------------------------------------------------------------------------------------------------------


@dataclass
class Movement:
    """Opening, movements in the period and closing of outstanding pledges, in one currency."""

    currency: str
    opening: Decimal
    pledged: Decimal
    received: Decimal
    written_off: Decimal
    closing: Decimal

    @classmethod
    def zero(cls, currency: str) -> Movement:
        z = from_minor(0, currency)
        return cls(currency, z, z, z, z, z)

    @property
    def reconciles(self) -> bool:
        return self.opening + self.pledged - self.received - self.written_off == self.closing

    def add(self, other: Movement) -> None:
        for name in ("opening", "pledged", "received", "written_off", "closing"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class PledgeLine:
    id: int
    pledged_on: dt.date
    confirmed_on: dt.date | None
    amount: Decimal
    currency: str
    status: str
    earmark_type: str | None
    earmark_value: str | None
    movement: Movement
    usd: Movement


@dataclass
class Payment:
    """A payment received (or the reversal of one: negative amounts), at the rate of its month."""

    entry_id: int
    date: dt.date
    reference: str
    pledge_id: int | None
    currency: str
    amount: Decimal
    rate: Decimal
    rate_month: str
    usd: Decimal
    reversal: bool


@dataclass
class GrantShare:
    grant_id: int
    number: str
    organisation: str
    title: str
    countries: list[str]
    paid_in_period: Decimal
    unearmarked: Decimal
    earmarked: Decimal

    @property
    def total(self) -> Decimal:
        return self.unearmarked + self.earmarked


@dataclass
class EarmarkShare:
    """One of the donor's pools (an earmark, or none): unspent at the start, received, paid to grants and PSC in
    the period, unspent at the end, and how many grants it paid."""

    type: str | None
    value: str | None
    received: Decimal
    attributed: Decimal
    grants: int
    opening: Decimal = ZERO
    psc: Decimal = ZERO
    closing: Decimal = ZERO

    @property
    def held(self) -> Decimal:
        return self.closing


@dataclass
class UseOfFunds:
    """The donor's money over the period, as the fund recorded it when the money moved::

        opening (unspent at the start) + received - attributed (to grants) - psc = held (unspent at the end)
    """

    opening: Decimal = ZERO
    received: Decimal = ZERO
    attributed: Decimal = ZERO
    psc: Decimal = ZERO
    held: Decimal = ZERO
    grants: list[GrantShare] = field(default_factory=list)
    earmarks: list[EarmarkShare] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        return self.opening + self.received - self.attributed - self.psc == self.held


@dataclass
class FundContext:
    """The whole fund over the period (USD), for context."""

    received: Decimal = ZERO
    donors: int = 0
    disbursed: Decimal = ZERO
    grants_paid: int = 0
    psc: Decimal = ZERO
    cash_at_end: Decimal = ZERO


@dataclass
class Statement:
    donor_id: int
    donor_name: str
    anonymous: bool
    date_from: dt.date
    date_to: dt.date
    language: str
    currencies: list[Movement]
    usd: Movement
    pledges: list[PledgeLine]
    announced: list[PledgeLine]
    payments: list[Payment]
    use: UseOfFunds
    results: dict
    fund: FundContext
    number: str | None = None
    issued_at: dt.datetime | None = None
    verification_code: str | None = None
    verification_url: str | None = None

    # Payment totals ---------------------------------------------------------------------------------------

    @property
    def received_usd(self) -> Decimal:
        """All payments of the period at the rates of their months (against pledges and unpledged)."""
        return sum((p.usd for p in self.payments), ZERO)

    @property
    def received_against_pledges_usd(self) -> Decimal:
        return sum((p.usd for p in self.payments if p.pledge_id is not None), ZERO)

    @property
    def unpledged_usd(self) -> Decimal:
        return sum((p.usd for p in self.payments if p.pledge_id is None), ZERO)

    @property
    def exchange_difference(self) -> Decimal:
        """Booking value of what payments took off the pledges minus their value at the receipt rates."""
        return self.usd.received - self.received_against_pledges_usd

    def payment_totals(self) -> list[tuple[str, Decimal, Decimal]]:
        """(currency, amount, USD) of the period's payments, per currency."""
        totals: dict[str, list] = {}
        for p in self.payments:
            t = totals.setdefault(p.currency, [from_minor(0, p.currency), ZERO])
            t[0] += p.amount
            t[1] += p.usd
        return [(c, a, u) for c, (a, u) in sorted(totals.items())]

    def totals(self) -> dict:
        """The totals printed on the statement (kept with an issued statement for its verification page)."""
        return {
            "currency": BASE_CURRENCY,
            "opening": str(self.usd.opening), "pledged": str(self.usd.pledged), "received": str(self.usd.received),
            "written_off": str(self.usd.written_off), "closing": str(self.usd.closing),
            "payments_received": str(self.received_usd),
            "by_currency": [{"currency": m.currency, "opening": str(m.opening), "pledged": str(m.pledged),
                             "received": str(m.received), "written_off": str(m.written_off),
                             "closing": str(m.closing)} for m in self.currencies],
        }


def _movements(donor_id: int, date_from: dt.date, date_to: dt.date) -> dict[int, tuple[Movement, Movement]]:
    """Per pledge: (movement in its currency, movement in USD at booking values), from the receivable account."""
    before = case((JournalEntry.value_date < date_from, 1), else_=0)
    rows = db.session.execute(
        select(Posting.pledge_id, Posting.currency, JournalEntry.kind, before,
               func.sum(Posting.amount_minor), func.sum(Posting.usd_cents))
        .join(JournalEntry, Posting.entry_id == JournalEntry.id)
        .where(Posting.account == ledger.RECEIVABLE, Posting.donor_id == donor_id,
               JournalEntry.value_date <= date_to)
        .group_by(Posting.pledge_id, Posting.currency, JournalEntry.kind, before)
    ).all()
    result: dict[int, tuple[Movement, Movement]] = {}
    for pledge_id, currency, kind, is_before, minor, cents in rows:
        own, usd = result.setdefault(pledge_id, (Movement.zero(currency), Movement.zero(BASE_CURRENCY)))
        for movement, value in ((own, from_minor(int(minor), currency)), (usd, _usd(cents))):
            movement.closing += value
            if is_before:
                movement.opening += value
            elif kind in (ledger.PLEDGE_CONFIRMED, ledger.PLEDGE_CANCELLED):
                movement.pledged += value
            elif kind == ledger.CONTRIBUTION:
                movement.received -= value
            elif kind == ledger.PLEDGE_WRITE_OFF:
                movement.written_off -= value
            else:  # pragma: no cover - the receivable account has no other kind of entry
                raise ValueError(f"unexpected {kind} posting on the receivable account")
    return result


def _payments(donor_id: int, date_from: dt.date, date_to: dt.date) -> list[Payment]:
    """Payments received in the period, from the cash postings of contribution entries (reversals included)."""
    original = func.coalesce(JournalEntry.reversal_of_id, JournalEntry.id)
    rows = db.session.execute(
        select(JournalEntry.id, JournalEntry.value_date, JournalEntry.reversal_of_id, Posting.currency,
               Posting.amount_minor, Posting.usd_cents, Posting.pledge_id, Contribution.bank_reference,
               Contribution.units_per_usd, Contribution.received_on)
        .join(JournalEntry, Posting.entry_id == JournalEntry.id)
        .outerjoin(Contribution, Contribution.ledger_entry_id == original)
        .where(Posting.account == ledger.CASH, Posting.donor_id == donor_id, JournalEntry.kind == ledger.CONTRIBUTION,
               JournalEntry.value_date >= date_from, JournalEntry.value_date <= date_to)
        .order_by(JournalEntry.value_date, JournalEntry.id)
    ).all()
    payments = []
    for entry_id, value_date, reversal_of, currency, minor, cents, pledge_id, reference, rate, received_on in rows:
        payments.append(Payment(
            entry_id=entry_id, date=value_date, reference=reference or f"#{entry_id}", pledge_id=pledge_id,
            currency=currency, amount=from_minor(minor, currency),
            rate=rate if rate is not None else Decimal(1),
            rate_month=(received_on or value_date).strftime("%Y-%m"), usd=_usd(cents),
            reversal=reversal_of is not None))
    return payments


def _grant_payments(date_from: dt.date, date_to: dt.date, grant_ids: list[int] | None = None) -> dict[int, Decimal]:
    """What the fund paid each grant (or the given grants) in the period, net of refunds (the grant expense
    account), USD > 0."""
    query = (select(Posting.grant_id, func.sum(Posting.usd_cents))
             .join(JournalEntry, Posting.entry_id == JournalEntry.id)
             .where(Posting.account == ledger.GRANT_EXPENSE, Posting.grant_id.is_not(None),
                    JournalEntry.value_date >= date_from, JournalEntry.value_date <= date_to)
             .group_by(Posting.grant_id))
    if grant_ids is not None:
        query = query.where(Posting.grant_id.in_(grant_ids))
    return {grant_id: _usd(cents) for grant_id, cents in db.session.execute(query).all() if cents and cents > 0}


def use_of_funds(donor_id: int, date_from: dt.date, date_to: dt.date) -> UseOfFunds:
    """The donor's use of funds over the period, read from the attribution the fund recorded when the money moved
    (:mod:`fund.accounting.attribution`, see :data:`METHOD`): two aggregate queries on this donor's rows, one for the grants'
    facts and one for what the fund paid them, whatever the size of the fund."""
    figures = attribution.donor_use(donor_id, date_from, date_to)
    use = UseOfFunds(opening=figures.opening, received=figures.received, attributed=figures.grants_total,
                     psc=figures.psc, held=figures.closing)
    for (etype, evalue), f in sorted(figures.earmarks.items(), key=lambda i: (i[0][0] is None, i[0][0] or "",
                                                                              i[0][1] or "")):
        use.earmarks.append(EarmarkShare(etype, evalue, f["received"], f["grants"],
                                         figures.earmark_grants.get((etype, evalue), 0), opening=f["opening"],
                                         psc=f["psc"], closing=f["closing"]))
    ids = list(figures.grants)
    if not ids:
        return use
    info = directory().grants(ids)
    paid = _grant_payments(date_from, date_to, ids)
    for grant_id in ids:
        g = info.get(grant_id)
        unearmarked, earmarked = figures.grants[grant_id]
        use.grants.append(GrantShare(
            grant_id=grant_id, number=g.number if g else f"#{grant_id}", organisation=g.organisation if g else "",
            title=g.title if g else "", countries=list(g.countries) if g else [],
            paid_in_period=paid.get(grant_id, ZERO), unearmarked=unearmarked, earmarked=earmarked))
    return use


def results_of(grant_ids: list[int], date_from: dt.date, date_to: dt.date) -> dict:
    """What the grants achieved, as the fund publishes it (codes; labels are added per language by
    :func:`results_view`).

    Every figure is an entry of the public results (:func:`fund.disclosure.publication`): each grant's victims
    assisted as its public page shows them, and the fund's results by sex and age, form of exploitation, type of
    assistance and country. A statement adds no figure of its own, so any number of statements, of any donors and
    periods, read together and beside the public pages give away nothing the public pages do not: they are
    protected as one set. The victims of the statement's grants together are shown only when the public figures
    already determine them (:func:`fund.disclosure.sum_if_published`). The period chooses the grants (those the
    donor's money paid in it); their results are those of every report the fund has accepted for them to date."""
    published = disclosure.publication()
    fund_results = published.results if published is not None else None
    shown = fund_results.grants if fund_results is not None else {}
    reported = sorted(g for g in set(grant_ids) if g in shown)
    return {
        "reported": reported,
        "grants": {g: shown[g] for g in reported},
        "grants_total": disclosure.sum_if_published(reported, published) if reported else None,
        "withdrawn": fund_results.withdrawn if fund_results is not None else False,
        "total": fund_results.total if fund_results is not None else 0,
        "sex_age": fund_results.sex_age if fund_results is not None else {},
        "sexes": fund_results.sexes if fund_results is not None else {},
        "ages": fund_results.ages if fund_results is not None else {},
        "by_form": fund_results.by_form if fund_results is not None else {},
        "by_assistance": fund_results.by_assistance if fund_results is not None else {},
        "by_country": fund_results.by_country if fund_results is not None else {},
    }


def fund_context(date_from: dt.date, date_to: dt.date) -> FundContext:
    """The fund's money over the period, from one aggregate query (plus the cash balance at the end)."""
    in_period = (JournalEntry.value_date >= date_from) & (JournalEntry.value_date <= date_to)
    rows = db.session.execute(
        select(Posting.account, JournalEntry.kind, func.sum(Posting.usd_cents),
               func.count(func.distinct(Posting.donor_id)), func.count(func.distinct(Posting.grant_id)))
        .join(JournalEntry, Posting.entry_id == JournalEntry.id).where(in_period)
        .group_by(Posting.account, JournalEntry.kind)
    ).all()
    context = FundContext()
    for account, kind, cents, donors, _grants in rows:
        if account == ledger.CASH and kind == ledger.CONTRIBUTION:
            context.received += _usd(cents)
            context.donors = donors
        elif account == ledger.GRANT_EXPENSE:
            context.disbursed += _usd(cents)
        elif account == ledger.PSC:
            context.psc += _usd(cents)
    context.grants_paid = len(_grant_payments(date_from, date_to))
    cash = db.session.execute(
        select(func.coalesce(func.sum(Posting.usd_cents), 0)).join(JournalEntry, Posting.entry_id == JournalEntry.id)
        .where(Posting.account == ledger.CASH, JournalEntry.value_date <= date_to)).scalar_one()
    context.cash_at_end = _usd(cash)
    return context


def build_statement(donor: Donor, date_from: dt.date, date_to: dt.date, language: str | None = None) -> Statement:
    """The donor's statement for [date_from, date_to] (inclusive), in ``language`` (default: the donor's)."""
    if date_from > date_to:
        raise ValueError("the period ends before it starts")
    movements = _movements(donor.id, date_from, date_to)
    pledges = {p.id: p for p in db.session.execute(select(Pledge).where(Pledge.donor_id == donor.id)
                                                   .order_by(Pledge.pledged_on, Pledge.id)).scalars()}
    pledge_lines, announced = [], []
    by_currency: dict[str, Movement] = {}
    usd = Movement.zero(BASE_CURRENCY)
    for pledge in pledges.values():
        own, in_usd = movements.get(pledge.id, (Movement.zero(pledge.currency), Movement.zero(BASE_CURRENCY)))
        line = PledgeLine(pledge.id, pledge.pledged_on, pledge.confirmed_on, pledge.amount, pledge.currency,
                          pledge.status, pledge.earmark_type, pledge.earmark_value, own, in_usd)
        if pledge.id in movements:
            by_currency.setdefault(pledge.currency, Movement.zero(pledge.currency)).add(own)
            usd.add(in_usd)
            moved = any(getattr(own, n) for n in ("pledged", "received", "written_off"))
            if own.closing or own.opening or moved:
                pledge_lines.append(line)
        elif pledge.status == ANNOUNCED and pledge.pledged_on <= date_to:
            announced.append(line)
        elif pledge.status == CANCELLED and date_from <= pledge.pledged_on <= date_to:
            announced.append(line)
    payments = _payments(donor.id, date_from, date_to)
    use = use_of_funds(donor.id, date_from, date_to)
    results = results_of([g.grant_id for g in use.grants], date_from, date_to)
    return Statement(
        donor_id=donor.id, donor_name=donor.name, anonymous=donor.anonymous, date_from=date_from, date_to=date_to,
        language=language or donor.language, currencies=[by_currency[c] for c in sorted(by_currency)], usd=usd,
        pledges=pledge_lines, announced=announced, payments=payments, use=use, results=results,
        fund=fund_context(date_from, date_to))


def donors_with_activity(date_from: dt.date, date_to: dt.date) -> list[int]:
    """Donors with a ledger movement in the period or pledges outstanding at its start (one query)."""
    moved = (JournalEntry.value_date >= date_from) & (JournalEntry.value_date <= date_to)
    open_before = (JournalEntry.value_date < date_from) & (Posting.account == ledger.RECEIVABLE)
    rows = db.session.execute(
        select(Posting.donor_id)
        .join(JournalEntry, Posting.entry_id == JournalEntry.id)
        .where(Posting.donor_id.is_not(None), JournalEntry.value_date <= date_to)
        .group_by(Posting.donor_id)
        .having(or_(func.count(case((moved, 1))) > 0,
                    func.coalesce(func.sum(case((open_before, Posting.amount_minor), else_=0)), 0) != 0))
    ).scalars().all()
    known = set(db.session.execute(select(Donor.id).where(Donor.id.in_(rows))).scalars()) if rows else set()
    return sorted(d for d in rows if d in known)


# Presentation: plain data for the templates, the PDF, CSV and JSON -------------------------------------------


def results_view(results: dict, grants: list[GrantShare]) -> dict:
    """The public results (:func:`results_of`) with labels in the current language, as plain lists: ``grants`` and
    ``grants_total`` (None when not published) for the statement's grants, the rest for the whole fund."""
    numbers = {g.grant_id: g for g in grants}
    return {
        "reported": bool(results["reported"]),
        "grants_total": results["grants_total"],
        "withdrawn": results["withdrawn"],
        "total": results["total"],
        "grants": [{"number": numbers[g].number if g in numbers else f"#{g}",
                    "organisation": numbers[g].organisation if g in numbers else "", "victims": v}
                   for g, v in results["grants"].items()],
        "sexes": [{"code": s, "label": _label(SEX_LABELS, s), "total": results["sexes"][s],
                   "cells": [results["sex_age"][(s, a)] for a in results["ages"]]} for s in results["sexes"]],
        "ages": [{"code": a, "label": _label(AGE_LABELS, a), "total": results["ages"][a]} for a in results["ages"]],
        "by_form": [{"code": c, "label": _label(FORM_LABELS, c), "count": v} for c, v in results["by_form"].items()],
        "by_assistance": [{"code": c, "label": _label(ASSISTANCE_LABELS, c), "count": v}
                          for c, v in results["by_assistance"].items()],
        "by_country": [{"code": c, "label": country_label(c), "count": v}
                       for c, v in results["by_country"].items()],
    }


def _movement_dict(m: Movement) -> dict:
    return {"currency": m.currency, "opening": m.opening, "pledged": m.pledged, "received": m.received,
            "written_off": m.written_off, "closing": m.closing}


def context(statement: Statement) -> dict:
    """The statement as plain data (codes, amounts as Decimals, dates), for JSON and the templates."""
    s = statement
    return {
        "donor": {"id": s.donor_id, "name": s.donor_name},
        "period": {"from": s.date_from, "to": s.date_to},
        "language": s.language,
        "number": s.number,
        "issued_at": s.issued_at,
        "verification_code": s.verification_code,
        "verification_url": s.verification_url,
        "currency": BASE_CURRENCY,
        "summary": {
            **{k: v for k, v in _movement_dict(s.usd).items() if k != "currency"},
            "reconciles": s.usd.reconciles and all(m.reconciles for m in s.currencies),
            "payments_received": s.received_usd,
            "received_against_pledges_at_receipt_rates": s.received_against_pledges_usd,
            "exchange_difference": s.exchange_difference,
            "unpledged_received": s.unpledged_usd,
        },
        "reconciliation": [_movement_dict(m) for m in s.currencies],
        "pledges": [{"id": p.id, "pledged_on": p.pledged_on, "confirmed_on": p.confirmed_on, "amount": p.amount,
                     "currency": p.currency, "status": p.status,
                     "earmark": {"type": p.earmark_type, "value": p.earmark_value} if p.earmark_type else None,
                     "movement": _movement_dict(p.movement), "usd": _movement_dict(p.usd)} for p in s.pledges],
        "announced": [{"id": p.id, "pledged_on": p.pledged_on, "amount": p.amount, "currency": p.currency,
                       "status": p.status} for p in s.announced],
        "payments": [{"date": p.date, "reference": p.reference, "pledge_id": p.pledge_id, "currency": p.currency,
                      "amount": p.amount, "rate": p.rate, "rate_month": p.rate_month, "usd": p.usd,
                      "reversal": p.reversal} for p in s.payments],
        "payment_totals": [{"currency": c, "amount": a, "usd": u} for c, a, u in s.payment_totals()],
        "use_of_funds": {
            "opening": s.use.opening, "received": s.use.received, "attributed": s.use.attributed,
            "psc": s.use.psc, "held": s.use.held,
            "grants": [{"grant_id": g.grant_id, "number": g.number, "organisation": g.organisation,
                        "title": g.title, "countries": g.countries, "paid_in_period": g.paid_in_period,
                        "unearmarked": g.unearmarked, "earmarked": g.earmarked, "total": g.total}
                       for g in s.use.grants],
            "earmarks": [{"type": e.type, "value": e.value, "opening": e.opening, "received": e.received,
                          "attributed": e.attributed, "psc": e.psc, "held": e.held, "grants": e.grants}
                         for e in s.use.earmarks],
        },
        "results": {k: (v if not isinstance(v, dict) else
                        {("|".join(key) if isinstance(key, tuple) else str(key)): val for key, val in v.items()})
                    for k, v in s.results.items()},
        "fund": asdict(s.fund),
    }


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def as_json(statement: Statement) -> dict:
    """The statement as JSON-ready data (amounts as decimal strings beside their currency, ISO dates)."""
    data = _jsonable(context(statement))
    data["method"] = str(METHOD)
    return data


def json_bytes(statement: Statement) -> bytes:
    return json.dumps(as_json(statement), ensure_ascii=False, indent=2).encode("utf-8")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula is prefixed with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, Decimal | int):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


CSV_COLUMNS = ("section", "item", "label", "date", "currency", "amount", "rate", "usd", "value")


def csv_bytes(statement: Statement) -> bytes:
    """The statement as CSV (UTF-8 with BOM, one row per figure), labels in the statement's language."""
    s = statement
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)

    def row(section, item, label="", date=None, currency=None, amount=None, rate=None, usd=None, value=None):
        writer.writerow([_cell(v) for v in (section, item, label, date, currency, amount, rate, usd, value)])

    with force_locale(s.language):
        row("statement", "donor", s.donor_name, value=s.donor_id)
        row("statement", "period_from", date=s.date_from)
        row("statement", "period_to", date=s.date_to)
        if s.number:
            row("statement", "number", value=s.number)
            row("statement", "verification_code", value=s.verification_code)
        labels = movement_labels()
        for key in ("opening", "pledged", "received", "written_off", "closing"):
            row("summary", key, labels[key], currency=BASE_CURRENCY, usd=getattr(s.usd, key))
        row("summary", "payments_received", str(_l("Payments received (at the rates of their months)")),
            currency=BASE_CURRENCY, usd=s.received_usd)
        row("summary", "exchange_difference", str(_l("Exchange difference on payments against pledges")),
            currency=BASE_CURRENCY, usd=s.exchange_difference)
        row("summary", "unpledged_received", str(_l("Payments without a pledge")), currency=BASE_CURRENCY,
            usd=s.unpledged_usd)
        for m in s.currencies:
            for key in ("opening", "pledged", "received", "written_off", "closing"):
                row("reconciliation", key, labels[key], currency=m.currency, amount=getattr(m, key))
        for p in s.pledges:
            row("pledge", p.id, p.earmark_value or "", date=p.pledged_on, currency=p.currency, amount=p.amount,
                usd=p.usd.closing, value=p.status)
        for p in s.payments:
            row("payment", p.reference, str(_l("Reversal")) if p.reversal else "", date=p.date, currency=p.currency,
                amount=p.amount, rate=p.rate, usd=p.usd, value=p.pledge_id)
        for c, a, u in s.payment_totals():
            row("payment_total", c, currency=c, amount=a, usd=u)
        row("use_of_funds", "opening", str(_l("Your money not yet spent at the start of the period")),
            currency=BASE_CURRENCY, usd=s.use.opening)
        row("use_of_funds", "received", str(_l("Your payments in the period")), currency=BASE_CURRENCY,
            usd=s.use.received)
        row("use_of_funds", "attributed", str(_l("Paid to grants")), currency=BASE_CURRENCY, usd=s.use.attributed)
        row("use_of_funds", "psc", str(_l("Programme support costs")), currency=BASE_CURRENCY, usd=s.use.psc)
        row("use_of_funds", "held", str(_l("Held by the fund for grants to come")), currency=BASE_CURRENCY,
            usd=s.use.held)
        for g in s.use.grants:
            row("use_of_funds_grant", g.number, g.organisation, currency=BASE_CURRENCY, usd=g.total)
        view = results_view(s.results, s.use.grants)
        for g in view["grants"]:
            row("results_grant", g["number"], g["organisation"], value=g["victims"])
        row("results_grants", "total", str(_l("Victims assisted by these grants")), value=view["grants_total"])
        row("results", "total", str(_l("Victims assisted by all the fund's grants")), value=view["total"])
        for sex in view["sexes"]:
            for age, cell in zip(view["ages"], sex["cells"], strict=True):
                row("results_sex_age", f"{sex['code']}|{age['code']}", f"{sex['label']}, {age['label']}", value=cell)
            row("results_sex", sex["code"], sex["label"], value=sex["total"])
        for age in view["ages"]:
            row("results_age", age["code"], age["label"], value=age["total"])
        for name in ("by_form", "by_assistance", "by_country"):
            for item in view[name]:
                row(f"results_{name[3:]}", item["code"], item["label"], value=item["count"])
        for key, value in asdict(s.fund).items():
            row("fund", key, currency=BASE_CURRENCY if isinstance(value, Decimal) else None,
                usd=value if isinstance(value, Decimal) else None, value=None if isinstance(value, Decimal) else value)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def movement_labels() -> dict[str, str]:
    return {
        "opening": str(_l("Outstanding pledges at the start of the period")),
        "pledged": str(_l("Pledges confirmed in the period (net of cancellations)")),
        "received": str(_l("Paid against pledges")),
        "written_off": str(_l("Written off")),
        "closing": str(_l("Outstanding pledges at the end of the period")),
    }


# The PDF ------------------------------------------------------------------------------------------------------

#: Payment rows per preformatted block (a long list is laid out as blocks of text, not as a table: WeasyPrint
#: lays out long tables slowly).
ROWS_PER_BLOCK = 40


def _pad(text: str, width: int, right: bool = False) -> str:
    text = text.replace("\u202f", " ").replace("\xa0", " ")
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.rjust(width) if right else text.ljust(width)


def payment_blocks(statement: Statement) -> tuple[str, list[str]]:
    """The payment list as fixed-width text: a header line and blocks of :data:`ROWS_PER_BLOCK` lines."""
    from fund.templating import money

    header = "  ".join([_pad(str(_l("Date")), 10), _pad(str(_l("Reference")), 26), _pad(str(_l("Pledge")), 10),
                        _pad(str(_l("Amount")), 21, True), _pad(str(_l("Rate")), 12, True),
                        _pad("USD", 17, True)])
    lines = []
    for p in statement.payments:
        reference = p.reference + (" (" + str(_l("reversal")) + ")" if p.reversal else "")
        lines.append("  ".join([
            _pad(p.date.isoformat(), 10), _pad(reference, 26),
            _pad(str(p.pledge_id) if p.pledge_id else "—", 10), _pad(money(p.amount, p.currency), 21, True),
            _pad(format_rate(p.rate), 12, True), _pad(money(p.usd, BASE_CURRENCY), 17, True)]))
    blocks = ["\n".join(lines[i:i + ROWS_PER_BLOCK]) for i in range(0, len(lines), ROWS_PER_BLOCK)]
    return header, blocks


def format_rate(rate: Decimal) -> str:
    from flask_babel import format_decimal

    text = format(rate.normalize(), "f")
    places = len(text.split(".")[1]) if "." in text else 0
    return format_decimal(rate, format="#,##0." + "0" * max(places, 1) if places else "#,##0")


def qr_data_uri(url: str) -> str:
    import segno

    return segno.make(url, error="m").png_data_uri(scale=3, border=2)


def pdf_context(statement: Statement, *, preview: bool) -> dict:
    """Plain data for templates/pdf/statement.html (call under the statement's locale)."""
    header, blocks = payment_blocks(statement)
    data = context(statement)
    data["results_view"] = results_view(statement.results, statement.use.grants)
    data["labels"] = movement_labels()
    data["method"] = str(METHOD)
    data["results_note"] = str(RESULTS_NOTE)
    data["withdrawn_note"] = str(WITHDRAWN_NOTE)
    data["payment_header"] = header
    data["payment_blocks"] = blocks
    data["preview"] = preview
    data["lang"] = statement.language
    data["qr"] = qr_data_uri(statement.verification_url) if statement.verification_url else None
    data["earmark_labels"] = {k: str(v) for k, v in EARMARK_LABELS.items()}
    return data


def render_statement_pdf(statement: Statement, *, preview: bool) -> bytes:
    """The statement as PDF, rendered in the statement's language within the configured limits."""
    from fund.pdf import html_to_pdf_bounded, pdf_limits, render_html

    with force_locale(statement.language):
        html = render_html("pdf/statement.html", pdf_context(statement, preview=preview))
    timeout, memory = pdf_limits()
    return html_to_pdf_bounded(html, timeout, memory_mb=memory)


def external_url(endpoint: str, **values) -> str:
    """An absolute URL, in a request or outside one (CLI: ``SERVER_BASE_URL``)."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    with current_app.test_request_context(base_url=current_app.config.get("SERVER_BASE_URL") or None):
        return url_for(endpoint, _external=True, **values)


def issued_statements(donor_id: int | None = None):
    """Issued statements, newest first (a query to paginate)."""
    query = select(IssuedStatement).order_by(IssuedStatement.issued_at.desc(), IssuedStatement.id.desc())
    if donor_id is not None:
        query = query.where(IssuedStatement.donor_id == donor_id)
    return query


__all__ = ["METHOD", "SMALL", "WITHHELD", "Statement", "as_json", "build_statement", "csv_bytes",
           "donors_with_activity", "json_bytes", "render_statement_pdf", "results_view", "use_of_funds"]


# HTTP responses -----------------------------------------------------------------------------------------------


def file_name(statement: Statement, extension: str) -> str:
    return f"statement-{statement.donor_id}-{statement.date_from:%Y%m%d}-{statement.date_to:%Y%m%d}.{extension}"


def as_response(statement: Statement, fmt: str):
    """The statement as a download: PDF (a preview, not an issued statement), CSV or JSON."""
    from flask import Response

    from fund.errors import FundError
    from fund.i18n import translate
    from fund.pdf import PdfError

    if fmt == "json":
        return Response(json_bytes(statement), mimetype="application/json")
    if fmt == "csv":
        data, mimetype = csv_bytes(statement), "text/csv"  # werkzeug adds "; charset=utf-8"
    else:
        try:
            data = render_statement_pdf(statement, preview=True)
        except PdfError as exc:
            raise FundError(translate("The statement could not be produced; try again later."), status=503,
                            code="pdf_failed") from exc
        mimetype = "application/pdf"
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{file_name(statement, fmt)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def issued_response(issued: IssuedStatement, data: bytes):
    """The stored PDF of an issued statement, as issued."""
    from flask import Response

    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{issued.number}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["ETag"] = f'"{issued.sha256}"'
    return response
