"""Several application servers: two gunicorn servers (two workers each) on different ports against one PostgreSQL
database, one Redis and one S3-compatible object store (moto's server), as in production behind a load balancer.

The journey alternates between them: a document uploaded through one is downloaded through the other; a statement
issued on one is served by the other; statement issuing and funding decisions raced across both keep their
guarantees; sign-in throttling counts the failures seen by both; ``flask mail send`` and ``flask reminders send``
started on both nodes at once never send a message twice (checked on a real SMTP server).

PostgreSQL only (SQLite is one machine's file): runs when TEST_DATABASE_URL is set, as in .ci/run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fund.accounting import figures, ledger
from fund.db import db
from fund.mail import OutboxMessage, queue_mail
from tests.conftest import CSRF_RE, PASSWORD, free_port
from tests.live import HttpResponse, concurrently, request
from tests.object_store import CREDENTIALS, new_bucket, object_names

ROOT = Path(__file__).resolve().parent.parent
REDIS = "redis://127.0.0.1:6379/0"

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                                reason="several servers share a PostgreSQL database: set TEST_DATABASE_URL")


@dataclass
class Node:
    name: str
    url: str
    process: subprocess.Popen
    log: Path


@dataclass
class Cluster:
    a: Node
    b: Node
    env: dict  # the environment both nodes run with (for their CLI commands too)
    endpoint: str
    bucket: str

    @property
    def nodes(self) -> tuple[Node, Node]:
        return self.a, self.b


def _wait_ready(node: Node, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise RuntimeError(f"{node.name} exited: {node.log.read_text()[-3000:]}")
        try:
            if request(node.url + "/readyz", timeout=5).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{node.name} not ready: {node.log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def cluster(app, s3_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cluster")
    bucket = new_bucket(s3_server)
    prefix = f"fund-test-{uuid.uuid4().hex[:10]}"
    config = app.config
    env = {
        **os.environ, **CREDENTIALS,
        "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": config["SECRET_KEY"],
        "AUDIT_HMAC_KEY": config.get("AUDIT_HMAC_KEY") or "",
        "AUDIT_SIGNING_KEY_FILE": config.get("AUDIT_SIGNING_KEY_FILE") or "",
        "AUDIT_CHECKPOINT_DIR": config.get("AUDIT_CHECKPOINT_DIR") or "",
        "STORAGE_URL": f"s3://{bucket}/files",
        "STORAGE_S3_ENDPOINT_URL": s3_server,
        "RATELIMIT_STORAGE_URI": REDIS,
        "MAIL_SERVER": "",
        "FUND_ENV": "development",
    }
    if config.get("DATABASE_OWNER_URL"):
        env["DATABASE_OWNER_URL"] = config["DATABASE_OWNER_URL"]
    overrides = {"RATELIMIT_KEY_PREFIX": prefix,
                 "SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS": config["SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS"]}
    nodes = []
    for name in ("node-a", "node-b"):
        port = free_port()
        metrics_dir = tmp / f"{name}-metrics"
        metrics_dir.mkdir()
        log = tmp / f"{name}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "--timeout", "120",
             "--graceful-timeout", "5", f"fund:create_app({overrides!r})"],
            cwd=ROOT, env={**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}, stdout=log.open("wb"),
            stderr=subprocess.STDOUT)
        nodes.append(Node(name, f"http://127.0.0.1:{port}", process, log))
    saved = config["STORAGE_URL"], config["STORAGE_S3_ENDPOINT_URL"]
    # The test process (factories) stores files where the nodes do.
    config["STORAGE_URL"], config["STORAGE_S3_ENDPOINT_URL"] = env["STORAGE_URL"], s3_server
    try:
        for node in nodes:
            _wait_ready(node)
        yield Cluster(nodes[0], nodes[1], env, s3_server, bucket)
    finally:
        config["STORAGE_URL"], config["STORAGE_S3_ENDPOINT_URL"] = saved
        for node in nodes:
            node.process.terminate()
        for node in nodes:
            try:
                node.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()
        import redis

        client = redis.Redis.from_url(REDIS)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def multipart(url: str, fields: dict, files: dict, headers: dict) -> HttpResponse:
    """POST multipart/form-data: ``files`` maps a field to (file name, bytes)."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
    try:
        conn.request("POST", parsed.path, body=body,
                     headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        resp = conn.getresponse()
        return HttpResponse(resp.status, dict(resp.getheaders()), resp.read())
    finally:
        conn.close()


def within(app, fn):
    """Run ``fn()`` in a request context of the test process, commit, return its result."""
    with app.test_request_context():
        result = fn()
        db.session.commit()
        db.session.remove()
        return result


def test_a_document_uploaded_on_one_server_is_downloaded_from_the_other(app, cluster, make_user, api_token):
    from grants.models import Document
    from tests.grants import factories as gf

    applicant = make_user("applicant")
    app_id = within(app, lambda: gf.make_application(gf.user(applicant), complete=False).id)
    headers = bearer(api_token(applicant))
    data = gf.png_bytes()
    resp = multipart(f"{cluster.a.url}/api/v1/applications/{app_id}/documents", {"kind": "letter_of_support"},
                     {"file": ("lettre.png", data)}, headers)
    assert resp.status == 201, resp.body[:500]
    doc_id = resp.json()["id"]
    download = request(f"{cluster.b.url}/api/v1/documents/{doc_id}", headers=headers)
    assert download.status == 200 and download.body == data
    assert "attachment" in download.headers["Content-Disposition"]
    with app.app_context():
        key = db.session.get(Document, doc_id).storage_key
    assert f"files/{key}" in object_names(cluster.endpoint, cluster.bucket)  # in the shared store, not a disk


def _statement_year(app, name: str):
    from tests.donors.statement_support import build_year

    return within(app, lambda: build_year(name))


def test_a_statement_issued_on_one_server_is_served_by_the_other(app, cluster, make_user, api_token):
    year = _statement_year(app, "Kingdom of Norway")
    headers = bearer(api_token(make_user("finance_officer")))
    body = {"from": f"{year.today.year}-01-01", "to": year.today.isoformat()}
    issued = request(f"{cluster.a.url}/api/v1/donors/{year.donor_id}/statements", "POST", json_body=body,
                     headers=headers)
    assert issued.status == 201, issued.body[:500]
    statement = issued.json()
    again = request(f"{cluster.b.url}/api/v1/statements/{statement['number']}", headers=headers)
    assert again.status == 200 and again.headers["Content-Type"] == "application/pdf"
    assert hashlib.sha256(again.body).hexdigest() == statement["sha256"]
    twice = request(f"{cluster.b.url}/api/v1/donors/{year.donor_id}/statements", "POST", json_body=body,
                    headers=headers)
    assert twice.status == 409 and statement["number"] in twice.json()["error"]["message"]


def test_statements_issued_at_once_on_both_servers_are_one_per_donor_with_consecutive_numbers(
        app, cluster, make_user, api_token):
    from donors.models import IssuedStatement
    from tests.donors import factories as df
    from tests.donors.statement_support import build_year

    def setup():
        year = build_year("Kingdom of Norway")
        ids = [year.donor_id]
        for i in range(2):
            donor = df.donor(f"Donor {i}")
            df.contribution(donor, "1000.00", "USD", received_on=dt.date(year.today.year, 2, 1), reference=f"D-{i}")
            ids.append(donor.id)
        return ids, year.today

    donor_ids, today = within(app, setup)
    headers = bearer(api_token(make_user("finance_officer")))
    body = {"from": f"{today.year}-01-01", "to": today.isoformat()}
    requests_per_donor = 4

    def issue(i: int):
        node = cluster.nodes[i % 2]
        donor_id = donor_ids[i % len(donor_ids)]
        return request(f"{node.url}/api/v1/donors/{donor_id}/statements", "POST", json_body=body, headers=headers)

    responses = concurrently(len(donor_ids) * requests_per_donor, issue)
    assert not [r for r in responses if isinstance(r, BaseException)], responses
    created = [r.json() for r in responses if r.status == 201]
    assert sorted(r.status for r in responses) == [201] * 3 + [409] * 9, [(r.status, r.body[:200]) for r in responses]
    assert sorted(s["number"] for s in created) == [f"VTF-ST-{today.year}-{n:04d}" for n in (1, 2, 3)]
    with app.app_context():
        rows = db.session.execute(select(IssuedStatement)).scalars().all()
        assert sorted(r.donor_id for r in rows) == sorted(donor_ids)
    for statement in created:  # each one served by both servers, as issued
        for node in cluster.nodes:
            pdf = request(f"{node.url}/api/v1/statements/{statement['number']}", headers=headers).body
            assert hashlib.sha256(pdf).hexdigest() == statement["sha256"]


def test_funding_decisions_raced_across_both_servers_never_commit_more_than_the_fund_has(
        app, cluster, make_user, api_token):
    from grants.awards.models import Grant
    from tests.grants import factories as gf
    from tests.grants.review import factories as rf

    applications, affordable = 8, 3
    amount, with_psc, cash = Decimal("35000.00"), Decimal("39550.00"), Decimal("120000.00")
    reviewers = [make_user("reviewer"), make_user("reviewer")]

    def setup():
        rf.fund_cash(str(cash))
        call = gf.make_call()
        return [rf.under_review(call=call, reviewers=reviewers, scores=[[4, 4], [4, 3]], name=f"Org {i}").id
                for i in range(applications)]

    ids = within(app, setup)
    headers = bearer(api_token(make_user("fund_manager")))
    responses = concurrently(applications, lambda i: request(
        f"{cluster.nodes[i % 2].url}/api/v1/applications/{ids[i]}/decision", "POST",
        json_body={"outcome": "approved", "amount": str(amount)}, headers=headers))
    assert not [r for r in responses if isinstance(r, BaseException)], responses
    assert sorted(r.status for r in responses) == [201] * affordable + [409] * (applications - affordable), [
        (r.status, r.body[:200]) for r in responses]
    assert all(r.json()["error"]["code"] == "insufficient_funds" for r in responses if r.status == 409)
    with app.app_context():
        position = figures.fund_position()
        assert position.committed == with_psc * affordable and position.available >= 0
        assert ledger.unbalanced_entries() == []
        assert db.session.execute(select(func.count()).select_from(Grant)).scalar_one() == affordable


def _sign_in(node: Node, email: str, password: str) -> int:
    """The form sign-in as a browser does it on ``node`` (its own session cookie and CSRF token)."""
    page = request(node.url + "/account/login")
    cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    match = CSRF_RE.search(page.body.decode())
    token = match.group(1) or match.group(2)
    form = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token})
    parsed = urllib.parse.urlsplit(node.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        conn.request("POST", "/account/login", body=form,
                     headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def test_sign_in_throttling_counts_the_failures_seen_by_both_servers(app, cluster, make_user):
    user = make_user("applicant")
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])  # "5 per 15 minutes"
    statuses = [_sign_in(cluster.nodes[i % 2], user.email, "wrong-password-0") for i in range(limit)]
    assert statuses == [200] * limit  # refused with the form again, each counted
    # Neither server alone has seen `limit` failures; together they have: both refuse, even the right password.
    for node in cluster.nodes:
        assert _sign_in(node, user.email, PASSWORD) == 429


def _cli(cluster: Cluster, *args: str, extra_env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                            env={**cluster.env, **(extra_env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _both_at_once(cluster: Cluster, *args: str, extra_env: dict | None = None) -> list[str]:
    processes = [_cli(cluster, *args, extra_env=extra_env) for _ in cluster.nodes]
    outputs = []
    for p in processes:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0, out[-3000:]
        outputs.append(out)
    return outputs


def test_mail_and_reminders_run_on_both_nodes_at_once_send_each_message_once(app, cluster, smtp_server):
    from fund.uploads import check_bytes
    from grants.awards import operations as ops
    from grants.awards.models import Grant
    from tests.grants.awards import factories as af

    def active_grant():
        grant = af.make_grant(cash="50000.00")
        ops.upload_signed_agreement(grant, check_bytes(af.gf.PDF_BYTES, "signed.pdf"), af.member(grant))
        ops.countersign(grant, af.gf.manager())
        return grant.id, grant.report("interim").due_on

    grant_id, due = within(app, active_grant)
    with app.app_context():
        assert db.session.get(Grant, grant_id).status == "active"
        for i in range(30):
            queue_mail(f"person{i}@example.org", f"Message {i}", body=f"Body {i}")
        db.session.commit()

    day = (due - dt.timedelta(days=14)).isoformat()
    for _ in range(2):  # twice over: the second pair finds the day's reminders already queued
        _both_at_once(cluster, "reminders", "send", "--today", day)
    with app.app_context():
        reminders = db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "grants:reminder")
                                       ).scalars().all()
        recipients = [m.recipient for m in reminders]
        assert reminders and len(recipients) == len(set(recipients)), recipients  # one per person, not two
        queued = db.session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()

    mail_env = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_server.port)}
    _both_at_once(cluster, "mail", "send", extra_env=mail_env)
    delivered = [(m["To"], m["Subject"]) for m in smtp_server.messages]
    assert len(delivered) == queued and len(set(delivered)) == queued, "every message exactly once"
    with app.app_context():
        statuses = db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                                      ).all()
        assert dict(statuses) == {"sent": queued}
    _both_at_once(cluster, "mail", "send", extra_env=mail_env)
    assert len(smtp_server.messages) == queued  # nothing is sent again


def test_metrics_add_up_the_workers_of_a_server(cluster):
    from prometheus_client.parser import text_string_to_metric_families

    def healthz_count(node: Node) -> float:
        body = request(node.url + "/metrics").body.decode()
        return sum(s.value for family in text_string_to_metric_families(body) for s in family.samples
                   if s.name == "fund_http_requests_total" and s.labels.get("endpoint") == "ops.healthz")

    before = healthz_count(cluster.a)
    concurrently(20, lambda i: request(cluster.a.url + "/healthz"))
    assert healthz_count(cluster.a) - before == 20  # whichever of the two workers answered each one
