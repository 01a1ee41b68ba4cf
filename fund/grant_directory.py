"""What grants achieved, as the rest of the service sees it.

Donor statements and public outputs need facts that belong to the grants package (grant numbers, where
grants work, their funding window, the victims assisted as reported in accepted grantee reports), but
``donors`` never imports ``grants``. The grants package registers a :class:`GrantDirectory` here at start-up;
readers call :func:`directory`. Everything crossing this boundary is plain data: aggregate counts only, never a
person. Before any count is shown to a donor or the public it goes through :mod:`fund.suppression`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class GrantInfo:
    id: int
    number: str
    organisation: str
    title: str
    countries: tuple[str, ...]  # ISO 3166-1 alpha-2
    funding_window: str
    regions: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()  # forms of exploitation addressed, types of assistance


@dataclass
class Results:
    """Victims assisted, from accepted grantee reports, as raw aggregate counts (not yet suppressed)."""

    by_sex_age: dict[tuple[str, str], int] = field(default_factory=dict)
    by_form: dict[str, int] = field(default_factory=dict)
    by_assistance: dict[str, int] = field(default_factory=dict)
    by_country: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_sex_age.values())

    def add(self, other: Results) -> None:
        for mine, theirs in ((self.by_sex_age, other.by_sex_age), (self.by_form, other.by_form),
                             (self.by_assistance, other.by_assistance), (self.by_country, other.by_country)):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value


class GrantDirectory(Protocol):
    def grants(self, ids: Iterable[int]) -> dict[int, GrantInfo]:
        """Facts about the given grants (unknown ids are left out)."""

    def grants_matching(self, *, funding_window: str | None = None, region: str | None = None,
                        theme: str | None = None) -> list[int]:
        """Ids of grants an earmark (window, region or theme) applies to."""

    def earmarks_applying(self, grant_id: int, earmarks: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of the ``earmarks`` ((type, value), the type one of funding_window, region, theme) apply to one
        grant: what a payment needs, answered from that grant alone (one query), whatever the number of grants.
        Optional: :func:`earmarks_applying` falls back to :meth:`grants_matching` for a directory without it."""

    def results(self, grant_ids: Iterable[int], date_from: dt.date | None = None,
                date_to: dt.date | None = None) -> dict[int, Results]:
        """Results per grant from accepted reports whose reporting period ends within [date_from, date_to]."""


class _NoGrants:
    def grants(self, ids):
        return {}

    def grants_matching(self, **earmark):
        return []

    def earmarks_applying(self, grant_id, earmarks):
        return set()

    def results(self, grant_ids, date_from=None, date_to=None):
        return {}


_directory: GrantDirectory = _NoGrants()


def register(directory: GrantDirectory) -> None:
    global _directory
    _directory = directory


def directory() -> GrantDirectory:
    return _directory


def earmarks_applying(grant_id: int, earmarks: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of the ``earmarks`` ((type, value)) apply to the grant, as the registered directory says."""
    earmarks = sorted(set(earmarks))
    if not earmarks:
        return set()
    one_grant = getattr(_directory, "earmarks_applying", None)
    if one_grant is not None:
        return set(one_grant(grant_id, earmarks))
    return {(etype, evalue) for etype, evalue in earmarks
            if grant_id in _directory.grants_matching(**{etype: evalue})}
