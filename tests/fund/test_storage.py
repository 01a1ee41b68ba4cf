"""fund.storage: opaque random keys, nothing a user sends names a path, files tied to the transaction; the same
tests against the local directory and against a real S3-compatible server (moto's, started by the suite)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from fund.db import db
from fund.storage import (
    LocalStorage,
    S3Storage,
    StorageError,
    delete_after_commit,
    get_storage,
    put_in_transaction,
    s3_client,
    storage_from_url,
)
from tests.object_store import new_bucket, object_names


@dataclass
class Backend:
    url: str  # the STORAGE_URL that names it
    endpoint: str  # STORAGE_S3_ENDPOINT_URL ("" for a directory)
    store: object
    names: object  # () -> the keys actually stored, read from the directory or the server itself


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path) -> Backend:
    if request.param == "local":
        root = tmp_path / "files"
        return Backend(root.as_uri(), "", LocalStorage(root),
                       lambda: sorted(p.name for p in root.rglob("*") if p.is_file()))
    endpoint = request.getfixturevalue("s3_server")
    bucket = new_bucket(endpoint)
    store = storage_from_url(f"s3://{bucket}/fund/files", endpoint)
    return Backend(f"s3://{bucket}/fund/files", endpoint, store,
                   lambda: sorted(n.removeprefix("fund/files/") for n in object_names(endpoint, bucket)))


@pytest.fixture
def configured(app, backend):
    """The application's STORAGE_URL points at ``backend`` for the test."""
    old = app.config["STORAGE_URL"], app.config["STORAGE_S3_ENDPOINT_URL"]
    app.config["STORAGE_URL"], app.config["STORAGE_S3_ENDPOINT_URL"] = backend.url, backend.endpoint
    yield backend
    app.config["STORAGE_URL"], app.config["STORAGE_S3_ENDPOINT_URL"] = old


def test_put_get_delete_round_trip(backend):
    store = backend.store
    key = store.put(b"hello")
    assert len(key) == 32 and all(c in "0123456789abcdef" for c in key)
    assert store.get(key) == b"hello" and store.exists(key)
    assert backend.names() == [key]
    store.delete(key)
    assert not store.exists(key) and backend.names() == []
    with pytest.raises(StorageError):
        store.get(key)
    store.delete(key)  # deleting twice is harmless


def test_large_and_binary_content_comes_back_byte_for_byte(backend):
    data = bytes(range(256)) * 40_000  # 10 MB, every byte value
    key = backend.store.put(data)
    assert backend.store.get(key) == data


def test_keys_are_random_and_distinct(backend):
    keys = {backend.store.put(b"same bytes") for _ in range(20)}
    assert len(keys) == 20 and sorted(keys) == backend.names()


@pytest.mark.parametrize("key", ["../../etc/passwd", "/etc/passwd", "a" * 31, "A" * 32, "..%2f..%2fetc%2fpasswd",
                                 "0123456789abcdef0123456789abcde/", ""])
def test_a_key_is_never_a_path(backend, tmp_path, key):
    (tmp_path / "secret").write_bytes(b"secret")
    other = backend.store.put(b"other")
    for op in (backend.store.get, backend.store.delete, backend.store.exists):
        with pytest.raises(StorageError):
            op(key)
    assert (tmp_path / "secret").read_bytes() == b"secret"
    assert backend.names() == [other]


def test_the_local_store_fans_out_and_keeps_files_private(tmp_path):
    store = LocalStorage(tmp_path)
    key = store.put(b"hello")
    path = tmp_path / key[:2] / key[2:4] / key
    assert path.read_bytes() == b"hello"
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)


def test_objects_are_named_under_the_prefix(s3_server):
    bucket = new_bucket(s3_server)
    key = storage_from_url(f"s3://{bucket}/tenant/a", s3_server).put(b"x")
    assert object_names(s3_server, bucket) == [f"tenant/a/{key}"]
    assert storage_from_url(f"s3://{bucket}", s3_server).exists(key) is False  # another prefix, another store


def test_the_store_is_the_configured_directory(app, tmp_path):
    with app.app_context():
        old = app.config["STORAGE_DIR"]
        app.config["STORAGE_DIR"] = str(tmp_path / "configured")
        try:
            key = get_storage().put(b"x")
            assert (tmp_path / "configured" / key[:2] / key[2:4] / key).exists()
        finally:
            app.config["STORAGE_DIR"] = old


def test_storage_url_chooses_the_backend(app, configured):
    with app.app_context():
        store = get_storage()
        assert isinstance(store, S3Storage if configured.url.startswith("s3:") else LocalStorage)
        key = store.put(b"configured")
        assert configured.names() == [key]


@pytest.mark.parametrize("url", ["ftp://host/x", "s3://", "file://host/dir", "/plain/path", "file:"])
def test_a_storage_url_of_another_kind_is_refused(url):
    with pytest.raises(StorageError):
        storage_from_url(url)


def test_a_file_stored_in_a_transaction_that_rolls_back_is_deleted(app, ctx, configured):
    store = get_storage()
    key = put_in_transaction(db.session, b"draft upload")
    assert store.exists(key) and configured.names() == [key]
    db.session.rollback()
    assert not store.exists(key)
    assert configured.names() == []


def test_a_file_stored_in_a_committed_transaction_stays(app, ctx, configured):
    store = get_storage()
    key = put_in_transaction(db.session, b"kept")
    db.session.commit()
    db.session.rollback()  # a later rollback does not touch it
    assert store.get(key) == b"kept" and configured.names() == [key]


def test_delete_after_commit_waits_for_the_commit(app, ctx, configured):
    store = get_storage()
    key = store.put(b"to remove")
    delete_after_commit(db.session, key)
    db.session.rollback()
    assert store.exists(key), "a rolled-back removal keeps the file"
    delete_after_commit(db.session, key)
    db.session.commit()
    assert not store.exists(key) and configured.names() == []


def test_a_rolled_back_savepoint_keeps_the_outer_transactions_file(app, ctx, configured):
    store = get_storage()
    key = put_in_transaction(db.session, b"outer")
    with db.session.begin_nested() as savepoint:
        savepoint.rollback()
    assert store.exists(key)
    db.session.rollback()
    assert configured.names() == []


def test_nothing_is_left_behind_by_a_failed_write(tmp_path, monkeypatch):
    store = LocalStorage(tmp_path)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        store.put(b"x" * 100)
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == []


def test_ready_says_whether_files_can_be_stored(backend, tmp_path, s3_server):
    backend.store.ready()
    blocked = tmp_path / "a-file"
    blocked.write_bytes(b"")
    with pytest.raises(StorageError):
        LocalStorage(Path(blocked) / "files").ready()
    with pytest.raises(StorageError):
        S3Storage(s3_client(s3_server), "no-such-bucket").ready()
    with pytest.raises(StorageError):
        S3Storage(s3_client("http://127.0.0.1:1"), "bucket").ready()
