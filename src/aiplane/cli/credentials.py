"""Which credentials the CLI sends, and the sign-in it keeps between commands.

Order: AIPLANE_TOKEN (an API key or a token you got elsewhere), then the sign-in of
`aiplane login` (refreshed with its refresh token when it is about to expire), then the local
data directory's admin key. An explicit variable wins over a cache; a sign-in, made on
purpose, wins over a key file that merely happens to be readable.

The sign-in lives in `$XDG_CONFIG_HOME/aiplane/login.json` (default `~/.config/...`), mode 0600
in a 0700 folder: it holds bearer tokens.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from aiplane.cli import oauth
from aiplane.domain.errors import Unauthorized

_EARLY_S = 30  # refresh this long before expiry, so a command does not start with a dying token


def login_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "aiplane" / "login.json"


def save(doc: dict[str, Any]) -> Path:
    path = login_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)
    return path


def load() -> dict[str, Any] | None:
    try:
        doc = json.loads(login_file().read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("access_token"), str) else None


def forget() -> bool:
    try:
        login_file().unlink()
        return True
    except FileNotFoundError:
        return False


def record(issuer: str, client_id: str, token_endpoint: str, grant: str, tokens: dict[str, Any],
           previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The cache document for a token answer (a refresh may leave the refresh token out: keep it)."""
    if not isinstance(tokens.get("access_token"), str):
        raise Unauthorized("the identity provider answered without an access token; check the client's settings.")
    refresh_token = tokens.get("refresh_token") or (previous or {}).get("refresh_token")
    return {"issuer": issuer, "client_id": client_id, "token_endpoint": token_endpoint, "grant": grant,
            "access_token": tokens["access_token"], "refresh_token": refresh_token,
            "expires_at": time.time() + float(tokens.get("expires_in", 300))}


def signed_in_token() -> str | None:
    """The access token of the kept sign-in, refreshed first when it is (nearly) expired; None
    without a sign-in; Unauthorized when it expired and cannot be refreshed."""
    doc = load()
    if doc is None:
        return None
    if float(doc.get("expires_at", 0)) - _EARLY_S > time.time():
        return str(doc["access_token"])
    if not doc.get("refresh_token"):
        raise Unauthorized(f"your sign-in at {doc.get('issuer')} has expired; run 'aiplane login' again.")
    tokens = oauth.refresh(doc["token_endpoint"], doc["client_id"], doc["refresh_token"])
    fresh = record(doc["issuer"], doc["client_id"], doc["token_endpoint"], doc["grant"], tokens, doc)
    save(fresh)
    return str(fresh["access_token"])


def local_admin_key() -> str | None:
    path = Path(os.environ.get("AIPLANE_DATA_DIR", ".aiplane")) / "admin.key"
    try:
        return path.read_text().strip()
    except OSError:
        return None


def token() -> str | None:
    """What the CLI sends as its bearer token, in the order above."""
    return os.environ.get("AIPLANE_TOKEN") or signed_in_token() or local_admin_key()
