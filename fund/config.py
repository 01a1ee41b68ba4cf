"""Configuration, read from the environment.

Development (the default) needs nothing set: SQLite in ``instance/fund.db`` and a secret key generated once
into ``instance/secret_key``. Production (``FUND_ENV=production``) refuses to start with an unsafe
configuration; see :func:`check_production`.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import time
from pathlib import Path


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the message says what to set."""


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _count(name: str, default: int = 0) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise ConfigError(f"{name} must be a whole number (0 or more), not {value!r}")
    return int(value)


def _dev_secret_key(instance_path: Path) -> str:
    """A key generated once per checkout into instance/ (never committed: instance/ is ignored)."""
    instance_path.mkdir(parents=True, exist_ok=True)
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


#: Retention periods in days, per class of records (see fund.retention and the README). A period is overridden
#: with ``RETENTION_<NAME>_DAYS`` (e.g. ``RETENTION_DELIVERED_MAIL_DAYS=30``); ``never`` keeps the class.
RETENTION_DEFAULTS = {
    "unsuccessful_application_documents": 730,
    "withdrawn_drafts": 365,
    "closed_grant_files": 2557,
    "expired_invitations": 90,
    "api_tokens": 365,
    "idempotency_keys": 30,
    "delivered_mail": 90,
}


def _retention_days() -> dict:
    days: dict = {}
    for name, default in RETENTION_DEFAULTS.items():
        value = os.environ.get(f"RETENTION_{name.upper()}_DAYS", "").strip().lower()
        if not value:
            days[name] = default
        elif value == "never":
            days[name] = None
        elif value.isdigit():
            days[name] = int(value)
        else:
            raise ConfigError(f"RETENTION_{name.upper()}_DAYS must be a number of days or 'never'")
    return days


def _dev_key_file(path: Path) -> str:
    """A random key created once at ``path`` (exclusively: concurrent first starts agree on one key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    for _ in range(50):  # another process may be writing it this instant
        value = path.read_text().strip()
        if value:
            return value
        time.sleep(0.01)
    raise ConfigError(f"{path} is empty")


def _audit_settings(instance_path: Path, production: bool) -> dict:
    """The audit trail's anchors (see fund.audit and fund.checkpoints): the chain's HMAC key, which the
    database never holds, and where signed checkpoints of the chain head are written and checked."""
    key = os.environ.get("AUDIT_HMAC_KEY", "").strip()
    key_file = os.environ.get("AUDIT_HMAC_KEY_FILE", "").strip()
    if not key and key_file:
        key = Path(key_file).read_text().strip()
    if not key and not production:
        key = _dev_key_file(instance_path / "audit_hmac_key")
    signing = os.environ.get("AUDIT_SIGNING_KEY_FILE", "").strip()
    checkpoint_dir = os.environ.get("AUDIT_CHECKPOINT_DIR", "").strip()
    return {
        "AUDIT_HMAC_KEY": key or None,
        "AUDIT_SIGNING_KEY_FILE": signing or (None if production else str(instance_path / "audit_signing_key.pem")),
        "AUDIT_VERIFY_KEY_FILE": os.environ.get("AUDIT_VERIFY_KEY_FILE", "").strip() or None,
        "AUDIT_CHECKPOINT_DIR": checkpoint_dir or (None if production else str(instance_path / "audit-checkpoints")),
        "AUDIT_CHECKPOINT_MAIL": _bool("AUDIT_CHECKPOINT_MAIL", False),
        "DATABASE_OWNER_URL": _normalise_db_url(os.environ.get("DATABASE_OWNER_URL", "").strip()) or None,
    }


def _normalise_db_url(url: str) -> str:
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def build_config(instance_path: Path, overrides: dict | None = None) -> dict:
    env = os.environ.get("FUND_ENV", "development").strip().lower()
    production = env == "production"
    db_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'fund.db'}"
    if db_url.startswith("postgres://"):
        db_url = "postgresql+psycopg://" + db_url[len("postgres://"):]
    elif db_url.startswith("postgresql://"):
        db_url = "postgresql+psycopg://" + db_url[len("postgresql://"):]

    secret_key = os.environ.get("SECRET_KEY")
    if not secret_key and not production:
        secret_key = _dev_secret_key(instance_path)
    totp_secret = os.environ.get("TOTP_SECRET") or (secret_key or "")
    trusted_hosts = [h.strip() for h in os.environ.get("TRUSTED_HOSTS", "").split(",") if h.strip()]

    config: dict = {
        "FUND_ENV": env,
        "DEBUG": _bool("FLASK_DEBUG", False) if not production else False,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", str(12 * 1024 * 1024))),
        "UPLOAD_MAX_BYTES": int(os.environ.get("UPLOAD_MAX_BYTES", str(10 * 1024 * 1024))),
        "STORAGE_DIR": os.environ.get("STORAGE_DIR") or str(instance_path / "files"),
        # file:///directory or s3://bucket/prefix (see fund/storage.py); empty: STORAGE_DIR.
        "STORAGE_URL": os.environ.get("STORAGE_URL", ""),
        "STORAGE_S3_ENDPOINT_URL": os.environ.get("STORAGE_S3_ENDPOINT_URL", ""),
        # Operations (fund/ops.py): log lines as JSON and one access line per request (both on in production);
        # /metrics for a bearer of METRICS_TOKEN, or for loopback clients only when it is empty.
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "json" if production else "text").strip().lower(),
        "LOG_ACCESS": _bool("LOG_ACCESS", production),
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        "TRUSTED_HOSTS": trusted_hosts or None,
        # How many reverse proxies stand in front of the service: only then are X-Forwarded-For and
        # X-Forwarded-Proto believed (Werkzeug ProxyFix), and only that many hops of them.
        "PROXY_COUNT": _count("PROXY_COUNT"),
        # Strict-Transport-Security in production (seconds; 0 sends none).
        "HSTS_SECONDS": _count("HSTS_SECONDS", 31536000) if production else 0,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        "SERVER_BASE_URL": os.environ.get("SERVER_BASE_URL", "http://127.0.0.1:5000"),
        # Cookies
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        # i18n
        "LANGUAGES": ["en", "fr"],
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "BABEL_TRANSLATION_DIRECTORIES": ";".join(
            str(Path(__file__).parent.parent / pkg / "translations")
            for pkg in ("fund", "grants", "donors", "transparency")
        ),
        # Mail: the outbox is delivered by `flask mail send`; without MAIL_SERVER it is logged.
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", ""),
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", False),
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "VTF Grants <no-reply@vtf.example.org>"),
        "MAIL_MAX_ATTEMPTS": int(os.environ.get("MAIL_MAX_ATTEMPTS", "8")),
        # Throttling (Flask-Limiter): memory in development, Redis in production.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_HEADERS_ENABLED": False,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "5 per 15 minutes"),
        # The heaviest API reads kept in each process until the fund's data changes (fund.response_cache); 0 is off.
        "RESPONSE_CACHE_BYTES": int(os.environ.get("RESPONSE_CACHE_BYTES", str(16 << 20))),
        "RESPONSE_CACHE_MAX_ITEM": 1 << 20,
        # Flask-WTF
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        # flask-smorest / OpenAPI
        "API_TITLE": "VTF Grants API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/",
        "API_SPEC_OPTIONS": {
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            },
            "security": [{"bearerAuth": []}],
        },
        # Flask-Security-Too
        "SECURITY_PASSWORD_HASH": "argon2",
        "SECURITY_PASSWORD_SALT": os.environ.get("SECURITY_PASSWORD_SALT") or (secret_key or ""),
        # Password policy: 12 characters or more, zxcvbn score 3 or more, not the e-mail address
        # (fund.security_utils.FundPasswordUtil gives the messages in both languages).
        "SECURITY_PASSWORD_LENGTH_MIN": 12,
        "SECURITY_PASSWORD_COMPLEXITY_CHECKER": "zxcvbn",
        "SECURITY_ZXCVBN_MINIMUM_SCORE": 3,
        "SECURITY_REGISTERABLE": True,
        "SECURITY_SEND_REGISTER_EMAIL": True,
        "SECURITY_RECOVERABLE": True,
        "SECURITY_CHANGEABLE": True,
        "SECURITY_TRACKABLE": True,
        # Registration answers the same whether or not the address has an account: a new address gets a
        # confirmation link, an existing one a note to its owner (SECURITY_RETURN_GENERIC_RESPONSES).
        "SECURITY_CONFIRMABLE": True,
        "SECURITY_TWO_FACTOR": True,
        "SECURITY_TWO_FACTOR_ENABLED_METHODS": ["authenticator"],
        "SECURITY_TWO_FACTOR_ALWAYS_VALIDATE": True,
        "SECURITY_TOTP_SECRETS": {"1": totp_secret},
        "SECURITY_TOTP_ISSUER": "VTF Grants",
        "SECURITY_TOKEN_AUTHENTICATION_HEADER": "X-Fund-Unused-Token",
        "SECURITY_URL_PREFIX": "/account",
        "SECURITY_POST_LOGIN_VIEW": "/dashboard",
        "SECURITY_POST_LOGOUT_VIEW": "/",
        "SECURITY_POST_REGISTER_VIEW": "/account/login",
        "SECURITY_RESET_PASSWORD_WITHIN": dt.timedelta(hours=2),
        "SECURITY_EMAIL_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "no-reply@vtf.example.org"),
        "SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS": False,
        "SECURITY_USERNAME_ENABLE": False,
        "SECURITY_EMAIL_VALIDATOR_ARGS": {"check_deliverability": False},
        "SECURITY_MULTI_FACTOR_RECOVERY_CODES": False,
        "SECURITY_CLI_USERS_NAME": False,
        "SECURITY_CLI_ROLES_NAME": False,
        "SECURITY_RETURN_GENERIC_RESPONSES": True,
        "SECURITY_LOGOUT_METHODS": ["POST"],
        "SECURITY_FRESHNESS_GRACE_PERIOD": dt.timedelta(minutes=5),
        # Flask-Security's own auth tokens are not used (the API has personal tokens, listed and revocable).
        "SECURITY_API_ENABLED_METHODS": ["session"],
        # Flask-Security would send "private=True, no-store=True"; fund.__init__ sets Cache-Control instead.
        "SECURITY_CACHE_CONTROL": {},
        # The fund
        "PSC_RATE": os.environ.get("PSC_RATE", "0.13"),
        "OPERATING_RESERVE_USD": os.environ.get("OPERATING_RESERVE_USD", "0"),
        # Public transparency pages and IATI files
        "IATI_REPORTING_ORG_REF": os.environ.get("IATI_REPORTING_ORG_REF", "XX-VTF-GRANTS"),
        "IATI_REPORTING_ORG_TYPE": os.environ.get("IATI_REPORTING_ORG_TYPE", "40"),
        "IATI_REPORTING_ORG_NAME": os.environ.get(
            "IATI_REPORTING_ORG_NAME", "United Nations Voluntary Trust Fund for Victims of Trafficking in Persons"),
        "FUND_CONTRIBUTIONS_EMAIL": os.environ.get("FUND_CONTRIBUTIONS_EMAIL", ""),
        "FUND_BANK_DETAILS": {k: os.environ.get(f"FUND_BANK_{k.upper()}", "") for k in (
            "account_name", "bank", "address", "account", "iban", "swift", "reference")},
        "RETENTION_DAYS": _retention_days(),
        **_audit_settings(instance_path, production),
    }
    if overrides:
        config.update(overrides)
    return config


def check_production(config: dict) -> None:
    """Refuse an unsafe production configuration with a message that says what to fix."""
    if config.get("FUND_ENV") != "production":
        return
    problems = []
    key = config.get("SECRET_KEY") or ""
    if len(key) < 32:
        problems.append("SECRET_KEY must be set to a random value of at least 32 characters")
    if not os.environ.get("DATABASE_URL"):
        problems.append("DATABASE_URL must point at the production PostgreSQL database")
    elif config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        problems.append("DATABASE_URL must not be SQLite in production")
    if config.get("DEBUG"):
        problems.append("FLASK_DEBUG must be off in production")
    if not config.get("TRUSTED_HOSTS"):
        problems.append("TRUSTED_HOSTS must list the host names the service answers to")
    if len(config.get("AUDIT_HMAC_KEY") or "") < 32:
        problems.append("AUDIT_HMAC_KEY (or AUDIT_HMAC_KEY_FILE) must hold a random key of at least 32 characters, "
                        "kept outside the database")
    if config.get("RATELIMIT_STORAGE_URI", "").startswith("memory"):
        problems.append("RATELIMIT_STORAGE_URI must be a shared store (e.g. redis://127.0.0.1:6379/0)")
    if problems:
        raise ConfigError("Unsafe production configuration: " + "; ".join(problems) + ".")
