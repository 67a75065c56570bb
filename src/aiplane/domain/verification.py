"""Recompute the audit log and name the first position where it was tampered with.

Checks, in one pass over the entries in position order:
- positions run 0, 1, 2, ... without a gap or a repeat (deleted / inserted rows);
- each entry's bytes hash to the leaf hash stored with it (modified content);
- each entry records its own position and the leaf hash of the entry before it (moved,
  inserted, replaced entries, and a modified entry whose stored hash was rewritten too);
- at every checkpoint size, the recomputed RFC 6962 root equals the signed root;
- every checkpoint's Ed25519 signature, and its link to the checkpoint before it;
- the log still reaches the size of the newest checkpoint (truncation);
- the columns stored beside each entry for queries and scoping (audit id, tenant, actor,
  action, deployment, time) hold the entry's own values, and, for an export of one tenant,
  every entry it shows is that tenant's.

An entry pruned by retention keeps its leaf hash, so the tree and the chain stay checkable.
"""

from __future__ import annotations

import binascii
import hashlib
import itertools
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Sequence

import orjson

from aiplane.domain import audit
from aiplane.domain.checkpoints import NONE, Checkpoint
from aiplane.domain.merkle import Frontier

# (position, stored leaf hash, entry bytes or None if pruned, the row's indexed columns or None
# where there are none, as in an export)
Row = tuple[int, "bytes | None", "bytes | None", "audit.Columns | None"]


@dataclass(frozen=True, slots=True)
class Report:
    ok: bool
    entries: int
    checkpoints: int
    signed_entries: int
    first_bad_position: int | None
    problem: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Bad(Exception):
    def __init__(self, position: int | None, problem: str) -> None:
        super().__init__(problem)
        self.position, self.problem = position, problem


def verify(rows: Iterable[Row], checkpoints: Sequence[Checkpoint], signature_ok: Callable[[Checkpoint], bool],
           public_key_id: str, tenant: str | None = None) -> Report:
    """`tenant`: the one tenant whose entries the rows may show (an export of that tenant)."""
    checkpoints = sorted(checkpoints, key=lambda c: c.size)
    count = 0
    try:
        _check_checkpoints(checkpoints, signature_ok, public_key_id)
        count = _check_entries(rows, checkpoints, tenant)
    except _Bad as bad:
        return Report(False, count or bad.position or 0, len(checkpoints), 0, bad.position, bad.problem)
    if count == 0:
        return Report(False, 0, 0, 0, None, "the audit log is empty: there is nothing to verify yet.")
    signed = checkpoints[-1].size if checkpoints else 0
    return Report(True, count, len(checkpoints), signed, None, None)


def _check_checkpoints(checkpoints: Sequence[Checkpoint], signature_ok: Callable[[Checkpoint], bool],
                       public_key_id: str) -> None:
    previous: Checkpoint | None = None
    for cp in checkpoints:
        if cp.key_id != public_key_id:
            raise _Bad(None, f"checkpoint {cp.size} was signed by key {cp.key_id}, not by the given public key "
                             f"{public_key_id}; pass the platform's public key (aiplane audit public-key).")
        if not signature_ok(cp):
            raise _Bad(cp.previous_size, f"checkpoint {cp.size} has an invalid signature: the checkpoint was altered.")
        link = previous.digest() if previous is not None else NONE
        size_before = previous.size if previous is not None else 0
        if cp.previous != link or cp.previous_size != size_before:
            raise _Bad(size_before, f"checkpoint {cp.size} does not follow checkpoint {size_before}: a checkpoint "
                                    f"between them was removed or replaced.")
        previous = cp


def _check_entries(rows: Iterable[Row], checkpoints: Sequence[Checkpoint], tenant: str | None) -> int:
    sha256, hexlify = hashlib.sha256, binascii.hexlify
    frontier = Frontier()
    append = frontier.append
    pending = list(reversed(checkpoints))
    next_size = pending[-1].size if pending else -1
    prev = audit.GENESIS
    expected = 0
    rows = iter(rows)
    for seq, stored, entry, columns in rows:
        if seq != expected:
            after = [row[0] for row in itertools.islice(rows, 2)]
            raise _Bad(expected, _gap(expected, seq, after))
        if entry is not None:
            leaf = sha256(b"\x00" + entry).digest()
            if stored != leaf and stored is not None:
                raise _Bad(seq, f"the entry at position {seq} was modified: it no longer matches its leaf hash.")
            if not entry.startswith(b'{"seq":%d,"prev":"%s",' % (seq, hexlify(prev))):
                raise _Bad(*_misplaced(seq, entry))
            if columns is not None or tenant is not None:
                _check_fields(seq, entry, columns, tenant)
        elif stored is not None:
            leaf = stored
        else:
            raise _Bad(seq, f"position {seq} has neither an entry nor a leaf hash.")
        append(leaf)
        prev = leaf
        expected += 1
        if expected == next_size:
            cp = pending.pop()
            if frontier.root() != cp.root:
                raise _Bad(cp.previous_size, f"the first {cp.size} entries do not match signed checkpoint {cp.size}: "
                                             f"an entry between positions {cp.previous_size} and {cp.size - 1} was changed.")
            next_size = pending[-1].size if pending else -1
    if pending:
        size = pending[0].size
        raise _Bad(expected, f"the log ends after {expected} entries but checkpoint {size} signed {size}: "
                             f"entries from position {expected} on were removed (truncated).")
    return expected


def _check_fields(seq: int, entry: bytes, columns: audit.Columns | None, tenant: str | None) -> None:
    try:
        doc = orjson.loads(entry)
    except orjson.JSONDecodeError:
        raise _Bad(seq, f"the entry at position {seq} is not JSON: it was replaced.") from None
    if not isinstance(doc, dict):
        raise _Bad(seq, f"the entry at position {seq} is not an audit event: it was replaced.")
    if columns is not None and not audit.columns_agree(doc, columns):
        raise _Bad(seq, f"the row at position {seq} was edited in the database: {audit.column_mismatch(doc, columns)}.")
    if tenant is not None and doc.get("tenant") != tenant:
        raise _Bad(seq, f"the entry at position {seq} belongs to tenant {doc.get('tenant')!r}, but this is an export "
                        f"of tenant {tenant!r}: the export shows another tenant's event.")


def _gap(expected: int, seq: int, after: list[int]) -> str:
    """Name what most likely happened, from the position found and the two after it."""
    if seq > expected and after[:1] == [expected]:
        if after[1:] == [seq + 1]:
            return f"positions {expected} and {seq} were swapped (reordered)."
        return f"an entry was inserted at position {expected}: it claims position {seq}, and position {expected} follows it."
    if seq > expected:
        return f"the entry at position {expected} is missing: the log jumps to position {seq} (deleted)."
    return f"position {seq} appears again after position {expected - 1}: an entry was inserted or duplicated."


def _misplaced(seq: int, entry: bytes) -> tuple[int, str]:
    recorded = audit.recorded_position(entry)
    if recorded is None:
        return seq, f"the entry at position {seq} is not an audit entry: it was replaced."
    if recorded != seq:
        return seq, (f"the entry at position {seq} belongs at position {recorded}: entries were inserted, "
                     f"deleted or reordered.")
    return seq - 1, (f"the entry at position {seq - 1} was modified or replaced: position {seq} recorded "
                     f"a different hash for it.")
