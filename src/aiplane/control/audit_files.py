"""Offline verification of an audit export (JSON Lines), with no server and no database.

    {"format": "aiplane-audit-export/v1", "public_key": "<PEM>", "size": N, ...}   header
    {"checkpoint": "<checkpoint text>"}                                                 one per checkpoint
    {"seq": 0, "leaf_hash": "<hex>", "entry": "<the exact entry text>" | null}       one per position

Entries the exporter could not or chose not to show carry only their leaf hash; the tree and
the signatures check the same. Without `--public-key`, the key inside the export is used,
which proves only that the file is consistent with itself: pass the platform's key to prove
that the platform signed it.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Iterator

import orjson

from aiplane.control.audit import EXPORT_FORMAT
from aiplane.crypto.signing import Verifier
from aiplane.domain import checkpoints, verification
from aiplane.domain.checkpoints import Checkpoint
from aiplane.domain.errors import InvalidInput


def verify_export(path: Path, public_key: Path | None = None) -> tuple[verification.Report, bool]:
    """The report, and whether the signatures were checked against a key the caller supplied."""
    header, lines = _open(path)
    if public_key is not None:
        try:
            pem = public_key.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read public key {str(public_key)!r} ({exc.strerror}); pass a PEM file.") from None
        verifier = Verifier.from_pem(pem, str(public_key))
    else:
        verifier = Verifier.from_pem(str(header.get("public_key", "")).encode(), f"the public key inside {path}")
    cps: list[Checkpoint] = []
    rows = _rows(path, lines, cps)
    first = next(rows, None)  # reads the checkpoints, which come before the entries
    entries = itertools.chain([first], rows) if first is not None else iter(())
    report = verification.verify(entries, cps, verifier.check, verifier.key_id)
    return report, public_key is not None


def _open(path: Path) -> tuple[dict[str, Any], Iterator[bytes]]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InvalidInput(f"cannot read {str(path)!r} ({exc.strerror}); pass a file from 'aiplane audit export'.") from None
    first = handle.readline(1 << 20)
    try:
        header = orjson.loads(first)
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        handle.close()
        raise InvalidInput(f"{str(path)!r} is not an aiplane audit export (its first line is not an {EXPORT_FORMAT} "
                           f"header); create one with 'aiplane audit export'.")
    return header, iter(handle)


def _rows(path: Path, lines: Iterator[bytes], cps: list[Checkpoint]) -> Iterator[verification.Row]:
    in_entries = False
    for number, line in enumerate(lines, start=2):
        try:
            doc = orjson.loads(line)
            if "checkpoint" in doc:
                if in_entries:
                    raise InvalidInput(f"line {number} of {str(path)!r} is a checkpoint among the entries; "
                                       f"the file was edited.")
                cps.append(checkpoints.parse(doc["checkpoint"]))
                continue
            in_entries = True
            entry = doc["entry"]
            yield int(doc["seq"]), bytes.fromhex(doc["leaf_hash"]), entry.encode() if entry is not None else None
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise InvalidInput(f"line {number} of {str(path)!r} is not an export record; the file was damaged or "
                               f"edited by hand.") from None
