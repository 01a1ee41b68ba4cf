"""What operators see: health, readiness, metrics, and logs that tie a complaint to its request.

- ``GET /healthz``: liveness. The process answers; nothing else is checked, so a database outage does not get
  every application server restarted.
- ``GET /readyz``: readiness. The database answers, the file store is usable (:meth:`fund.storage.Storage.ready`)
  and, when ``RATELIMIT_STORAGE_URI`` names Redis, Redis answers. 503 naming the failing part otherwise (the
  reason is logged, not shown).
- ``GET /metrics``: Prometheus text. ``fund_http_requests_total`` and ``fund_http_request_duration_seconds`` by
  endpoint (the route's name, never the raw path) and method; ``fund_mail_outbox_backlog`` (messages not yet
  delivered); ``fund_audit_checkpoint_age_seconds`` (since the newest signed checkpoint of the audit trail, -1
  when there is none). Answered only to a bearer of ``METRICS_TOKEN`` when it is set, otherwise only to
  loopback clients (behind a reverse proxy set ``PROXY_COUNT`` so that the client address is the real one, or
  set the token). Under gunicorn with several workers, ``PROMETHEUS_MULTIPROC_DIR`` (an empty directory at
  each start) makes the counts those of every worker.
- Every request carries an id: the caller's ``X-Request-ID`` when it is a plain token (a proxy's), else a new
  one. It is returned in ``X-Request-ID``, written in every log line of the request, shown on error pages and
  in API errors (``error.request_id``). ``LOG_FORMAT=json`` (the default in production) writes one JSON object
  per line; ``fund.access`` logs one line per request in that format.

The scrape-time figures cost one indexed count and one directory listing, whatever the size of the fund.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import threading
import time
import uuid
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, g, has_request_context, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text

from fund.db import db
from fund.permissions import public

log = logging.getLogger("fund.ops")
access_log = logging.getLogger("fund.access")

bp = Blueprint("ops", __name__)

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}

#: Request metrics of this process (added over the workers' files under PROMETHEUS_MULTIPROC_DIR).
REGISTRY = CollectorRegistry()
REQUESTS = Counter("fund_http_requests", "HTTP requests answered, by endpoint, method and status.",
                   ["endpoint", "method", "status"], registry=REGISTRY)
LATENCY = Histogram("fund_http_request_duration_seconds", "Time to answer an HTTP request, by endpoint and method.",
                    ["endpoint", "method"], registry=REGISTRY,
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))


def request_id() -> str | None:
    """The id of the current request (None outside a request): the caller's ``X-Request-ID`` when it is a plain
    token, else a new one."""
    if not has_request_context():
        return None
    if "request_id" not in g:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
    return g.request_id


# Logs --------------------------------------------------------------------------------------------------------


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id() or "-"
        return True


def configure_logging(app: Flask) -> None:
    """JSON lines (python-json-logger) or plain text on the root logger's stream handler (the one
    ``logging.basicConfig`` installs; a test runner's capturing handlers are left as they are), each record with
    its request id."""
    root = logging.getLogger()
    if app.config["LOG_FORMAT"] == "json":
        from pythonjsonlogger.json import JsonFormatter

        formatter = JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                                  rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    for handler in [h for h in root.handlers if type(h) is logging.StreamHandler]:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
        handler.setFormatter(formatter)
    if app.config["LOG_ACCESS"]:
        access_log.setLevel(logging.INFO)


# Request boundary ----------------------------------------------------------------------------------------------


def _begin() -> None:
    request_id()
    g.request_started = time.perf_counter()


def _finish(response: Response) -> Response:
    response.headers["X-Request-ID"] = request_id()
    started = g.get("request_started")
    if started is not None:
        elapsed = time.perf_counter() - started
        endpoint = request.endpoint or "unmatched"
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        LATENCY.labels(endpoint, request.method).observe(elapsed)
        if current_app.config["LOG_ACCESS"]:
            access_log.info("%s %s %s", request.method, request.path, response.status_code,
                            extra={"method": request.method, "path": request.path, "endpoint": endpoint,
                                   "status": response.status_code, "duration_ms": round(elapsed * 1000, 1)})
    return response


# Health ---------------------------------------------------------------------------------------------------------


@bp.route("/healthz")
@public
def healthz():
    return {"status": "ok"}


_redis_clients: dict[str, object] = {}
_redis_lock = threading.Lock()


def _redis(url: str):
    with _redis_lock:
        if url not in _redis_clients:
            import redis

            _redis_clients[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        return _redis_clients[url]


def readiness() -> dict[str, str]:
    """``{part: "ok" | "unavailable"}`` for the database, the file store and Redis (when configured)."""
    from fund.storage import get_storage

    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:
        db.session.rollback()
        log.exception("readiness: database")
        checks["database"] = "unavailable"
    try:
        get_storage().ready()
        checks["storage"] = "ok"
    except Exception:
        log.exception("readiness: storage")
        checks["storage"] = "unavailable"
    limiter_uri = current_app.config.get("RATELIMIT_STORAGE_URI") or ""
    if limiter_uri.startswith(("redis://", "rediss://", "unix://")):
        try:
            _redis(limiter_uri).ping()
            checks["redis"] = "ok"
        except Exception:
            log.exception("readiness: redis")
            checks["redis"] = "unavailable"
    return checks


@bp.route("/readyz")
@public
def readyz():
    checks = readiness()
    ok = all(v == "ok" for v in checks.values())
    return {"status": "ok" if ok else "unavailable", **checks}, 200 if ok else 503


# Metrics --------------------------------------------------------------------------------------------------------


def _checkpoint_age(now: float) -> float:
    directory = current_app.config.get("AUDIT_CHECKPOINT_DIR")
    if not directory or not Path(directory).is_dir():
        return -1.0
    # Checkpoint files are named by their UTC creation time (fund.checkpoints): the greatest name is the newest.
    newest = max((e.name for e in os.scandir(directory) if e.name.endswith(".json") and e.name[0].isdigit()),
                 default=None)
    if newest is None:
        return -1.0
    import datetime as dt

    created = dt.datetime.strptime(newest.split("-", 1)[0], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=dt.UTC)
    return max(0.0, now - created.timestamp())


class StateCollector:
    """Figures read at scrape time from the database and the checkpoint directory."""

    def collect(self):
        from fund.mail import QUEUED, SENDING, OutboxMessage

        backlog = db.session.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status.in_([QUEUED, SENDING]))
        ).scalar_one()
        yield GaugeMetricFamily("fund_mail_outbox_backlog", "Messages in the outbox not yet delivered.", backlog)
        yield GaugeMetricFamily("fund_audit_checkpoint_age_seconds",
                                "Seconds since the newest signed audit checkpoint (-1: none).",
                                _checkpoint_age(time.time()))


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    return request.remote_addr in LOOPBACK


@bp.route("/metrics")
@public
def metrics():
    if not _allowed():
        abort(404)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        requests_registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(requests_registry)
    else:
        requests_registry = REGISTRY
    state = CollectorRegistry()
    state.register(StateCollector())
    body = generate_latest(requests_registry) + generate_latest(state)
    return Response(body, content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Called first in create_app, so that the request id and the timing start before any other extension can
    answer a request (a throttled sign-in still gets an id)."""
    configure_logging(app)
    app.before_request(_begin)
    app.after_request(_finish)
    app.register_blueprint(bp)
