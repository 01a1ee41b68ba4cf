"""Response headers and the request's edges: HSTS in production, no-store on private responses, untrusted hosts,
forwarded headers believed only with PROXY_COUNT, production refusing SQLite at start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SAFE_PRODUCTION = {
    "FUND_ENV": "production", "SECRET_KEY": "k" * 48, "TRUSTED_HOSTS": "grants.example.org",
    "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2",
    "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0", "FLASK_DEBUG": "0", "AUDIT_HMAC_KEY": "h" * 40,
}


def run_app(script: str, **env) -> dict:
    """Run ``script`` (which has ``app = create_app()`` and prints one JSON line) in a fresh process: the
    extensions are module-level objects, and such an app must not share them with the suite's."""
    environ = {k: v for k, v in os.environ.items() if k not in SAFE_PRODUCTION and k != "PROXY_COUNT"}
    environ.update(env)
    prelude = "import json\nfrom fund import create_app\n"
    out = subprocess.run([sys.executable, "-c", prelude + script], capture_output=True, text=True, timeout=90,
                         env=environ, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    assert lines, out.stderr[-3000:]
    return json.loads(lines[-1])


def production_script(body: str) -> str:
    # The pages requested touch neither the database nor the rate-limit store, so neither server is needed.
    return "app = create_app()\nclient = app.test_client()\n" + body


def test_production_sends_hsts_and_refuses_unknown_hosts():
    result = run_app(production_script(
        "good = client.get('/', headers={'Host': 'grants.example.org'}, base_url='https://grants.example.org')\n"
        "bad = client.get('/', headers={'Host': 'evil.example.com'})\n"
        "api = client.get('/api/v1/openapi.json', headers={'Host': 'evil.example.com'})\n"
        "print(json.dumps({'good': good.status_code, 'hsts': good.headers.get('Strict-Transport-Security'),\n"
        "  'bad': bad.status_code, 'bad_body': bad.get_data(as_text=True), 'api': api.status_code}))\n"
    ), **SAFE_PRODUCTION)
    assert result["good"] == 200
    assert result["hsts"].startswith("max-age=31536000")
    assert result["bad"] == 400 and result["api"] == 400
    assert "Traceback" not in result["bad_body"] and "Unknown host" in result["bad_body"]


def test_development_sends_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/").headers


def test_forwarded_headers_are_believed_only_with_proxy_count():
    script = production_script(
        "from flask import request\n"
        "@app.get('/_whoami')\n"
        "def whoami():\n"
        "    return {'addr': request.remote_addr, 'scheme': request.scheme}\n"
        "from fund.permissions import LIBRARY_PUBLIC_ENDPOINTS\n"
        "LIBRARY_PUBLIC_ENDPOINTS.add('whoami')\n"
        "r = client.get('/_whoami', headers={'Host': 'grants.example.org', 'X-Forwarded-For': '6.6.6.6, 1.2.3.4',\n"
        "  'X-Forwarded-Proto': 'https'}, environ_base={'REMOTE_ADDR': '10.0.0.9'},\n"
        "  base_url='http://grants.example.org')\n"
        "print(json.dumps(r.get_json() or {'status': r.status_code}))\n"
    )
    assert run_app(script, **SAFE_PRODUCTION) == {"addr": "10.0.0.9", "scheme": "http"}
    # One proxy: its own addition (the last address) is believed, not what the client wrote before it.
    assert run_app(script, **SAFE_PRODUCTION, PROXY_COUNT="1") == {"addr": "1.2.3.4", "scheme": "https"}


def test_create_app_in_production_with_sqlite_raises(tmp_path):
    result = run_app(
        "from fund.config import ConfigError\n"
        "try:\n"
        "    create_app()\n"
        "    print(json.dumps({'raised': None}))\n"
        "except ConfigError as exc:\n"
        "    print(json.dumps({'raised': str(exc)}))\n",
        **{**SAFE_PRODUCTION, "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}",
           "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0"},
    )
    assert result["raised"] and "must not be SQLite" in result["raised"]
    assert not (tmp_path / "prod.db").exists()


def test_a_bad_proxy_count_is_a_configuration_error(monkeypatch, tmp_path):
    from fund.config import ConfigError, build_config

    monkeypatch.setenv("PROXY_COUNT", "two")
    with pytest.raises(ConfigError, match="PROXY_COUNT"):
        build_config(tmp_path)


def _no_store(resp) -> bool:
    return resp.cache_control.no_store and resp.cache_control.private and not resp.cache_control.public


def test_private_pages_and_downloads_are_not_stored(app, login_as, api_as, client):
    user = login_as("auditor")
    for url in ("/dashboard", "/account/tokens", "/audit", "/audit.csv"):
        resp = user.get(url)
        resp.get_data()
        resp.close()  # the CSV is streamed from an open transaction
        assert resp.status_code == 200, url
        assert _no_store(resp), (url, resp.headers.get("Cache-Control"))
    api = api_as("auditor")
    resp = api.get("/api/v1/me")
    assert resp.status_code == 200 and _no_store(resp)
    # Flask-Security's pages: a valid header, not "private=True, no-store=True".
    resp = client.get("/account/login")
    assert _no_store(resp)
    assert "=True" not in resp.headers["Cache-Control"]
    # Public pages and static files to anonymous visitors may be cached.
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
    assert "no-store" not in user.get("/static/fund.css").headers.get("Cache-Control", "")
