"""Audit use-cases: signed checkpoints, queries, exports, verification, proofs, erasure, retention.

Scope: a key bound to a tenant reads only that tenant's events; a platform key (admin, or an
auditor created without a tenant) reads every event, including platform actions (no tenant).
Exports always cover the whole tree: events the caller may not see, or that the filters
leave out, appear as their leaf hash only, so any export verifies on its own.

The indexed columns only find candidate rows: an event is shown when its signed entry matches
the scope and the filters too, so a column edited in the database (which `verify` reports)
never moves an event into another tenant's view.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any, Iterator

import orjson

from aiplane.crypto import envelope
from aiplane.crypto.envelope import Envelope
from aiplane.crypto.signing import Signer
from aiplane.domain import audit, checkpoints, durations, merkle, verification
from aiplane.domain.checkpoints import NONE, Checkpoint
from aiplane.domain.clock import Clock
from aiplane.domain.errors import Forbidden, InvalidInput, NotFound
from aiplane.domain.policy import Action, Principal, authorize
from aiplane.store import audit as audit_rows
from aiplane.store import tenants as tenant_rows
from aiplane.store.audit import Filters
from aiplane.store.database import Database

log = logging.getLogger("aiplane.audit")
EXPORT_FORMAT = "aiplane-audit-export/v2"
CSV_FIELDS = ("seq", *audit.FIELDS, "outcome")
MAX_QUERY = 10_000


class AuditService:
    def __init__(self, db: Database, clock: Clock, signer: Signer, keys: Envelope, retention_days: int) -> None:
        self.db, self.clock, self.signer, self.keys = db, clock, signer, keys
        self.retention_days = retention_days

    # Checkpoints

    def checkpoint(self) -> Checkpoint | None:
        """Sign the tree as it is now, if it grew since the last checkpoint."""
        with self.db.write(bump_generation=False) as conn:
            head = audit_rows.lock_head(self.db, conn)
            latest_text = audit_rows.latest_checkpoint(conn)
            latest = checkpoints.parse(latest_text) if latest_text else None
            if head.size == 0 or (latest is not None and latest.size >= head.size):
                return None
            draft = Checkpoint(size=head.size, root=head.frontier.root(),
                               previous=latest.digest() if latest else NONE,
                               previous_size=latest.size if latest else 0,
                               time=self.clock.now().isoformat(), key_id=self.signer.verifier.key_id)
            signed = replace(draft, signature=self.signer.sign(draft))
            audit_rows.insert_checkpoint(conn, signed.size, signed.text(), self.clock.now())
        return signed

    async def keep_checkpointing(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await asyncio.to_thread(self.checkpoint)
            except Exception:  # the next round tries again; verification shows any gap
                log.warning("audit checkpoint failed", exc_info=True)

    def public_key_pem(self) -> str:
        return self.signer.verifier.pem().decode()

    # Reading

    def _scope(self, who: Principal, tenant: str | None) -> str | None:
        authorize(who, Action.AUDIT_READ, tenant)
        if who.tenant is not None:
            return who.tenant
        return tenant

    def query(self, who: Principal, filters: Filters, limit: int = 100, after: int = -1,
              newest_first: bool = False) -> list[dict[str, Any]]:
        filters = replace(filters, tenant=self._scope(who, filters.tenant))
        if not 1 <= limit <= MAX_QUERY:
            raise InvalidInput(f"limit {limit} is out of range; use 1 to {MAX_QUERY}.")
        with self.db.read() as conn:
            rows = audit_rows.query(conn, filters, limit, after, newest_first)
        events = (_event(seq, entry, kept) for seq, entry, kept in rows)
        return [e for e in events if e.get("pruned") or _agrees(e, filters)]

    def export_jsonl(self, who: Principal, filters: Filters) -> Iterator[bytes]:
        filters = replace(filters, tenant=self._scope(who, filters.tenant))
        with self.db.read() as conn:
            texts = audit_rows.checkpoints(conn)
            size = audit_rows.head(conn).size
            shown = audit_rows.matching_positions(conn, filters)
            check = filters != Filters()
            yield orjson.dumps({"format": EXPORT_FORMAT, "public_key": self.public_key_pem(), "size": size,
                                "exported_at": self.clock.now().isoformat(), "tenant": filters.tenant}) + b"\n"
            for text in texts:
                yield orjson.dumps({"checkpoint": text}) + b"\n"
            rows = audit_rows.stream(conn)
            try:
                for seq, leaf, entry, _ in rows:
                    if seq >= size:
                        break
                    show = entry is not None and seq in shown and (not check or _agrees(orjson.loads(entry), filters))
                    shown_entry = _embedded(entry) if show and entry is not None else b"null"
                    yield b'{"seq":%d,"leaf_hash":"%s","entry":%s}\n' % (seq, leaf.hex().encode(), shown_entry)
            finally:
                rows.close()

    def export_csv(self, who: Principal, filters: Filters) -> Iterator[bytes]:
        filters = replace(filters, tenant=self._scope(who, filters.tenant))
        out = io.StringIO()
        writer = csv.DictWriter(out, CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        after = -1
        while True:
            with self.db.read() as conn:
                rows = audit_rows.query(conn, filters, MAX_QUERY, after)
            for seq, entry, _ in rows:
                doc = audit.decode_entry(entry) if entry is not None else None
                if doc is not None and _agrees(doc, filters):
                    if doc.get("user") is not None:  # an SSO caller: one column, as JSON
                        doc["user"] = orjson.dumps(doc["user"]).decode()
                    writer.writerow(doc)
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
            if len(rows) < MAX_QUERY:
                return
            after = rows[-1][0]

    def verify(self, who: Principal) -> verification.Report:
        authorize(who, Action.AUDIT_READ)
        with self.db.read() as conn:
            cps = [checkpoints.parse(t) for t in audit_rows.checkpoints(conn)]
            verifier = self.signer.verifier
            rows = audit_rows.stream(conn, columns=True)
            try:
                return verification.verify(rows, cps, verifier.check, verifier.key_id)
            finally:
                rows.close()  # it may stop early, at the first bad position

    # Proofs

    def _checkpoint(self, conn: Any, size: int | None) -> Checkpoint:
        text = audit_rows.checkpoint_at(conn, size) if size is not None else audit_rows.latest_checkpoint(conn)
        if text is None:
            which = f"at size {size}" if size is not None else "yet"
            raise NotFound(f"there is no signed checkpoint {which}; see GET /api/v1/audit/checkpoints.")
        return checkpoints.parse(text)

    def inclusion_proof(self, who: Principal, audit_id: str, size: int | None = None) -> dict[str, Any]:
        authorize(who, Action.AUDIT_READ)
        with self.db.read() as conn:
            row = audit_rows.find(conn, audit_id)
            if row is None or not who.sees(_signed_tenant(row) or ""):
                raise NotFound(f"audit event {audit_id!r} does not exist or is not visible to this key.")
            cp = self._checkpoint(conn, size)
            if row["seq"] >= cp.size:
                raise NotFound(f"audit event {audit_id!r} is not yet covered by a signed checkpoint; retry in a second.")
            leaves = audit_rows.leaf_hashes(conn, cp.size)
        path = merkle.inclusion_proof(row["seq"], leaves)
        return {"audit_id": audit_id, "seq": row["seq"], "leaf_hash": bytes(row["leaf_hash"]).hex(),
                "entry": bytes(row["entry"]).decode() if row["entry"] is not None else None,
                "tree_size": cp.size, "root": cp.root.hex(), "checkpoint": cp.text(), "proof": [p.hex() for p in path]}

    def consistency_proof(self, who: Principal, first: int, second: int | None = None) -> dict[str, Any]:
        """Proof that the tree of `first` entries is a prefix of the signed tree at `second` (the
        newest checkpoint when None). `first` need not be a size the server still has a checkpoint
        of: an auditor checks the proof against the root of the checkpoint it kept."""
        authorize(who, Action.AUDIT_READ)
        if first < 1 or (second is not None and first > second):
            raise InvalidInput(f"sizes {first} and {second} do not make a range; the first must be positive and not larger.")
        with self.db.read() as conn:
            new = self._checkpoint(conn, second)
            if first > new.size:
                raise InvalidInput(f"size {first} is beyond the newest signed checkpoint ({new.size} entries); "
                                   f"ask for a size up to {new.size}.")
            old_text = audit_rows.checkpoint_at(conn, first)
            leaves = audit_rows.leaf_hashes(conn, new.size)
        proof = merkle.consistency_proof(first, leaves) if first < new.size else []
        old = checkpoints.parse(old_text) if old_text is not None else None
        return {"first": {"size": first, "root": merkle.root(leaves[:first]).hex(),
                          "checkpoint": old.text() if old is not None else None},
                "second": {"size": new.size, "root": new.root.hex(), "checkpoint": new.text()},
                "proof": [p.hex() for p in proof]}

    def list_checkpoints(self, who: Principal, latest: bool = False) -> list[dict[str, Any]]:
        authorize(who, Action.AUDIT_READ)
        with self.db.read() as conn:
            newest = audit_rows.latest_checkpoint(conn) if latest else None
            texts = ([newest] if newest else []) if latest else audit_rows.checkpoints(conn)
        out = []
        for text in texts:
            cp = checkpoints.parse(text)
            out.append({"size": cp.size, "root": cp.root.hex(), "time": cp.time, "text": text})
        return out

    # Payloads, erasure, retention

    def payload(self, who: Principal, audit_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            row = audit_rows.find(conn, audit_id)
            tenant = _signed_tenant(row) if row is not None and row["entry"] is not None else None
            if row is None or tenant is None:
                raise NotFound(f"audit event {audit_id!r} does not exist.")
            authorize(who, Action.AUDIT_READ, tenant)
            if row["payload"] is None:
                raise NotFound(f"audit event {audit_id!r} has no logged payload (payload logging was off, or retention pruned it).")
            wrapped = audit_rows.data_key(conn, row["payload_key"])
        if wrapped is None:
            return {"audit_id": audit_id, "erased": True, "input": None, "output": None}
        plain = envelope.open_sealed(self.keys.unwrap(wrapped), bytes(row["payload"]), audit_id.encode())
        if plain is None:
            raise InvalidInput(f"the logged payload of {audit_id!r} does not decrypt: it was altered.")
        request, response = audit.split_payload(plain)
        return {"audit_id": audit_id, "erased": False, "input": base64.b64encode(request).decode(),
                "output": base64.b64encode(response).decode()}

    def erase_payloads(self, who: Principal, tenant: str) -> dict[str, Any]:
        """Crypto-shredding: destroy the tenant's data keys; the log and its proofs stay intact."""
        authorize(who, Action.TENANT_UPDATE, tenant)
        with self.db.write(bump_generation=False) as conn:
            destroyed = audit_rows.destroy_data_keys(conn, tenant, self.clock.now())
        return {"tenant": tenant, "data_keys_destroyed": destroyed}

    def set_retention(self, who: Principal, tenant: str, days: int) -> dict[str, Any]:
        authorize(who, Action.TENANT_UPDATE, tenant)
        if isinstance(days, bool) or not 1 <= days <= durations.MAX_DAYS:
            raise InvalidInput(f"days {days} is out of range; keep a tenant's audit metadata 1 to {durations.MAX_DAYS} days.")
        with self.db.write(bump_generation=False) as conn:
            tenant_rows.get(conn, tenant)  # NotFound for a tenant that does not exist
            audit_rows.set_retention(conn, tenant, days)
        return {"tenant": tenant, "days": days}

    def prune(self, who: Principal) -> dict[str, int]:
        """Drop the content of entries past their tenant's retention; leaf hashes stay."""
        if who.tenant is not None:
            raise Forbidden("pruning applies to every tenant's retention; use a platform-admin key.")
        authorize(who, Action.TENANT_UPDATE)
        now = self.clock.now()
        pruned: dict[str, int] = {}
        with self.db.write(bump_generation=False) as conn:
            days = audit_rows.retention(conn)
            for tenant in audit_rows.tenants_in_log(conn):
                # Bounded here too: a row stored before days were bounded must not break pruning.
                keep = timedelta(days=min(days.get(tenant or "", self.retention_days), durations.MAX_DAYS))
                pruned[tenant or "(platform)"] = audit_rows.prune(conn, tenant, now - keep)
        return pruned


def _agrees(doc: dict[str, Any], f: Filters) -> bool:
    """Whether the signed entry matches the scope and filters its row's columns matched."""
    for name, wanted in (("tenant", f.tenant), ("actor", f.actor), ("action", f.action), ("deployment", f.deployment)):
        if wanted is not None and doc.get(name) != wanted:
            return False
    if f.since is None and f.until is None:
        return True
    when = audit.utc_time(doc.get("completed_at"))
    return when is not None and (f.since is None or when >= f.since) and (f.until is None or when < f.until)


def _signed_tenant(row: Any) -> str | None:
    """The tenant of a found row, from its signed entry (its column when pruned); a row whose
    column disagrees with its entry belongs to nobody but the platform."""
    if row["entry"] is None:
        return row["tenant"]  # type: ignore[no-any-return]
    tenant = audit.decode_entry(bytes(row["entry"])).get("tenant")
    return tenant if tenant == row["tenant"] else None


def _embedded(entry: bytes) -> bytes:
    """An entry as the value of an export line's "entry": its exact bytes (a JSON object), so a
    verifier slices them out of the line instead of parsing it. An entry with a line break (only a
    hand-made event sent straight to the writer's socket could have one) would split the line, so
    it goes as a JSON string instead, which keeps its bytes too."""
    return orjson.dumps(entry.decode()) if b"\n" in entry else entry


def _event(seq: int, entry: bytes | None, kept: bool) -> dict[str, Any]:
    if entry is None:
        return {"seq": seq, "pruned": True}
    doc = audit.decode_entry(entry)
    doc.pop("prev", None)
    doc["payload_logged"] = kept
    return doc
