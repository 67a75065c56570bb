"""Secret files created on first start, readable by the owner only."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Callable


def load_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """The file's bytes; on first use, `make()` is written there with mode 0600 (never replaced)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    data = make()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_bytes()
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return data


def random_key() -> bytes:
    return secrets.token_bytes(32)
