"""fund.storage: opaque random keys, nothing a user sends names a path, files tied to the transaction."""

from __future__ import annotations

import os

import pytest

from fund.db import db
from fund.storage import LocalStorage, StorageError, delete_after_commit, get_storage, put_in_transaction


def test_put_get_delete_round_trip(tmp_path):
    store = LocalStorage(tmp_path)
    key = store.put(b"hello")
    assert len(key) == 32 and all(c in "0123456789abcdef" for c in key)
    assert store.get(key) == b"hello" and store.exists(key)
    path = tmp_path / key[:2] / key[2:4] / key
    assert path.read_bytes() == b"hello"
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(StorageError):
        store.get(key)
    store.delete(key)  # deleting twice is harmless


def test_keys_are_random_and_distinct(tmp_path):
    store = LocalStorage(tmp_path)
    keys = {store.put(b"same bytes") for _ in range(20)}
    assert len(keys) == 20


@pytest.mark.parametrize("key", ["../../etc/passwd", "/etc/passwd", "a" * 31, "A" * 32, "..%2f..%2fetc%2fpasswd",
                                 "0123456789abcdef0123456789abcde/", ""])
def test_a_key_is_never_a_path(tmp_path, key):
    store = LocalStorage(tmp_path / "store")
    (tmp_path / "secret").write_bytes(b"secret")
    for op in (store.get, store.delete, store.exists):
        with pytest.raises(StorageError):
            op(key)
    assert (tmp_path / "secret").read_bytes() == b"secret"


def test_the_store_is_the_configured_directory(app, tmp_path):
    with app.app_context():
        old = app.config["STORAGE_DIR"]
        app.config["STORAGE_DIR"] = str(tmp_path / "configured")
        try:
            key = get_storage().put(b"x")
            assert (tmp_path / "configured" / key[:2] / key[2:4] / key).exists()
        finally:
            app.config["STORAGE_DIR"] = old


def test_a_file_stored_in_a_transaction_that_rolls_back_is_deleted(ctx):
    store = get_storage()
    key = put_in_transaction(db.session, b"draft upload")
    assert store.exists(key)
    db.session.rollback()
    assert not store.exists(key)


def test_a_file_stored_in_a_committed_transaction_stays(ctx):
    store = get_storage()
    key = put_in_transaction(db.session, b"kept")
    db.session.commit()
    db.session.rollback()  # a later rollback does not touch it
    assert store.get(key) == b"kept"
    store.delete(key)


def test_delete_after_commit_waits_for_the_commit(ctx):
    store = get_storage()
    key = store.put(b"to remove")
    delete_after_commit(db.session, key)
    db.session.rollback()
    assert store.exists(key), "a rolled-back removal keeps the file"
    delete_after_commit(db.session, key)
    db.session.commit()
    assert not store.exists(key)


def test_nothing_is_left_behind_by_a_failed_write(tmp_path, monkeypatch):
    store = LocalStorage(tmp_path)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        store.put(b"x" * 100)
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == []
