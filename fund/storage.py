"""File storage behind a small interface: put bytes, get them back by an opaque key, delete them.

Keys are random, generated here, and never derived from a user's file name, so nothing a user sends can name a
path. ``STORAGE_URL`` chooses the backend:

- ``file:///srv/fund/files`` (or no ``STORAGE_URL``: ``STORAGE_DIR``, default ``instance/files``): a local
  directory outside the web root. Enough for one application server.
- ``s3://bucket/prefix``: an S3-compatible object store (AWS S3, MinIO, Ceph...) shared by every application
  server. The endpoint comes from ``STORAGE_S3_ENDPOINT_URL`` (or boto3's own ``AWS_ENDPOINT_URL_S3`` /
  ``AWS_ENDPOINT_URL``; none means AWS), credentials and region from boto3's usual environment
  (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``, or an instance role). The bucket
  must exist; the service never creates one.

Both offer the same five methods (``put``, ``get``, ``delete``, ``exists``, ``ready``). Nothing else of the
service is kept on local disk.

Files written during a database transaction should be tied to it: :func:`put_in_transaction` deletes the file
again if the transaction rolls back, and :func:`delete_after_commit` removes a file only once the row that
named it is gone for good. Either way no row names a missing file and no file outlives a failed request.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import threading
import urllib.parse
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

    def ready(self) -> None:
        """Raise StorageError unless files can be stored and read now."""


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

    def ready(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StorageError(f"storage directory unusable: {exc}") from exc
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageError("storage directory not writable")


class S3Storage:
    """Objects ``<prefix><key>`` in one bucket of an S3-compatible store, through a boto3 client (thread-safe,
    shared by the threads of a process). Objects are written whole (a PUT is atomic: a reader sees all or
    nothing) and never overwritten, since every key is new."""

    def __init__(self, client, bucket: str, prefix: str = ""):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    @staticmethod
    def _missing(exc) -> bool:
        return exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}

    def put(self, data: bytes) -> str:
        key = new_key()
        self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data,
                               ContentType="application/octet-stream")
        return key

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        name = self._name(key)
        try:
            return self.client.get_object(Bucket=self.bucket, Key=name)["Body"].read()
        except ClientError as exc:
            if self._missing(exc):
                raise StorageError(f"no stored file {key}") from exc
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))  # deleting a missing object is fine

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        name = self._name(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if self._missing(exc):
                return False
            raise
        return True

    def ready(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"object store unreachable: {exc}") from exc


_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


def s3_client(endpoint_url: str | None = None):
    """One boto3 S3 client per endpoint and process (creating one costs tens of milliseconds)."""
    with _clients_lock:
        client = _clients.get((os.getpid(), endpoint_url))
        if client is None:
            import boto3
            from botocore.config import Config

            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
            config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"},
                            s3={"addressing_style": "path"} if endpoint_url else None)
            client = boto3.session.Session().client("s3", endpoint_url=endpoint_url, region_name=region,
                                                    config=config)
            _clients[(os.getpid(), endpoint_url)] = client
        return client


def storage_from_url(url: str, endpoint_url: str | None = None) -> Storage:
    """The store a ``STORAGE_URL`` names (``file:///dir`` or ``s3://bucket/prefix``)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file" and not parts.netloc and parts.path:
        return LocalStorage(urllib.parse.unquote(parts.path))
    if parts.scheme == "s3" and parts.netloc:
        return S3Storage(s3_client(endpoint_url), parts.netloc, urllib.parse.unquote(parts.path))
    raise StorageError(f"STORAGE_URL must be file:///directory or s3://bucket/prefix, not {url!r}")


def get_storage() -> Storage:
    """The configured store: ``STORAGE_URL``, else the directory ``STORAGE_DIR``."""
    config = current_app.config
    url = config.get("STORAGE_URL")
    if not url:
        return LocalStorage(config["STORAGE_DIR"])
    endpoint = (config.get("STORAGE_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3")
                or os.environ.get("AWS_ENDPOINT_URL") or None)
    return storage_from_url(url, endpoint)


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
