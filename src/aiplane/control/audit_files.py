"""Offline verification of an audit export (JSON Lines), with no server and no database.

    {"format":"aiplane-audit-export/v2","public_key":"<PEM>","size":N,...}   header
    {"checkpoint":"<checkpoint text>"}                                      one per checkpoint
    {"seq":0,"leaf_hash":"<64 hex>","entry":{"seq":0,"prev":...}}            one per position
    {"seq":1,"leaf_hash":"<64 hex>","entry":null}                           an entry not shown

An entry line is not parsed as JSON: it is compared with the layout the exporter writes (the
next position, 64 lowercase hex digits, the entry's exact bytes), and the position, the leaf
hash and the entry are sliced out of it, so a file verifies as fast as the database (a JSON
string would have to be unescaped first). The leaf hash and the chain then prove that the bytes
are the entry's. A line off that layout is refused, but for an entry with a line break, which
the exporter has to write as a JSON string.
A v1 export (every entry a JSON string) is still read, line by line with a JSON parser.

Entries the exporter could not or chose not to show carry only their leaf hash; the tree and
the signatures check the same. Without `--public-key`, the key inside the export is used,
which proves only that the file is consistent with itself: pass the platform's key to prove
that the platform signed it.
"""

from __future__ import annotations

import binascii
import itertools
import re
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import orjson

from aiplane.control.audit import EXPORT_FORMAT
from aiplane.crypto.signing import Verifier
from aiplane.domain import checkpoints, verification
from aiplane.domain.checkpoints import Checkpoint
from aiplane.domain.errors import InvalidInput

FORMAT_V1 = "aiplane-audit-export/v1"
Numbered = Iterator[tuple[int, bytes]]
# An entry line exactly as the exporter writes it: no spaces, a canonical position, a lowercase
# leaf hash, and the entry's own bytes (an object) or null. The final newline may be missing.
_ENTRY_LINE = re.compile(rb'\{"seq":(0|[1-9][0-9]*),"leaf_hash":"([0-9a-f]{64})","entry":(\{.*\}|null)\}\n?',
                         re.DOTALL)


def verify_export(path: Path, public_key: Path | None = None) -> tuple[verification.Report, bool]:
    """The report, and whether the signatures were checked against a key the caller supplied."""
    header, handle = _open(path)
    with handle:
        if public_key is not None:
            try:
                pem = public_key.read_bytes()
            except OSError as exc:
                raise InvalidInput(f"cannot read public key {str(public_key)!r} ({exc.strerror}); "
                                   f"pass a PEM file.") from None
            verifier = Verifier.from_pem(pem, str(public_key))
        else:
            verifier = Verifier.from_pem(str(header.get("public_key", "")).encode(), f"the public key inside {path}")
        cps: list[Checkpoint] = []
        entries = _entries_v2 if header["format"] == EXPORT_FORMAT else _entries_v1
        rows = _rows(path, handle, cps, entries)
        tenant = header.get("tenant")
        report = verification.verify(rows, cps, verifier.check, verifier.key_id, tenant if isinstance(tenant, str) else None)
    return report, public_key is not None


def kept_checkpoint(path: Path) -> tuple[Checkpoint, bytes | None]:
    """The newest checkpoint in a file an auditor kept, and the public key (PEM) it carries if
    any: an export (its newest checkpoint), a checkpoint's text, or `audit checkpoint -o json`."""
    try:
        with path.open("rb") as handle:
            first = handle.readline(1 << 20)
            if first.startswith(b'{"format":'):
                header, texts = orjson.loads(first), []
                for line in handle:
                    if not line.startswith(b'{"checkpoint":'):
                        break
                    texts.append(orjson.loads(line)["checkpoint"])
                if not texts:
                    raise InvalidInput(f"{str(path)!r} holds no signed checkpoint; export again once the log has one.")
                return max((checkpoints.parse(t) for t in texts), key=lambda c: c.size), str(header.get("public_key", "")).encode()
            text = (first + handle.read(1 << 16)).decode()
    except OSError as exc:
        raise InvalidInput(f"cannot read {str(path)!r} ({exc.strerror}); pass a checkpoint or an export.") from None
    except (orjson.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidInput(f"{str(path)!r} is not a checkpoint or an export; save one with 'aiplane audit checkpoint' "
                           f"or 'aiplane audit export'.") from None
    if text.startswith("{"):
        try:
            text = orjson.loads(text)["text"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise InvalidInput(f"{str(path)!r} is JSON but not a checkpoint from 'aiplane audit checkpoint -o json'.") from None
    return checkpoints.parse(str(text)), None


def _open(path: Path) -> tuple[dict[str, Any], BinaryIO]:
    try:
        handle = path.open("rb", buffering=1 << 20)  # the default 8 KiB costs a system call every ~8 lines
    except OSError as exc:
        raise InvalidInput(f"cannot read {str(path)!r} ({exc.strerror}); pass a file from 'aiplane audit export'.") from None
    first = handle.readline(1 << 20)
    try:
        header = orjson.loads(first)
    except orjson.JSONDecodeError:
        header = None
    found = header.get("format") if isinstance(header, dict) else None
    if found in (EXPORT_FORMAT, FORMAT_V1):
        return header, handle
    handle.close()
    if isinstance(found, str) and found.startswith("aiplane-audit-export/"):
        raise InvalidInput(f"{str(path)!r} is an {found} export, which this version of aiplane cannot read "
                           f"(it reads {FORMAT_V1} and {EXPORT_FORMAT}); verify it with a newer aiplane.")
    raise InvalidInput(f"{str(path)!r} is not an aiplane audit export (its first line is not an {EXPORT_FORMAT} "
                       f"header); create one with 'aiplane audit export'.")


def _rows(path: Path, lines: Iterator[bytes], cps: list[Checkpoint],
          entries: Callable[[Path, Numbered], Iterator[verification.Row]]) -> Iterator[verification.Row]:
    """Reads the checkpoints into `cps` now (they come first) and returns the entries' rows."""
    numbered = enumerate(lines, start=2)
    for number, line in numbered:
        if not line.startswith(b'{"checkpoint":'):
            return entries(path, itertools.chain([(number, line)], numbered))
        try:
            cps.append(checkpoints.parse(orjson.loads(line)["checkpoint"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise _not_a_record(path, number) from None
    return iter(())


def _entries_v2(path: Path, numbered: Numbered) -> Iterator[verification.Row]:
    """Each line is first compared with what the exporter writes for a shown entry at the next
    position, which is cheaper than matching the pattern; a null entry, another position or
    anything odd goes to the pattern, of which this fast path accepts a strict subset."""
    unhexlify, hexlify = binascii.unhexlify, binascii.hexlify
    for position, (number, line) in enumerate(numbered):
        head = b'{"seq":%d,"leaf_hash":"' % position
        at = len(head)
        if line.startswith(head) and line[at + 64:at + 76] == b'","entry":{"' and line.endswith(b"}}\n"):
            digits = line[at:at + 64]
            try:
                leaf = unhexlify(digits)
            except binascii.Error:
                leaf = b""
            if hexlify(leaf) == digits:  # lowercase hex only, as the pattern
                yield position, leaf, line[at + 74:-2], None
                continue
        yield _matched_row(path, number, line)


def _matched_row(path: Path, number: int, line: bytes) -> verification.Row:
    found = _ENTRY_LINE.fullmatch(line)
    if found is None:
        return _unusual_row(path, number, line)
    seq, leaf, entry = found.groups()
    return int(seq), binascii.unhexlify(leaf), entry if entry != b"null" else None, None


def _unusual_row(path: Path, number: int, line: bytes) -> verification.Row:
    """A line off the exact layout is refused, but for an entry with a line break, which the
    exporter writes as a JSON string (embedded raw, it would split the line)."""
    doc = _entry_doc(path, number, line)
    if isinstance(doc, dict) and isinstance(doc.get("entry"), str) and "\n" in doc["entry"]:
        return _v1_row(path, number, doc)
    raise _not_a_record(path, number)


def _entries_v1(path: Path, numbered: Numbered) -> Iterator[verification.Row]:
    for number, line in numbered:
        yield _v1_row(path, number, _entry_doc(path, number, line))


def _entry_doc(path: Path, number: int, line: bytes) -> Any:
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise _not_a_record(path, number) from None
    if isinstance(doc, dict) and "checkpoint" in doc:
        raise _checkpoint_among_entries(path, number)
    return doc


def _v1_row(path: Path, number: int, doc: Any) -> verification.Row:
    try:
        entry, leaf = doc["entry"], bytes.fromhex(doc["leaf_hash"])
        if type(doc["seq"]) is not int or len(leaf) != 32 or not (entry is None or isinstance(entry, str)):
            raise ValueError("not an entry line")
        return doc["seq"], leaf, entry.encode() if entry is not None else None, None
    except (KeyError, TypeError, ValueError):
        raise _not_a_record(path, number) from None


def _not_a_record(path: Path, number: int) -> InvalidInput:
    return InvalidInput(f"line {number} of {str(path)!r} is not an export record; the file was damaged or "
                        f"edited by hand.")


def _checkpoint_among_entries(path: Path, number: int) -> InvalidInput:
    return InvalidInput(f"line {number} of {str(path)!r} is a checkpoint among the entries; the file was edited.")
