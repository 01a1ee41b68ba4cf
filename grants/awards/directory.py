"""What the rest of the service may know about grants: :class:`fund.grant_directory.GrantDirectory`, registered at
start-up, read by donor outputs through :func:`fund.grant_directory.directory` (donors never import grants).

Results come from ACCEPTED grantee reports only, as raw aggregate counts (suppression of small cells is the
reader's job). Earmarks are free text on pledges ("Sub-grant programme 1 (emergency assistance)", "Child
victims", "West Africa"): a grant matches when the text names its funding window, a region or country where it
works, or a form of exploitation or type of assistance it addresses (codes or English or French labels).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import joinedload, lazyload, selectinload

from fund.db import db
from fund.grant_directory import GrantInfo, Results
from grants.awards.models import BY_ASSISTANCE, BY_COUNTRY, BY_FORM, SEX_AGE, Grant, GrantReport
from grants.awards.reports import split_cell
from grants.models import Application, Call, Organisation
from grants.taxonomies import ASSISTANCE_TYPES, FORMS_OF_EXPLOITATION, WINDOWS, country_name

#: Grants an earmark can apply to (a terminated grant no longer receives money).
EARMARKABLE = ("pending_signature", "active", "suspended", "closed")
#: Region names (English and French) -> the first part of the IANA time zones of the countries in it.
REGIONS = {
    "africa": ("Africa",), "afrique": ("Africa",),
    "americas": ("America",), "amerique": ("America",), "ameriques": ("America",),
    "latin america": ("America",), "amerique latine": ("America",), "caribbean": ("America",),
    "asia": ("Asia",), "asie": ("Asia",), "asia-pacific": ("Asia", "Pacific", "Australia"),
    "asie-pacifique": ("Asia", "Pacific", "Australia"),
    "europe": ("Europe",), "oceania": ("Pacific", "Australia"), "oceanie": ("Pacific", "Australia"),
    "pacific": ("Pacific", "Australia"), "pacifique": ("Pacific", "Australia"),
    "middle east": ("Asia",), "moyen-orient": ("Asia",),
}
CHILD_WORDS = ("child", "enfant", "minor", "mineur")
CHILD_FORMS = {"child_soldiers", "csam_production"}


def _norm(text: str | None) -> str:
    text = unicodedata.normalize("NFD", text or "")
    return "".join(c for c in text if unicodedata.category(c) != "Mn").lower().strip()


@lru_cache(maxsize=1)
def _country_regions() -> dict[str, frozenset[str]]:
    """ISO country code -> the continents of its time zones (CLDR data shipped with Babel)."""
    from babel.core import get_global

    regions: dict[str, set[str]] = {}
    for zone, territory in get_global("zone_territories").items():
        prefix = zone.split("/", 1)[0]
        if prefix in ("Africa", "America", "Asia", "Europe", "Pacific", "Australia"):
            regions.setdefault(territory, set()).add(prefix)
    return {k: frozenset(v) for k, v in regions.items()}


def regions_of(countries: Iterable[str]) -> tuple[str, ...]:
    names = {"Africa": "Africa", "America": "Americas", "Asia": "Asia", "Europe": "Europe",
             "Pacific": "Oceania", "Australia": "Oceania"}
    found = {names[p] for c in countries for p in _country_regions().get(c, ())}
    return tuple(sorted(found))


def _labels(table: dict, code: str) -> set[str]:
    names = {_norm(code), _norm(code.replace("_", " "))}
    for lang in ("en", "fr"):
        with force_locale(lang):
            names.add(_norm(str(table[code])))
    return names


def _matches(value: str, names: set[str]) -> bool:
    return any(n and (n == value or n in value or value in n) for n in names if len(n) > 2)


class AwardsDirectory:
    """The grants package's :class:`fund.grant_directory.GrantDirectory`."""

    def _load(self, query):
        return db.session.execute(query.options(selectinload(Grant.application).selectinload(
            Application.beneficiaries))).scalars().all()

    def grants(self, ids: Iterable[int]) -> dict[int, GrantInfo]:
        """The facts of the given grants in one query of the columns they need (no grant object, none of its
        budget, tranches, reports or disbursements)."""
        ids = sorted(set(ids))
        if not ids:
            return {}
        rows = db.session.execute(
            select(Grant.id, Grant.number, Grant.title, Organisation.name, Application.countries, Call.window,
                   Application.forms_of_exploitation, Application.assistance_types)
            .join(Organisation, Organisation.id == Grant.organisation_id)
            .join(Application, Application.id == Grant.application_id)
            .join(Call, Call.id == Application.call_id)
            .where(Grant.id.in_(ids))).all()
        result = {}
        for grant_id, number, title, organisation, countries, window, forms, assistance in rows:
            countries = tuple(countries or ())
            result[grant_id] = GrantInfo(id=grant_id, number=number, organisation=organisation, title=title,
                                         countries=countries, funding_window=window, regions=regions_of(countries),
                                         themes=tuple([*(forms or ()), *(assistance or ())]))
        return result

    def grants_matching(self, *, funding_window: str | None = None, region: str | None = None,
                        theme: str | None = None) -> list[int]:
        rows = self._load(select(Grant).where(Grant.status.in_(EARMARKABLE)).order_by(Grant.id))
        return [g.id for g in rows if self._earmark_applies(g, funding_window, region, theme)]

    def earmarks_applying(self, grant_id: int, earmarks: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        earmarks = [(t, v) for t, v in earmarks if t in ("funding_window", "region", "theme")]
        if not earmarks:
            return set()
        grant = db.session.execute(
            select(Grant).where(Grant.id == grant_id, Grant.status.in_(EARMARKABLE))
            .options(joinedload(Grant.application).options(joinedload(Application.call),
                                                            joinedload(Application.beneficiaries), lazyload("*")),
                     lazyload("*"))
        ).unique().scalar_one_or_none()
        if grant is None:
            return set()
        return {(t, v) for t, v in earmarks if self._earmark_applies(grant, **{"funding_window": None, "region": None,
                                                                              "theme": None, t: v})}

    def _earmark_applies(self, g: Grant, funding_window, region, theme) -> bool:
        a = g.application
        if funding_window is not None:
            value = _norm(funding_window)
            code, (short, _label) = a.call.window, WINDOWS[a.call.window]
            names = _labels({code: WINDOWS[code][1]}, code) | {_norm(short)}
            number = {"SGP1": ("programme 1", "program 1", "sgp1", "emergency", "urgence"),
                      "SGP2": ("programme 2", "program 2", "sgp2", "medium", "moyen")}[short]
            if not (_matches(value, names) or any(n in value for n in number)):
                return False
        if region is not None:
            value = _norm(region)
            countries = a.countries or []
            names = {_norm(c) for c in countries} | {_norm(country_name(c, lang)) for c in countries
                                                    for lang in ("en", "fr")}
            prefixes = {p for c in countries for p in _country_regions().get(c, ())}
            wanted = {p for key, ps in REGIONS.items() if key in value for p in ps}
            if not (value in names or any(n and n in value for n in names if len(n) > 3) or prefixes & wanted):
                return False
        if theme is not None:
            value = _norm(theme)
            names: set[str] = set()
            for code in a.forms_of_exploitation or []:
                if code in FORMS_OF_EXPLOITATION:
                    names |= _labels(FORMS_OF_EXPLOITATION, code)
            for code in a.assistance_types or []:
                if code in ASSISTANCE_TYPES:
                    names |= _labels(ASSISTANCE_TYPES, code)
            children = any(b.age_band in ("0-11", "12-17") and b.count for b in a.beneficiaries) or bool(
                CHILD_FORMS & set(a.forms_of_exploitation or []))
            if not (_matches(value, names) or (children and any(w in value for w in CHILD_WORDS))):
                return False
        return True

    def results(self, grant_ids: Iterable[int], date_from: dt.date | None = None,
                date_to: dt.date | None = None) -> dict[int, Results]:
        ids = sorted(set(grant_ids))
        if not ids:
            return {}
        query = (select(GrantReport).options(selectinload(GrantReport.results))
                 .where(GrantReport.grant_id.in_(ids), GrantReport.status == "accepted"))
        if date_from is not None:
            query = query.where(GrantReport.period_end >= date_from)
        if date_to is not None:
            query = query.where(GrantReport.period_end <= date_to)
        out: dict[int, Results] = {}
        for report in db.session.execute(query).scalars():
            r = out.setdefault(report.grant_id, Results())
            for cell in report.results:
                if cell.breakdown == SEX_AGE:
                    key = split_cell(cell.key)
                    r.by_sex_age[key] = r.by_sex_age.get(key, 0) + cell.count
                else:
                    target = {BY_FORM: r.by_form, BY_ASSISTANCE: r.by_assistance, BY_COUNTRY: r.by_country}[
                        cell.breakdown]
                    target[cell.key] = target.get(cell.key, 0) + cell.count
        return out
