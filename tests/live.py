"""Real servers and real concurrency for tests.

``live_server(app)`` serves the application with werkzeug's threaded WSGI server on 127.0.0.1 (an ephemeral
port) in a background thread: every request runs in its own thread with its own database session, as under
gunicorn. ``concurrently(n, send)`` runs ``send(i)`` in ``n`` real threads released together by a barrier;
``fire(url, n, ...)`` sends ``n`` HTTP requests at once with ``http.client`` and returns their responses.
``rounds(full, light)``: how many times a long race test repeats its race, ``full`` under ``make test-full``
(``FUND_TEST_FULL=1``, .ci/run's PostgreSQL pass), ``light`` in the everyday ``make test``.

    with live_server(app) as server:
        responses = fire(server.url + "/api/v1/contributions", 50, method="POST", json_body=body,
                         headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k1"})
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import make_server


def rounds(full: int, light: int) -> int:
    """``full`` when FUND_TEST_FULL=1 (make test-full), else ``light``: every race still runs in every pass."""
    return full if os.environ.get("FUND_TEST_FULL") == "1" else light


@dataclass
class LiveServer:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextmanager
def live_server(app, host: str = "127.0.0.1") -> Iterator[LiveServer]:
    """Serve ``app`` on ``host`` with a threaded WSGI server for the duration of the block."""
    server = make_server(host, 0, app, threaded=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(host, server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def concurrently(n: int, send: Callable[[int], Any], timeout: float = 120) -> list[Any]:
    """Call ``send(i)`` for i in range(n) in n threads started together; return results in order. An exception
    raised by a call is returned in its place."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[i] = send(i)
        except Exception as exc:  # reported to the caller, not swallowed
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,), name=f"client-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "requests did not finish in time"
    return results


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(url: str, method: str = "GET", *, json_body: Any = None, headers: dict | None = None,
            timeout: float = 120) -> HttpResponse:
    """One HTTP request on its own connection."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        body = None
        all_headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body=body, headers=all_headers)
        resp = conn.getresponse()
        return HttpResponse(resp.status, dict(resp.getheaders()), resp.read())
    finally:
        conn.close()


def fire(url: str, n: int, *, method: str = "POST", json_body: Any = None, headers: dict | None = None,
         bodies: Callable[[int], Any] | None = None, timeout: float = 120) -> list[HttpResponse]:
    """Send ``n`` requests at once (``bodies(i)`` gives each its own body, else ``json_body``)."""
    results = concurrently(n, lambda i: request(url, method, json_body=bodies(i) if bodies else json_body,
                                                headers=headers, timeout=timeout), timeout=timeout)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} requests failed: {errors[:3]}"
    return results
