"""File storage behind a small interface: put bytes, get them back by an opaque key, delete them.

Keys are random, generated here, and never derived from a user's file name, so nothing a user sends can name a
path. The default backend is a local directory (config ``STORAGE_DIR``, outside the web root); another backend
(an object store shared by several application servers) only needs the same four methods. Nothing else of
the service is kept on local disk.

Files written during a database transaction should be tied to it: :func:`put_in_transaction` deletes the file
again if the transaction rolls back, and :func:`delete_after_commit` removes a file only once the row that
named it is gone for good. Either way no row names a missing file and no file outlives a failed request.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Protocol

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

KEY_RE = re.compile(r"^[0-9a-f]{32}$")


class StorageError(RuntimeError):
    """A key that is malformed or names no stored file."""


class Storage(Protocol):
    def put(self, data: bytes) -> str: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...


def new_key() -> str:
    return secrets.token_hex(16)


def check_key(key: str) -> str:
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise StorageError("not a storage key")
    return key


class LocalStorage:
    """Files in a local directory, two levels of fan-out (``ab/cd/abcd...``), written atomically, mode 0600."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes) -> str:
        key = new_key()
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return key

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(f"no stored file {key}") from exc

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


def get_storage() -> Storage:
    """The configured store (``STORAGE_DIR``)."""
    return LocalStorage(current_app.config["STORAGE_DIR"])


# Tying files to the database transaction -----------------------------------------------------------------

_PUT = "fund_storage_put"
_DELETE = "fund_storage_delete"


def put_in_transaction(session: Session, data: bytes, storage: Storage | None = None) -> str:
    """Store ``data`` and return its key; the file is deleted again if ``session``'s transaction rolls back."""
    storage = storage or get_storage()
    session.connection()  # make sure a transaction is under way, so that its end is seen
    key = storage.put(data)
    session.info.setdefault(_PUT, []).append((storage, key))
    return key


def delete_after_commit(session: Session, key: str, storage: Storage | None = None) -> None:
    """Delete the file once ``session``'s transaction has committed (kept if it rolls back)."""
    session.info.setdefault(_DELETE, []).append((storage or get_storage(), key))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop(_PUT, None)
    for storage, key in session.info.pop(_DELETE, []):
        storage.delete(key)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction) -> None:
    if previous_transaction.nested:  # a savepoint rolled back; the transaction that stored the file goes on
        return
    session.info.pop(_DELETE, None)
    for storage, key in session.info.pop(_PUT, []):
        storage.delete(key)
