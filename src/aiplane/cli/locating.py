"""Finding the platform a CLI command talks to, from any directory.

The token: `AIPLANE_TOKEN`, else the sign-in of `aiplane login`, else the admin key of the platform's data directory, which is
`AIPLANE_DATA_DIR`, else the nearest `.aiplane/` in the current directory or one of its parents
(as git finds `.git`), else the data directory of the last `aiplane up` on this account. That
last one is recorded by `up` in `$XDG_STATE_HOME/aiplane/platform.json` (default
`~/.local/state/aiplane/`), with its URL; the file holds a path and a URL, never a key.
The URL: `AIPLANE_URL`, else the recorded URL (unless the key came from another data
directory, whose URL is not known), else http://127.0.0.1:8080.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

DEFAULT_URL = "http://127.0.0.1:8080"
_DATA_DIR_NAME = ".aiplane"
_KEY_FILE = "admin.key"


@dataclass(frozen=True, slots=True)
class Located:
    url: str
    token: str | None
    source: str  # where the token came from, for error messages


def state_file() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "aiplane" / "platform.json"


def remember(data_dir: Path, url: str) -> None:
    """Record the platform `up` just started, so the CLI finds it from any directory. Best effort:
    a home that cannot be written only means the CLI needs AIPLANE_TOKEN there."""
    path = state_file()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"data_dir": str(data_dir.resolve()), "url": url}))
        tmp.chmod(0o600)
        tmp.replace(path)
    except OSError:
        pass


def locate(signed_in: Callable[[], str | None] | None = None, cwd: Path | None = None) -> Located:
    """`signed_in` gives the token of `aiplane login`, if any: a sign-in, made on purpose, comes
    after AIPLANE_TOKEN and before a key file that merely happens to be readable."""
    url = os.environ.get("AIPLANE_URL")
    recorded = _recorded()
    for token, source in ((os.environ.get("AIPLANE_TOKEN"), "AIPLANE_TOKEN"),
                          (signed_in() if signed_in is not None else None, "the sign-in of 'aiplane login'")):
        if token:
            return Located(url or (recorded[1] if recorded else DEFAULT_URL), token, source)
    for data_dir, how in _candidates(cwd or Path.cwd(), recorded):
        key = _read_key(data_dir)
        if key is not None:
            from_record = recorded is not None and data_dir == recorded[0]
            return Located(url or (recorded[1] if from_record and recorded else DEFAULT_URL), key,
                           f"{data_dir / _KEY_FILE} ({how})")
    return Located(url or DEFAULT_URL, None, "")


def _candidates(cwd: Path, recorded: tuple[Path, str] | None) -> list[tuple[Path, str]]:
    explicit = os.environ.get("AIPLANE_DATA_DIR")
    if explicit:
        return [(Path(explicit).resolve(), "AIPLANE_DATA_DIR")]
    found = [(folder / _DATA_DIR_NAME, "found from the current directory")
             for folder in (cwd.resolve(), *cwd.resolve().parents) if (folder / _DATA_DIR_NAME).is_dir()][:1]
    if recorded is not None:
        found.append((recorded[0], "the last 'aiplane up'"))
    return found


def _recorded() -> tuple[Path, str] | None:
    try:
        doc = json.loads(state_file().read_text())
        return Path(doc["data_dir"]), str(doc["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_key(data_dir: Path) -> str | None:
    try:
        return (data_dir / _KEY_FILE).read_text().strip() or None
    except OSError:
        return None
