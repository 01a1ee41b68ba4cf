"""The API's heaviest reads are answered from memory until the fund changes (fund.response_cache): a kept answer
is the same bytes as a fresh one, costs two statements (the caller and the fund's data version), and is never
served once anything in the fund has changed, nor to another caller, in another language, or on another day."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest

from fund import response_cache
from fund.db import db, utcnow
from fund.models import User
from grants import operations as grant_ops
from grants.models import Application, Call
from tests.grants import factories as gf
from tests.perf.test_query_counts import counting

LIST = "/api/v1/applications?per_page=50"


@pytest.fixture
def fund(app, make_user):
    """Two organisations, each with an application; ids of the applicants."""
    applicants = [make_user("applicant"), make_user("applicant")]
    with app.test_request_context():
        call = gf.make_call()
        for i, applicant in enumerate(applicants):
            gf.organisation_of(applicant, name=f"Organisation {i}")
            gf.make_application(applicant, call)
        db.session.commit()
        return {"call": call.id, "applicants": applicants}


def get(app, client, url, **kwargs):
    resp, statements = get_statements(app, client, url, **kwargs)
    return resp, len(statements)


def get_statements(app, client, url, **kwargs):
    with counting(app) as statements:
        resp = client.get(url, **kwargs)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp, statements


def ids(resp) -> list[int]:
    return sorted(item["id"] for item in resp.get_json()["items"])


def test_a_kept_answer_is_the_same_bytes_for_two_statements(app, api_as, fund):
    manager = api_as("fund_manager")
    first, statements = get_statements(app, manager, LIST)
    # The version is read first, before the caller: nothing the answer shows can be older than its key.
    assert "audit_head" in statements[0] and "api_token" in statements[1], statements[:2]
    computed = len(statements)
    again, kept = get(app, manager, LIST)
    assert again.get_data() == first.get_data()
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert again.headers["Link"] == first.headers["Link"] and 'rel="first"' in first.headers["Link"]
    assert kept == 2 < computed  # the caller's token and the data version
    assert again.headers["Cache-Control"] == first.headers["Cache-Control"]  # the API's own headers still apply


def test_any_change_through_an_operation_is_seen_at_once(app, api_as, make_user, fund):
    manager = api_as("fund_manager")
    before, _ = get(app, manager, LIST)
    assert len(before.get_json()["items"]) == 2
    newcomer = make_user("applicant")
    with app.test_request_context():
        gf.make_application(newcomer, db.session.get(Call, fund["call"]))
        db.session.commit()
    after, _ = get(app, manager, LIST)
    assert len(after.get_json()["items"]) == 3

    # A change to an item already listed (its title) is seen too.
    with app.test_request_context():
        application = db.session.get(Application, after.get_json()["items"][0]["id"])
        grant_ops.update_application(application, {"project_title": "A renamed project"},
                                     db.session.get(User, application.created_by_id))
        db.session.commit()
        renamed_id = application.id
    renamed, _ = get(app, manager, LIST)
    assert {i["id"]: i["project_title"] for i in renamed.get_json()["items"]}[renamed_id] == "A renamed project"


def test_each_caller_sees_their_own_answer(app, api_as, fund):
    manager = api_as("fund_manager")
    first, second = (api_as(a) for a in fund["applicants"])
    everything, _ = get(app, manager, LIST)
    own_first, _ = get(app, first, LIST)
    own_second, _ = get(app, second, LIST)
    assert len(ids(everything)) == 2
    assert len(ids(own_first)) == len(ids(own_second)) == 1
    assert ids(own_first) != ids(own_second)
    assert ids(own_first) + ids(own_second) == ids(everything)


def test_each_language_has_its_own_answer(app, api_as, fund):
    """The caller's language is part of the key, whatever moved it (here, a change the audit trail never saw)."""
    manager = api_as("fund_manager")
    english, _ = get(app, manager, LIST)
    with app.app_context():
        db.session.get(User, manager.user.id).language = "fr"
        db.session.commit()
    french, _ = get(app, manager, LIST)
    assert english.get_data() != french.get_data()
    assert "Brouillon" in french.get_data(as_text=True) and "Brouillon" not in english.get_data(as_text=True)
    french_again, kept = get(app, manager, LIST)
    assert french_again.get_data() == french.get_data() and kept == 2


def test_a_new_day_computes_the_answer_again(app, api_as, fund):
    manager = api_as("fund_manager")
    _, computed = get(app, manager, LIST)
    tomorrow = utcnow() + dt.timedelta(days=1)
    with mock.patch("fund.response_cache.utcnow", return_value=tomorrow):
        _, next_day = get(app, manager, LIST)
        _, kept = get(app, manager, LIST)
    assert next_day > 2 and kept == 2


def test_refusals_are_never_kept(app, api_as, fund):
    """An answer that is not a 200 (a bad query, someone else's grant) is computed every time."""
    manager = api_as("fund_manager")
    for _ in range(2):
        assert manager.get("/api/v1/applications?per_page=100000").status_code == 422
    with app.app_context():
        store = app.extensions.get("response_cache")
        assert store is None or len(store.cache) == 0


def test_off_and_bounded(app, api_as, fund):
    manager = api_as("fund_manager")
    old = app.config["RESPONSE_CACHE_BYTES"]
    try:
        app.config["RESPONSE_CACHE_BYTES"] = 0
        get(app, manager, LIST)  # the token's first use of the day is recorded once

        def computed() -> bool:
            _, statements = get_statements(app, manager, LIST)
            return any("FROM application" in statement for statement in statements)

        assert computed() and computed()
        # A store smaller than the answer keeps nothing: every request computes it.
        app.config["RESPONSE_CACHE_BYTES"] = 300
        assert computed() and computed()
        # The control: a store large enough keeps it.
        app.config["RESPONSE_CACHE_BYTES"] = old
        assert computed() and not computed()
    finally:
        app.config["RESPONSE_CACHE_BYTES"] = old
        with app.app_context():
            response_cache.clear()
