"""The grants directory answers for one grant which earmarks apply to it, in one query, exactly as the fund-wide
list of matching grants would."""

from __future__ import annotations

from sqlalchemy import event

from fund import grant_directory
from fund.db import db

EARMARKS = [
    ("funding_window", "Sub-grant programme 2 (medium-term assistance)"), ("funding_window", "medium_term"),
    ("funding_window", "Sub-grant programme 1 (emergency assistance)"), ("region", "West Africa"),
    ("region", "Sénégal"), ("region", "Europe"), ("theme", "Forced labour"), ("theme", "Travail forcé"),
    ("theme", "Child victims"),
]


def test_earmarks_applying_to_one_grant_agree_with_the_grants_matching_them(app, world):
    w = world()
    with app.app_context():
        d = grant_directory.directory()
        seen: list[str] = []

        def record(conn, cursor, statement, parameters, context, executemany):
            if not statement.startswith("BEGIN"):
                seen.append(statement)

        db.session.expire_all()
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            applying = d.earmarks_applying(w.grant_id, EARMARKS)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        assert len(seen) == 1, seen
        assert applying == {("funding_window", "Sub-grant programme 2 (medium-term assistance)"),
                            ("funding_window", "medium_term"), ("region", "West Africa"), ("region", "Sénégal"),
                            ("theme", "Forced labour"), ("theme", "Travail forcé")}
        assert applying == {(t, v) for t, v in EARMARKS if w.grant_id in d.grants_matching(**{t: v})}
        assert grant_directory.earmarks_applying(w.grant_id, EARMARKS) == applying
        assert d.earmarks_applying(w.grant_id + 1000, EARMARKS) == set()  # no such grant
        assert d.earmarks_applying(w.grant_id, [("donor_country", "Norway")]) == set()  # not an earmark type
