"""API key use-cases, and the platform-admin key created on first start."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from aiplane.domain import durations, keys, tenancy
from aiplane.domain.clock import Clock
from aiplane.domain.errors import Conflict, InvalidInput
from aiplane.domain.keys import KeyRecord
from aiplane.domain.policy import Action, Principal, authorize, check_grant
from aiplane.domain.roles import PLATFORM_ROLES, Role
from aiplane.store import keys as key_rows
from aiplane.store import tenants as tenant_rows
from aiplane.store.database import Database


class KeyService:
    def __init__(self, db: Database, clock: Clock, on_change: Callable[[], None]) -> None:
        self.db, self.clock, self.on_change = db, clock, on_change

    def create(self, who: Principal, role: str, tenant: str | None = None, name: str | None = None,
               expires_in: str | None = None, rate_limit: float | str | None = None) -> tuple[KeyRecord, str]:
        """Create a key; returns its record and the secret, which is never retrievable again."""
        parsed = Role.parse(role)
        key_rate = None if rate_limit is None else tenancy.parse_rate("rate-limit", rate_limit)
        if tenant is None and parsed not in PLATFORM_ROLES:
            raise InvalidInput(f"a {parsed.value!r} key needs a tenant; pass --tenant.")
        if tenant is not None and parsed is Role.PLATFORM_ADMIN:
            raise InvalidInput("a platform-admin key acts on every tenant; create it without --tenant.")
        check_grant(who, parsed, tenant)
        now = self.clock.now()
        issued = keys.issue()
        record = KeyRecord(
            key_id=issued.key_id, hash=issued.hash, role=parsed, tenant=tenant,
            name=name or f"{parsed.value}-{issued.key_id[:4]}", created_at=now,
            expires_at=now + durations.parse("expires-in", expires_in) if expires_in else None, revoked_at=None,
            rate_limit=key_rate,
        )
        with self.db.write() as conn:
            if tenant is not None:
                tenant_rows.get(conn, tenant)
            key_rows.insert(conn, record, created_by=who.key_id)
        self.on_change()
        return record, issued.secret

    def list(self, who: Principal, tenant: str | None = None) -> list[KeyRecord]:
        scope = tenant if tenant is not None else who.tenant
        authorize(who, Action.KEY_READ, scope)
        with self.db.read() as conn:
            return key_rows.list_all(conn, scope)

    def revoke(self, who: Principal, key_id: str) -> KeyRecord:
        with self.db.write() as conn:
            record = key_rows.get(conn, key_id)
            if record.tenant is None:
                authorize(who, Action.KEY_REVOKE)
                if who.tenant is not None:
                    authorize(who, Action.TENANT_UPDATE)  # only platform keys revoke platform keys
            else:
                authorize(who, Action.KEY_REVOKE, record.tenant)
            now = self.clock.now()
            if record.role is Role.PLATFORM_ADMIN and record.usable_at(now):
                others = [k for k in key_rows.active_admins(conn, now, lock=not self.db.is_sqlite) if k != key_id]
                if not others:
                    raise Conflict(f"key {key_id!r} is the last active platform-admin key, and revoking it would lock "
                                   f"everyone out; create another platform-admin key first (aiplane key create "
                                   f"--role platform-admin), then revoke this one.")
            key_rows.revoke(conn, key_id, now)
            record = key_rows.get(conn, key_id)
        self.on_change()
        return record

    def recover_admin(self, key_file: Path, record_event: Callable[[KeyRecord], None]) -> str:
        """Offline recovery (aiplane admin recover): a new platform-admin key, whatever keys exist,
        written to `key_file` (0600); `record_event` audits it first, so it is never made unaudited."""
        issued = keys.issue()
        record = KeyRecord(issued.key_id, issued.hash, Role.PLATFORM_ADMIN, None, "recovered-admin",
                           self.clock.now(), None, None)
        record_event(record)
        with self.db.write() as conn:
            key_rows.insert(conn, record, created_by=None)
        write_secret(key_file, issued.secret)
        return issued.secret

    def bootstrap_admin(self, key_file: Path) -> str | None:
        """On first start, create a platform-admin key and write it to `key_file` (mode 0600)."""
        with self.db.write() as conn:
            if any(k.role is Role.PLATFORM_ADMIN for k in key_rows.list_all(conn)):
                return None
            issued = keys.issue()
            record = KeyRecord(issued.key_id, issued.hash, Role.PLATFORM_ADMIN, None, "bootstrap-admin",
                               self.clock.now(), None, None)
            key_rows.insert(conn, record, created_by=None)
            write_secret(key_file, issued.secret)
        self.on_change()
        return issued.secret


def write_secret(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    os.chmod(path, 0o600)
