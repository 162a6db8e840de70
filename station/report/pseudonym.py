"""Stable pseudonyms for exports: an HMAC of the patient id keyed by a per-installation secret.

The secret is 32 random bytes kept in ``<data_dir>/pseudonym.key`` (0600, created on first use). The
same patient always gets the same pseudonym on one installation, so pseudonymised exports of several
sessions can be joined; without the key file the pseudonym cannot be traced back to the patient.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from station.errors import StationError

log = logging.getLogger(__name__)

KEY_NAME = "pseudonym.key"
KEY_BYTES = 32
#: hex digits of the HMAC kept in a pseudonym (40 bits: collisions are negligible for one clinic)
PSEUDONYM_HEX = 10


def installation_secret(data_dir: str | os.PathLike) -> bytes:
    """The installation's pseudonym key, created (0600) on first use.

    Raises
    ------
    StationError
        The key file cannot be created or read, or is corrupt.
    """
    path = Path(data_dir) / KEY_NAME
    if not path.exists():
        # Write the key to a private temporary file, then link it into place: the link fails if another
        # process got there first, and nobody ever reads a half-written key.
        tmp = path.with_name(f".{KEY_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(KEY_BYTES) + "\n")
            try:
                os.link(tmp, path)
                log.info("created the installation's pseudonym key %s", path)
            except FileExistsError:
                pass
        except OSError as exc:
            raise StationError(f"Cannot create the pseudonym key {path}: {exc.strerror}.") from exc
        finally:
            tmp.unlink(missing_ok=True)
    try:
        text = path.read_text().strip()
        key = bytes.fromhex(text)
    except (OSError, ValueError) as exc:
        raise StationError(f"The pseudonym key {path} is unreadable or corrupt ({exc}); restore it from a backup.") from exc
    if len(key) < 16:
        raise StationError(f"The pseudonym key {path} is too short; restore it from a backup.")
    return key


def pseudonym(patient_id: int, *, secret: bytes) -> str:
    """``"P-3F9A0C21B7"``: the patient's stable pseudonym under ``secret``."""
    digest = hmac.new(secret, f"patient:{int(patient_id)}".encode(), hashlib.sha256).hexdigest()
    return "P-" + digest[:PSEUDONYM_HEX].upper()
