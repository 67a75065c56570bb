"""Signed checkpoints of the audit tree, in a small documented text format.

    aiplane-audit-checkpoint/v1
    size 1234
    root 9f2c...(64 hex: the RFC 6962 root of the first `size` entries)
    previous 0a1b...(64 hex: SHA-256 of the previous checkpoint's full text, or "none")
    previous-size 1000
    time 2026-11-30T10:00:00.000000+00:00
    key 3fa85f64(8 hex: the first four bytes of SHA-256 of the raw Ed25519 public key)

    signature <base64 of the Ed25519 signature over every line above, newlines included>

Each checkpoint names the one before it, so a deleted or replaced checkpoint breaks the chain
and shows as a gap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from aiplane.domain.errors import InvalidInput

HEADER = "aiplane-audit-checkpoint/v1"
NONE = "none"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    size: int
    root: bytes
    previous: str  # hex digest of the previous checkpoint's text, or "none"
    previous_size: int
    time: str
    key_id: str
    signature: bytes = b""

    def body(self) -> bytes:
        return (f"{HEADER}\nsize {self.size}\nroot {self.root.hex()}\nprevious {self.previous}\n"
                f"previous-size {self.previous_size}\ntime {self.time}\nkey {self.key_id}\n").encode()

    def text(self) -> str:
        return self.body().decode() + "\nsignature " + base64.b64encode(self.signature).decode() + "\n"

    def digest(self) -> str:
        return hashlib.sha256(self.text().encode()).hexdigest()


def key_id(public_key_raw: bytes) -> str:
    return hashlib.sha256(public_key_raw).hexdigest()[:8]


def parse(text: str) -> Checkpoint:
    """Parse a checkpoint's text; InvalidInput names what is wrong with it."""
    lines = text.rstrip("\n").split("\n")
    if len(lines) != 9 or lines[0] != HEADER or lines[7] != "":
        raise InvalidInput(f"this is not an {HEADER} checkpoint (it has {len(lines)} lines, expected 9).")
    fields = {}
    for line in lines[1:7] + lines[8:]:
        name, _, value = line.partition(" ")
        fields[name] = value
    try:
        return Checkpoint(
            size=int(fields["size"]), root=bytes.fromhex(fields["root"]), previous=fields["previous"],
            previous_size=int(fields["previous-size"]), time=fields["time"], key_id=fields["key"],
            signature=base64.b64decode(fields["signature"], validate=True),
        )
    except (KeyError, ValueError, binascii.Error) as exc:
        raise InvalidInput(f"checkpoint field {exc} is missing or malformed; the checkpoint text was altered.") from None
