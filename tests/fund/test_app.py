"""Configuration, errors, health, i18n, OpenAPI, and models agreeing with the migrations."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from fund.config import ConfigError, build_config, check_production
from fund.db import db


def production_env(monkeypatch, **values):
    monkeypatch.setenv("FUND_ENV", "production")
    for key in ("SECRET_KEY", "DATABASE_URL", "TRUSTED_HOSTS", "RATELIMIT_STORAGE_URI", "FLASK_DEBUG",
                "AUDIT_HMAC_KEY", "AUDIT_HMAC_KEY_FILE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in values.items():
        monkeypatch.setenv(key, value)


def test_production_refuses_an_unsafe_configuration(monkeypatch, tmp_path):
    production_env(monkeypatch)
    with pytest.raises(ConfigError) as info:
        check_production(build_config(tmp_path))
    message = str(info.value)
    for needed in ("SECRET_KEY", "DATABASE_URL", "TRUSTED_HOSTS", "RATELIMIT_STORAGE_URI"):
        assert needed in message
    assert not (tmp_path / "secret_key").exists()  # production never generates a key


def test_production_refuses_sqlite_and_debug(monkeypatch, tmp_path):
    production_env(monkeypatch, SECRET_KEY="x" * 40, DATABASE_URL="sqlite:///prod.db", TRUSTED_HOSTS="grants.org",
                   RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0")
    with pytest.raises(ConfigError, match="must not be SQLite"):
        check_production(build_config(tmp_path))


def test_production_with_a_safe_configuration(monkeypatch, tmp_path):
    production_env(monkeypatch, SECRET_KEY="k" * 48, DATABASE_URL="postgresql://fund@db/fund",
                   TRUSTED_HOSTS="grants.example.org", RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
                   AUDIT_HMAC_KEY="h" * 48)
    config = build_config(tmp_path)
    check_production(config)
    assert config["SESSION_COOKIE_SECURE"] and config["SESSION_COOKIE_HTTPONLY"]
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax" and config["REMEMBER_COOKIE_SECURE"]
    assert config["DEBUG"] is False
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert config["TRUSTED_HOSTS"] == ["grants.example.org"]


def test_development_generates_a_secret_key_once(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("FUND_ENV", raising=False)
    first = build_config(tmp_path)["SECRET_KEY"]
    assert len(first) >= 32 and (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert build_config(tmp_path)["SECRET_KEY"] == first
    assert build_config(tmp_path)["DEBUG"] is False
    assert build_config(tmp_path)["SESSION_COOKIE_SECURE"] is False


def test_session_cookie_flags(client, make_user, sign_in):
    user = make_user("applicant")
    resp = sign_in(client, user)
    cookie = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session=")][-1]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_not_ready_when_the_database_is_unreachable():
    # A separate process: extensions are module-level objects, and this app must not share them with the suite's.
    script = (
        "from fund import create_app\n"
        "app = create_app({'TESTING': True, 'SQLALCHEMY_DATABASE_URI': "
        "'postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2'})\n"
        "r = app.test_client().get('/readyz')\n"
        "print(r.status_code, r.json['database'], app.test_client().get('/healthz').status_code)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["503", "unavailable", "200"], out.stderr[-2000:]


def test_api_errors_have_one_shape(client, api_as):
    resp = client.get("/api/v1/nothing-here")
    assert resp.status_code == 404
    assert resp.json["error"]["code"] == "not_found" and resp.json["error"]["fields"] == {}
    resp = api_as("auditor").get("/api/v1/audit/events?per_page=5000&page=x")
    assert resp.status_code == 422
    fields = resp.json["error"]["fields"]
    assert set(fields) == {"per_page", "page"}
    resp = api_as("applicant").post("/api/v1/me")
    assert resp.status_code == 405 and resp.json["error"]["code"] == "method_not_allowed"


def test_malformed_json_is_a_client_error(api_as):
    api = api_as("auditor")
    resp = api.get("/api/v1/audit/events", data="{not json", headers={"Content-Type": "application/json"})
    assert resp.status_code in (200, 400, 422)


def test_html_errors_are_pages_in_the_users_language(client):
    resp = client.get("/no-such-page", headers={"Accept-Language": "fr"})
    assert resp.status_code == 404 and resp.mimetype == "text/html"
    assert "Page introuvable" in resp.get_data(as_text=True)
    resp = client.get("/no-such-page")
    assert "Page not found" in resp.get_data(as_text=True)


def test_language_switch_is_remembered(app, login_as, client):
    page = client.get("/")
    assert 'lang="en"' in page.get_data(as_text=True)
    client.submit("/language", {"lang": "fr", "next": "/"}, page="/")
    page = client.get("/").get_data(as_text=True)
    assert 'lang="fr"' in page and "Se connecter" in page
    user_client = login_as("applicant")
    user_client.submit("/language", {"lang": "fr", "next": "//evil.example.org"}, page="/dashboard")
    from fund.models import User

    with app.app_context():
        assert db.session.get(User, user_client.user.id).language == "fr"
    fresh = app.test_client()
    from tests.conftest import PASSWORD

    fresh.submit("/account/login", {"email": user_client.user.email, "password": PASSWORD})
    assert "Tableau de bord" in fresh.get("/dashboard").get_data(as_text=True)


def test_language_switch_refuses_open_redirects(client):
    resp = client.submit("/language", {"lang": "en", "next": "//evil.example.org/x"}, page="/")
    assert resp.headers["Location"] == "/"


def test_openapi_document(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    spec = resp.json
    assert spec["info"]["title"] == "VTF Grants API"
    assert "/api/v1/audit/verify" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_models_and_migrations_agree(app):
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert diff == []


def test_security_headers(client):
    resp = client.get("/")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
