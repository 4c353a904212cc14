"""Secrets kept in the home folder: generated on first use, never in the repository.

A secret comes from its ``ACCORD_*`` variable when set; otherwise from a file in
``ACCORD_HOME`` that ``accord init`` creates with mode 0600. There are no
default keys: a home without its key files gets new random ones.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["load_or_create_secret"]


def load_or_create_secret(path: Path, *, nbytes: int = 32) -> bytes:
    """Read the secret at ``path``, creating it (random, mode 0600) if it does not exist."""
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_bytes(nbytes)
    # Write a private temporary file, then link it into place: the link fails if
    # another process got there first, and then that process's key is the key.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value.hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    finally:
        tmp.unlink()
    return value
