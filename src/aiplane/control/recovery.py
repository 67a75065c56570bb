"""Offline recovery of platform-admin access (`aiplane admin recover --data-dir D`).

Revoking the last active platform-admin key is refused (409), but a key can also be lost, or
expire. Whoever can read the data directory (and the database) already holds the platform, so
recovery is offline: no server, no key. It creates a new platform-admin key, records an
`admin.recover` event in the audit log first (appended directly, as the writer process does,
so it works whether or not `up` is running), and writes the secret to DATA_DIR/admin.key.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from aiplane.control.keys import KeyService
from aiplane.domain.audit import AuditEvent, new_audit_id
from aiplane.domain.clock import SystemClock
from aiplane.domain import keys
from aiplane.domain.errors import InvalidInput
from aiplane.domain.keys import KeyRecord
from aiplane.settings import Settings
from aiplane.store.audit_appender import Appender, Pending
from aiplane.store.database import Database


def recover(settings: Settings) -> tuple[str, str, Path]:
    """(new key id, secret, where the secret was written)."""
    data_dir = settings.server.data_dir
    if not settings.store.database_url and not (data_dir / "aiplane.db").exists():
        raise InvalidInput(f"{str(data_dir)!r} holds no aiplane database; pass the --data-dir that 'aiplane up' uses.")
    clock = SystemClock()
    db = Database(settings.database_url)
    try:
        db.migrate()
        appender = Appender(db)

        def record(key: KeyRecord) -> None:
            now = clock.now()
            appender.append([Pending.of(AuditEvent(
                audit_id=new_audit_id(time.time_ns() // 1_000_000, secrets.randbits(74)), received_at=now, completed_at=now, actor=None, role=None, tenant=None,
                source_ip=None, action="admin.recover", resource=f"keys/{key.key_id}", status=201,
                decision="offline recovery: a new platform-admin key"))])

        key_file = data_dir / "admin.key"
        service = KeyService(db, clock, lambda: None)
        secret = service.recover_admin(key_file, record)
        appender.close()
    finally:
        db.dispose()
    return str(keys.key_id_of(secret)), secret, key_file
