"""fund.ops: liveness and readiness, Prometheus metrics and who may read them, request ids in headers, error pages,
API errors and JSON log lines."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fund.db import db
from fund.mail import queue_mail
from fund.ops import configure_logging
from tests.conftest import free_port

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def metric_samples(body: str) -> dict:
    """{(name, frozenset(labels.items())): value} of a Prometheus text exposition."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


@pytest.fixture
def config(app):
    """config(KEY=value, ...): set app settings for the test, restored afterwards."""
    saved = {}

    def set_(**values):
        for k, v in values.items():
            saved.setdefault(k, app.config.get(k))
            app.config[k] = v

    yield set_
    app.config.update(saved)


def test_liveness_checks_nothing_but_the_process(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json == {"status": "ok"}


def test_ready_when_database_storage_and_redis_answer(client, config):
    config(RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0")
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json == {"status": "ok", "database": "ok", "storage": "ok", "redis": "ok"}


def test_redis_is_checked_only_when_it_is_configured(client, config):
    config(RATELIMIT_STORAGE_URI="memory://")
    assert client.get("/readyz").json == {"status": "ok", "database": "ok", "storage": "ok"}


def test_not_ready_when_redis_does_not_answer(client, config):
    config(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0")
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json == {"status": "unavailable", "database": "ok", "storage": "ok", "redis": "unavailable"}


def test_not_ready_when_files_cannot_be_stored(client, config, tmp_path):
    (tmp_path / "a-file").write_bytes(b"")
    config(STORAGE_URL="", STORAGE_DIR=str(tmp_path / "a-file" / "files"))
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.json["storage"] == "unavailable" and resp.json["database"] == "ok"


def test_not_ready_when_the_object_store_bucket_is_missing(client, config, s3_server):
    config(STORAGE_URL="s3://no-such-bucket/files", STORAGE_S3_ENDPOINT_URL=s3_server)
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.json["storage"] == "unavailable"


def test_metrics_count_requests_by_endpoint_and_time_them(client):
    def samples():
        resp = client.get("/metrics")
        assert resp.status_code == 200 and resp.mimetype == "text/plain"
        return metric_samples(resp.get_data(as_text=True))

    ok = ("fund_http_requests_total", frozenset({"endpoint": "ops.healthz", "method": "GET", "status": "200"}.items()))
    missing = ("fund_http_requests_total",
               frozenset({"endpoint": "unmatched", "method": "GET", "status": "404"}.items()))
    timed = ("fund_http_request_duration_seconds_count",
             frozenset({"endpoint": "ops.healthz", "method": "GET"}.items()))
    before = samples()
    for _ in range(3):
        client.get("/healthz")
    client.get("/no-such-page/12345")
    after = samples()
    assert after[ok] - before.get(ok, 0) == 3
    assert after[missing] - before.get(missing, 0) == 1
    assert after[timed] - before.get(timed, 0) == 3
    assert not any("12345" in str(labels) for _, labels in after), "raw paths never become labels"


def test_metrics_show_the_outbox_backlog(app, client):
    with app.app_context():
        for i in range(3):
            queue_mail(f"someone{i}@example.org", "Subject", body="Body")
        db.session.commit()
    samples = metric_samples(client.get("/metrics").get_data(as_text=True))
    assert samples[("fund_mail_outbox_backlog", frozenset())] == 3


def test_metrics_show_the_age_of_the_newest_audit_checkpoint(app, client, config, tmp_path):
    config(AUDIT_CHECKPOINT_DIR=str(tmp_path / "none-yet"))
    assert metric_samples(client.get("/metrics").get_data(as_text=True))[
        ("fund_audit_checkpoint_age_seconds", frozenset())] == -1
    config(AUDIT_CHECKPOINT_DIR=str(tmp_path))
    two_hours_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    week_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    for when, event in ((week_ago, 1), (two_hours_ago, 9)):
        (tmp_path / f"{when:%Y%m%dT%H%M%S%fZ}-{event:012d}.json").write_text("{}")
    age = metric_samples(client.get("/metrics").get_data(as_text=True))[
        ("fund_audit_checkpoint_age_seconds", frozenset())]
    assert 7190 < age < 7300


def test_metrics_are_only_for_loopback_clients_without_a_token(client, config):
    config(METRICS_TOKEN="")
    assert client.get("/metrics").status_code == 200
    resp = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert resp.status_code == 404 and b"fund_http" not in resp.data


def test_metrics_with_a_token_need_it_from_everyone(client, config):
    config(METRICS_TOKEN="s3cret-scrape-token")
    assert client.get("/metrics").status_code == 404  # loopback is not enough once a token is set
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    resp = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"},
                      environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert resp.status_code == 200 and b"fund_http_requests_total" in resp.data


def test_every_response_has_a_request_id(client):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert HEX32.match(first.headers["X-Request-ID"]) and HEX32.match(second.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    assert client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c21"}).headers["X-Request-ID"] == "lb-7f3a9c21"
    for bad in ("short", "has space in it", "x" * 129, "<script>alert(1)</script>", "a;b=c\"quoted"):
        assert HEX32.match(client.get("/healthz", headers={"X-Request-ID": bad}).headers["X-Request-ID"])


def test_api_errors_carry_the_request_id(client, api_as):
    resp = client.get("/api/v1/nothing-here")
    assert resp.status_code == 404 and resp.json["error"]["request_id"] == resp.headers["X-Request-ID"]
    resp = api_as("auditor").get("/api/v1/audit/events?per_page=5000", headers={"X-Request-ID": "client-req-0001"})
    assert resp.status_code == 422 and resp.json["error"]["request_id"] == "client-req-0001"


def test_error_pages_show_the_request_id_in_the_users_language(client):
    resp = client.get("/no-such-page")
    rid = resp.headers["X-Request-ID"]
    assert resp.status_code == 404 and f"Reference of this error: {rid}" in resp.get_data(as_text=True)
    resp = client.get("/no-such-page", headers={"Accept-Language": "fr"})
    assert f"Référence de cette erreur : {resp.headers['X-Request-ID']}" in resp.get_data(as_text=True)


@pytest.fixture
def json_log(app, config):
    """Log lines of the app as JSON, captured from the root logger's stream handler."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    config(LOG_FORMAT="json", LOG_ACCESS=True)
    configure_logging(app)
    access = logging.getLogger("fund.access")
    level = access.level
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        access.setLevel(level)


def test_log_lines_are_json_with_the_request_id(app, client, json_log):
    resp = client.get("/healthz", headers={"X-Request-ID": "trace-00000042"})
    with app.test_request_context("/", headers={"X-Request-ID": "trace-00000043"}):
        logging.getLogger("fund.something").warning("disk at %d%%", 91)
    lines = json_log()
    access = [r for r in lines if r["logger"] == "fund.access"]
    assert access == [{**access[0], "request_id": "trace-00000042", "method": "GET", "path": "/healthz",
                       "endpoint": "ops.healthz", "status": 200, "level": "INFO"}]
    assert access[0]["duration_ms"] >= 0 and resp.headers["X-Request-ID"] == "trace-00000042"
    warning = [r for r in lines if r["logger"] == "fund.something"]
    assert warning[0]["message"] == "disk at 91%" and warning[0]["request_id"] == "trace-00000043"
    assert warning[0]["level"] == "WARNING" and "time" in warning[0]
