"""The framing between the gateway's audit client and the audit writer process (one Unix socket).

    client -> writer, per event:  u32 event length, u32 payload length (NO_PAYLOAD: none),
                                  the event's JSON (the entry's body, hashed as sent), payload
    writer -> client, per batch:  i64 first position (FAILED: not durable), u32 count

Acknowledgements come in the order the events were sent, so the client needs no ids: the next
`count` events it is waiting for are the ones acknowledged.
"""

from __future__ import annotations

import struct

EVENT_HEADER = struct.Struct(">II")
ACK = struct.Struct(">qI")
NO_PAYLOAD = 0xFFFF_FFFF
FAILED = -1
MAX_EVENT_BYTES = 1 << 20  # an event is metadata; a larger length means a broken stream


def event_frame(event_json: bytes, payload: bytes | None) -> bytes:
    if payload is None:
        return EVENT_HEADER.pack(len(event_json), NO_PAYLOAD) + event_json
    return EVENT_HEADER.pack(len(event_json), len(payload)) + event_json + payload


class ProtocolError(Exception):
    pass


def split_events(buffer: bytearray) -> list[tuple[bytes, bytes | None]]:
    """Take every complete event frame off the front of `buffer`."""
    out: list[tuple[bytes, bytes | None]] = []
    at, size, header = 0, len(buffer), EVENT_HEADER.size
    while size - at >= header:
        n, p = EVENT_HEADER.unpack_from(buffer, at)
        if n > MAX_EVENT_BYTES or n < 2:
            raise ProtocolError(f"an audit event frame of {n} bytes is not valid")
        end = at + header + n + (0 if p == NO_PAYLOAD else p)
        if end > size:
            break
        event = bytes(buffer[at + header:at + header + n])
        out.append((event, None if p == NO_PAYLOAD else bytes(buffer[at + header + n:end])))
        at = end
    del buffer[:at]
    return out
