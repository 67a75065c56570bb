"""API keys: random, shown once, stored only as a SHA-256 hash, compared in constant time.

A key reads `aip_<key id>_<secret>`. The key id is public (it names the key in lists and
audit events); the secret is 192 random bits, so a fast hash is enough: there is nothing
to brute-force that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from aiplane.domain.roles import Role

PREFIX = "aip"
_ID_HEX = 12
_SECRET_HEX = 48


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key_id: str
    secret: str  # the whole key, shown once
    hash: str


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    hash: str
    role: Role
    tenant: str | None
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = None  # flushed in batches, so up to a flush interval old
    rate_limit: float | None = None  # requests per second for this key, on top of the tenant's

    def usable_at(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at


def issue() -> IssuedKey:
    key_id = secrets.token_hex(_ID_HEX // 2)
    secret = f"{PREFIX}_{key_id}_{secrets.token_hex(_SECRET_HEX // 2)}"
    return IssuedKey(key_id=key_id, secret=secret, hash=digest(secret))


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_id_of(secret: str) -> str | None:
    """The key id inside a presented key, or None when it is not shaped like one of ours."""
    parts = secret.split("_")
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != _ID_HEX or len(parts[2]) != _SECRET_HEX:
        return None
    return parts[1]


def matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_hash)
