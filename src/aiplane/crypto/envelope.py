"""Envelope encryption of logged payloads: AES-256-GCM under a per-tenant data key, which is
itself stored only wrapped (AES-256-GCM) under the master key in the data directory.
Destroying a tenant's wrapped data key makes every payload sealed with it unreadable."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aiplane.domain.errors import Unavailable


class Envelope:
    def __init__(self, master_key: bytes) -> None:
        self._master = AESGCM(master_key)

    def new_data_key(self) -> tuple[bytes, bytes]:
        """(data key, the same key wrapped under the master key)."""
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(12)
        return key, nonce + self._master.encrypt(nonce, key, b"aiplane data key")

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            return self._master.decrypt(wrapped[:12], wrapped[12:], b"aiplane data key")
        except InvalidTag:
            raise Unavailable("a tenant data key does not open with this master key; restore DATA_DIR/audit/master.key.") from None


def seal(data_key: bytes, plaintext: bytes, context: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, context)


def open_sealed(data_key: bytes, sealed: bytes, context: bytes) -> bytes | None:
    try:
        return AESGCM(data_key).decrypt(sealed[:12], sealed[12:], context)
    except InvalidTag:
        return None
