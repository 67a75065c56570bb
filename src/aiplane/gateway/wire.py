"""Just enough of the protobuf wire format to route a gRPC call without decoding it.

The gateway needs a model's name and version from a request, and a request id from an
answer; both are top-level string fields. Scanning the top level skips every other field by
its length (tensors included) in a few steps, so nothing is decoded or re-encoded.
"""

from __future__ import annotations

from aiplane.domain.errors import InvalidInput

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


def _malformed(what: str) -> InvalidInput:
    return InvalidInput(f"the request is not a valid {what} protobuf message; send one built from "
                        "the Open Inference Protocol's inference.proto.")


def _varint(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    value = shift = 0
    while pos < end and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise _malformed(what)


def strings(data: bytes, wanted: frozenset[int], what: str, stop_after: int = 0) -> dict[int, str]:
    """The wanted top-level string fields of `data` (last one wins, as in protobuf).

    Raises InvalidInput when the top level is not well-formed. With `stop_after`, scanning ends
    at the first field numbered above it (our own serializers write fields in order)."""
    found: dict[int, str] = {}
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos, end, what)
        number, kind = key >> 3, key & 7
        if number == 0:
            raise _malformed(what)
        if stop_after and number > stop_after:
            break
        if kind == _VARINT:
            _, pos = _varint(data, pos, end, what)
        elif kind == _FIXED64:
            pos += 8
        elif kind == _FIXED32:
            pos += 4
        elif kind == _LENGTH:
            size, pos = _varint(data, pos, end, what)
            if number in wanted:
                try:
                    found[number] = data[pos:pos + size].decode()
                except UnicodeDecodeError:
                    raise _malformed(what) from None
            pos += size
        else:  # groups (3, 4) are not used by inference.proto; 6 and 7 do not exist
            raise _malformed(what)
        if pos > end:
            raise _malformed(what)
    return found
