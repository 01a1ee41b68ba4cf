"""Test fixtures: a real database (SQLite file, or PostgreSQL when TEST_DATABASE_URL is set), migrated once
per session with Alembic, emptied after every test; factories; sign-in helpers; a real SMTP server."""

from __future__ import annotations

import functools
import os
import re
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, text

from fund import create_app, response_cache
from fund.db import db
from fund.demo import current_totp, enable_totp
from fund.extensions import limiter, security
from fund.models import ROLES, TWO_FACTOR_ROLES

PASSWORD = "correct-horse-battery"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


#: The suite's longest modules and roughly how many seconds each takes alone on two cores. Under pytest-xdist's
#: work stealing each worker is first given a contiguous half of the collection, and takes over half of the other's
#: queue, from its end, when it runs out: a long module left at the end of a queue finishes alone on one core while
#: the other waits. :func:`pytest_collection_modifyitems` puts these first in the two halves, the longest first.
LONG_MODULES = {
    "tests/browser/test_accessibility.py": 26, "tests/browser/test_journeys.py": 23, "tests/test_route_matrix.py": 16,
    "tests/test_french_pages.py": 10, "tests/grants/awards/test_concurrency.py": 8,
    "tests/browser/test_layout_browser.py": 7, "tests/grants/review/test_concurrency.py": 5,
    "tests/browser/test_review_browser.py": 5, "tests/test_several_servers.py": 5,
}


def pytest_collection_modifyitems(config, items):
    """The long modules at the start of each half of the collection, shared between the halves by their
    length; every other test keeps its place (only the order of whole modules changes, so module and session
    fixtures are built as often as before)."""
    gone = [name for name in LONG_MODULES if not (config.rootpath / name).is_file()]
    if gone:
        raise pytest.UsageError(f"LONG_MODULES (tests/conftest.py) names modules that are gone: {gone}")
    if len(items) < 2:
        return

    def module(item) -> str:
        return item.nodeid.split("::", 1)[0]

    halves: list[list] = [[], []]
    weight = [0, 0]
    for name in sorted(LONG_MODULES, key=LONG_MODULES.get, reverse=True):
        chosen = [item for item in items if module(item) == name]
        if chosen:
            side = weight.index(min(weight))
            halves[side].extend(chosen)
            weight[side] += LONG_MODULES[name]
    rest = [item for item in items if module(item) not in LONG_MODULES]
    cut = max(0, len(items) // 2 - len(halves[0]))
    items[:] = halves[0] + rest[:cut] + halves[1] + rest[cut:]


def worker_database(url: str) -> str:
    """The database of this pytest-xdist worker: ``<name>_gw0``, ``<name>_gw1``... beside the one ``url`` names
    (``url`` itself when the suite runs in one process). Any URL of that database (its owner's, another
    role's) maps to the same worker database."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or not url.startswith("postgresql"):
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


def create_worker_database(url: str) -> str:
    """Create this worker's database (if missing), connecting to the database ``url`` names; return its URL."""
    worker_url = worker_database(url)
    if worker_url != url:
        name = make_url(worker_url).database
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(4242)"))  # workers create their databases one at a time
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            conn.execute(text("SELECT pg_advisory_unlock(4242)"))
        engine.dispose()
    return worker_url


def _database_url(tmp_root: Path) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        url = create_worker_database(url)
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        return url
    return f"sqlite:///{tmp_root / 'test.db'}"


def app_role_url(owner_url: str) -> str:
    """The URL of a login role of the application for the database ``owner_url`` names, created (or given a new
    password) here: the suite migrates as the owner and runs as this role, as production does (fund.dbroles)."""
    parsed = make_url(owner_url)
    role, password = f"{parsed.database}_app", uuid.uuid4().hex
    engine = create_engine(owner_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(4243)"))  # roles are shared by every database of the server
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(text(f"{verb} ROLE \"{role}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{password}'"))
        conn.execute(text("SELECT pg_advisory_unlock(4243)"))
    engine.dispose()
    return parsed.set(username=role, password=password).render_as_string(hide_password=False)


def drop_app_role(owner_url: str, role: str) -> None:
    engine = create_engine(owner_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP OWNED BY "{role}"'))
        conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    engine.dispose()


_OWNER_ENGINES: dict = {}


def owner_engine_of(app):
    """The engine of the database's owner (on SQLite, and whenever the owner is the application, db.engine)."""
    url = app.config.get("DATABASE_OWNER_URL")
    if not url:
        with app.app_context():
            return db.engine
    if url not in _OWNER_ENGINES:
        _OWNER_ENGINES[url] = create_engine(url)
    return _OWNER_ENGINES[url]


class Client(FlaskClient):
    """The Flask test client, plus form submission that takes the CSRF token from the page, as a browser does."""

    def csrf_token(self, page: str) -> str:
        html = self.get(page).get_data(as_text=True)
        match = CSRF_RE.search(html)
        assert match, f"no CSRF token on {page}"
        return match.group(1) or match.group(2)

    def submit(self, url: str, data: dict | None = None, *, page: str | None = None, **kwargs):
        data = dict(data or {})
        data["csrf_token"] = self.csrf_token(page or url)
        return self.post(url, data=data, **kwargs)


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    tmp_root = tmp_path_factory.mktemp("fund")
    owner_url = _database_url(tmp_root)
    url = app_role_url(owner_url) if owner_url.startswith("postgresql") else owner_url
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "DATABASE_OWNER_URL": owner_url if url != owner_url else None,
            "STORAGE_DIR": str(tmp_root / "files"),
            "SERVER_NAME": "localhost",
            "SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS": {
                "argon2__rounds": 1, "argon2__memory_cost": 1024, "argon2__parallelism": 1,
            },
            "MAIL_SERVER": "",
            "AUDIT_HMAC_KEY": "audit-chain-key-of-the-test-session-0123456789",
            "AUDIT_SIGNING_KEY_FILE": str(tmp_root / "audit_signing_key.pem"),
            "AUDIT_CHECKPOINT_DIR": str(tmp_root / "audit-checkpoints"),
        }
    )
    app.test_client_class = Client
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(directory=app.extensions["migrate"].directory, revision="heads")
    yield app
    with app.app_context():
        db.engine.dispose()
    if url != owner_url:
        owner_engine_of(app).dispose()
        drop_app_role(owner_url, make_url(url).username)


@pytest.fixture(scope="session")
def owner_engine(app):
    """The database as its owner sees it (migrations, TRUNCATE, triggers): on PostgreSQL the application itself
    connects as a role with fewer rights (fund.dbroles)."""
    return owner_engine_of(app)


def _wipe(app) -> None:
    with app.app_context():
        response_cache.clear()  # the audit chain starts again: so would its versions
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with owner_engine_of(app).begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            else:
                for t in tables:
                    conn.execute(text(f'DELETE FROM "{t}"'))


@dataclass
class Snapshot:
    """The rows of every table, the PostgreSQL sequences and the stored files of a moment of the database, to put
    back into emptied tables: a fixture that builds many records once per worker restores them for each test."""

    tables: dict[str, object] = field(default_factory=dict)
    sequences: list[tuple[str, int, bool]] = field(default_factory=list)
    files: dict[Path, bytes] = field(default_factory=dict)


def stored_files(app) -> set[Path]:
    root = Path(app.config["STORAGE_DIR"])
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def take_snapshot(app, files_before: set[Path] = frozenset()) -> Snapshot:
    """The database as it is now (as its owner reads it, raw values, no type conversion), and the stored files
    that are not in ``files_before``."""
    snapshot = Snapshot(files={p: p.read_bytes() for p in stored_files(app) - set(files_before)})
    with app.app_context():
        db.session.remove()
        with owner_engine_of(app).begin() as conn:
            postgresql = conn.dialect.name == "postgresql"
            raw = conn.connection.driver_connection
            for table in db.metadata.sorted_tables:
                if postgresql:
                    with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" TO STDOUT') as copy:
                        data = b"".join(bytes(chunk) for chunk in copy)
                    if data:
                        snapshot.tables[table.name] = data
                else:
                    result = conn.exec_driver_sql(f'SELECT * FROM "{table.name}"')
                    rows = [tuple(row) for row in result]
                    if rows:
                        snapshot.tables[table.name] = (list(result.keys()), rows)
            if postgresql:
                snapshot.sequences = [tuple(row) for row in conn.execute(text(
                    "SELECT format('%I.%I', schemaname, sequencename), last_value, true FROM pg_sequences "
                    "WHERE last_value IS NOT NULL"))]
    return snapshot


def restore_snapshot(app, snapshot: Snapshot) -> None:
    """Put the snapshot's rows back into the (emptied) tables, its sequences where they were, its files back."""
    for path, data in snapshot.files.items():
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    with app.app_context():
        response_cache.clear()
        db.session.remove()
        with owner_engine_of(app).begin() as conn:
            raw = conn.connection.driver_connection
            for table in db.metadata.sorted_tables:
                content = snapshot.tables.get(table.name)
                if content is None:
                    continue
                if conn.dialect.name == "postgresql":
                    with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" FROM STDIN') as copy:
                        copy.write(content)
                else:
                    columns, rows = content
                    names = ", ".join(f'"{c}"' for c in columns)
                    marks = ", ".join("?" for _ in columns)
                    conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', rows)
            for name, value, called in snapshot.sequences:
                conn.execute(text("SELECT setval(:n, :v, :c)"), {"n": name, "v": value, "c": called})


@pytest.fixture(scope="session")
def _limiter_storage(app):
    """The suite's own throttling storage (memory), as create_app of the session app left it."""
    return limiter._storage, limiter._limiter


@pytest.fixture(scope="session")
def _cheap_totp(app):
    """The suite's authenticator keys encrypted at a low cost (passlib's 2**14 PBKDF2 rounds take 16 ms per
    sign-in), as its passwords are hashed with one argon2 round: the TOTP factory the session app was given."""
    from passlib.totp import TOTP

    factory = security._totp_factory
    factory._totp = TOTP.using(issuer=app.config["SECURITY_TOTP_ISSUER"], secrets=app.config["SECURITY_TOTP_SECRETS"],
                               encrypt_cost=4)
    return factory


@pytest.fixture(autouse=True)
def _isolation(app, _limiter_storage, _cheap_totp):
    """Every test starts from empty tables; the limiter's counters start from zero. Flask-Limiter keeps one storage
    per Limiter object, so a test that builds another app in-process (production settings, Redis) would leave its
    storage to the tests after it: the suite's own is put back first; so is the session app's TOTP factory."""
    limiter._storage, limiter._limiter = _limiter_storage
    security._totp_factory = _cheap_totp
    limiter.reset()
    yield
    _wipe(app)
    limiter.reset()


@pytest.fixture
def ctx(app):
    """An application context for tests that call operations directly."""
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()


@pytest.fixture
def client(app) -> Client:
    return app.test_client()


def new_user(app, role: str = "applicant", *, email: str | None = None, password: str = PASSWORD, two_factor=None,
             **fields):
    """A committed user of ``role`` (detached from the session; staff get a TOTP second factor)."""
    from fund import operations

    assert role in ROLES
    with app.app_context():
        user = operations.create_user(email or f"{role}-{uuid.uuid4().hex[:8]}@example.org", role, password,
                                      **fields)
        if two_factor if two_factor is not None else role in TWO_FACTOR_ROLES:
            enable_totp(user)
        db.session.commit()
        db.session.refresh(user)
        db.session.expunge(user)
        return user


@pytest.fixture
def make_user(app):
    """make_user("fund_manager", email=None, **fields) -> User (committed; staff get a TOTP second factor)."""
    return functools.partial(new_user, app)


def totp_code(app, user) -> str:
    from fund.models import User

    with app.app_context():
        fresh = db.session.get(User, user.id)
        return current_totp(fresh)


@pytest.fixture
def sign_in(app):
    """sign_in(client, user, password=PASSWORD) -> response of the last step, through the real forms (CSRF
    and, for staff, the second factor)."""

    def do(client: Client, user, password: str = PASSWORD):
        resp = client.submit("/account/login", {"email": user.email, "password": password})
        if user.tf_totp_secret:
            assert resp.status_code in (302, 303), resp.get_data(as_text=True)[:500]
            resp = client.submit("/account/tf-validate", {"code": totp_code(app, user)}, page="/account/tf-validate")
        return resp

    return do


@pytest.fixture
def login_as(app, make_user, sign_in):
    """login_as("fund_manager") or login_as(user) -> a signed-in test client (client.user is the user)."""

    def do(role_or_user, **fields):
        user = make_user(role_or_user, **fields) if isinstance(role_or_user, str) else role_or_user
        client = app.test_client()
        resp = sign_in(client, user)
        assert resp.status_code in (302, 303), f"sign-in of {user.email} failed: {resp.status_code}"
        client.user = user
        return client

    return do


def new_token(app, user) -> str:
    """A new API token of ``user``: its bearer secret."""
    from fund import operations
    from fund.models import User

    with app.app_context():
        _token, secret = operations.create_token(db.session.get(User, user.id), "test")
        db.session.commit()
        return secret


@pytest.fixture
def api_token(app):
    """api_token(user) -> the bearer token secret."""
    return functools.partial(new_token, app)


@pytest.fixture
def api_as(app, make_user, api_token):
    """api_as("finance_officer") -> a client whose requests carry a bearer token (client.user is the user)."""

    class ApiClient:
        def __init__(self, user, secret):
            self.user = user
            self.headers = {"Authorization": f"Bearer {secret}"}
            self._client = app.test_client()

        def open(self, method, url, **kwargs):
            headers = {**self.headers, **kwargs.pop("headers", {})}
            return self._client.open(url, method=method, headers=headers, **kwargs)

        def get(self, url, **kw):
            return self.open("GET", url, **kw)

        def post(self, url, **kw):
            return self.open("POST", url, **kw)

        def put(self, url, **kw):
            return self.open("PUT", url, **kw)

        def patch(self, url, **kw):
            return self.open("PATCH", url, **kw)

        def delete(self, url, **kw):
            return self.open("DELETE", url, **kw)

    def do(role_or_user, **fields):
        user = make_user(role_or_user, **fields) if isinstance(role_or_user, str) else role_or_user
        return ApiClient(user, api_token(user))

    return do


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server(app):
    """A real SMTP server (aiosmtpd) on localhost; app mail settings point at it for the test."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    class Collector(Message):
        def __init__(self):
            super().__init__()
            self.messages = []

        def handle_message(self, message):
            self.messages.append(message)

    handler = Collector()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    old = app.config["MAIL_SERVER"], app.config["MAIL_PORT"]
    app.config["MAIL_SERVER"], app.config["MAIL_PORT"] = "127.0.0.1", port
    handler.port = port
    handler.controller = controller
    try:
        yield handler
    finally:
        app.config["MAIL_SERVER"], app.config["MAIL_PORT"] = old
        controller.stop()
        time.sleep(0.05)


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible server (moto's, in its own process) for the session: its endpoint URL."""
    from tests.object_store import s3_server as start

    with start() as endpoint:
        yield endpoint
