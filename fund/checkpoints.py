"""Signed checkpoints of the audit chain head, kept outside the database.

The chain's HMAC (:mod:`fund.audit`) shows any event forged without the key, but not a tail that was removed
with the head rewound, nor a table wiped clean. ``flask audit checkpoint`` (hourly, from cron) first verifies
the chain, then writes the head (last event id, its hash and code) signed with an Ed25519 key into a
directory outside the database (``AUDIT_CHECKPOINT_DIR``: another host's mount, write-once storage or a
directory that is backed up apart from the database). ``flask audit verify`` checks every checkpoint's
signature and that the chain still holds each checkpointed event with the same hash: a truncated chain, a
rewound head, a chain recomputed with the key and a wiped table all fail.

Keys: the private key (``AUDIT_SIGNING_KEY_FILE``, PEM) is needed only where checkpoints are written;
verification needs only the public key (``AUDIT_VERIFY_KEY_FILE``, printed by ``flask audit public-key``),
which auditors keep. In development both default to ``instance/``, the private key generated on first use.
A checkpoint file is never overwritten; deleting checkpoint files is what this cannot see from the directory
alone, hence storage the database's administrators cannot write to.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app
from sqlalchemy import select

from fund import audit
from fund.audit import GENESIS_HASH, AuditEvent, AuditHead
from fund.db import db, utcnow

FORMAT = 1


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written or read: no key, no directory, a bad file or a bad signature."""


@dataclass(frozen=True)
class Checkpoint:
    name: str
    event_id: int
    hash: str
    mac: str
    created_at: str


def checkpoint_dir() -> Path | None:
    value = current_app.config.get("AUDIT_CHECKPOINT_DIR")
    return Path(value) if value else None


def signing_key() -> Ed25519PrivateKey:
    """The private key (``AUDIT_SIGNING_KEY_FILE``); created there on first use outside production."""
    value = current_app.config.get("AUDIT_SIGNING_KEY_FILE")
    if not value:
        raise CheckpointError("AUDIT_SIGNING_KEY_FILE must name the checkpoint signing key (PEM)")
    path = Path(value)
    if not path.exists():
        if current_app.config.get("FUND_ENV") == "production":
            raise CheckpointError(f"no checkpoint signing key at {path}")
        _create_key(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{path} is not an Ed25519 private key")
    return key


def _create_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def verify_key() -> Ed25519PublicKey | None:
    """The public key checkpoints are checked with (``AUDIT_VERIFY_KEY_FILE``, else the signing key's)."""
    value = current_app.config.get("AUDIT_VERIFY_KEY_FILE")
    if value:
        key = serialization.load_pem_public_key(Path(value).read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise CheckpointError(f"{value} is not an Ed25519 public key")
        return key
    signing = current_app.config.get("AUDIT_SIGNING_KEY_FILE")
    if signing and Path(signing).exists():
        return signing_key().public_key()
    return None


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _head() -> tuple[int, str, str]:
    # Read, not session.get: the audit trail moves the head with Core statements, which a copy in the session
    # would not show.
    last_id = db.session.execute(select(AuditHead.last_id).where(AuditHead.id == 1)).scalar()
    if not last_id:
        return 0, GENESIS_HASH, ""
    row = db.session.execute(
        select(AuditEvent.id, AuditEvent.hash, AuditEvent.mac).where(AuditEvent.id == last_id)
    ).one()
    return row.id, row.hash, row.mac


def write() -> Checkpoint:
    """Verify the chain against the existing checkpoints, then sign and store its head.

    Raises :class:`CheckpointError` (and writes nothing) when the chain does not verify: a checkpoint must
    never vouch for a tampered chain.
    """
    directory = checkpoint_dir()
    if directory is None:
        raise CheckpointError("AUDIT_CHECKPOINT_DIR must name the directory checkpoints are written to")
    key = signing_key()
    result = verify_all()
    if not result.ok:
        raise CheckpointError(f"the audit trail does not verify (event {result.first_bad_event}: "
                              f"{result.reason}); no checkpoint written")
    event_id, link, mac = _head()
    created = utcnow()
    payload = {"format": FORMAT, "event_id": event_id, "hash": link, "mac": mac,
               "created_at": created.isoformat(timespec="microseconds"), "key_id": key_id(key.public_key())}
    body = audit.canonical_json(payload).encode()
    document = {"checkpoint": payload, "signature": base64.b64encode(key.sign(body)).decode()}
    name = f"{created:%Y%m%dT%H%M%S%fZ}-{event_id:012d}.json"
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(document, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, directory / name)  # fails rather than overwrite an existing checkpoint
    finally:
        os.unlink(tmp)
    return Checkpoint(name, event_id, link, mac, payload["created_at"])


def load_all() -> list[Checkpoint]:
    """Every checkpoint in the directory, signatures checked, oldest first ([] when none is configured)."""
    directory = checkpoint_dir()
    if directory is None or not directory.is_dir():
        return []
    files = sorted(p for p in directory.glob("*.json") if p.is_file())
    if not files:
        return []
    key = verify_key()
    if key is None:
        raise CheckpointError("checkpoints exist but no public key is configured (AUDIT_VERIFY_KEY_FILE)")
    found = []
    for path in files:
        try:
            document = json.loads(path.read_text())
            payload = document["checkpoint"]
            signature = base64.b64decode(document["signature"], validate=True)
            key.verify(signature, audit.canonical_json(payload).encode())
            if payload.get("format") != FORMAT:
                raise CheckpointError(f"checkpoint {path.name} has an unknown format")
            found.append(Checkpoint(path.name, int(payload["event_id"]), str(payload["hash"]), str(payload["mac"]),
                                    str(payload["created_at"])))
        except InvalidSignature as exc:
            raise CheckpointError(f"checkpoint {path.name} has a bad signature") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"checkpoint {path.name} is unreadable") from exc
    return sorted(found, key=lambda c: (c.created_at, c.name))


def verify_all() -> audit.VerifyResult:
    """:func:`fund.audit.verify` against every checkpoint; an unreadable or badly signed checkpoint fails."""
    try:
        checkpoints = load_all()
    except CheckpointError as exc:
        return audit.VerifyResult(False, 0, None, str(exc))
    return audit.verify(checkpoints=checkpoints)

