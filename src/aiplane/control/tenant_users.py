"""Each tenant's own unprivileged system user, which its replicas run as.

One user per tenant, not per replica: a tenant's replicas share its models and may share its
files; another tenant's replica must reach neither. The user is created on first use when the
platform runs as root and kept afterwards (a tenant created again gets the same one).
"""

from __future__ import annotations

import hashlib
import pwd
import subprocess
import time
from dataclasses import dataclass

_PREFIX = "aiplane-"
_MAX_NAME = 32  # useradd's limit


@dataclass(frozen=True, slots=True)
class TenantUser:
    name: str
    uid: int
    gid: int


def name_for(tenant: str) -> str:
    """`aiplane-<tenant>`; a tenant name too long for that is cut and given a hash of the whole."""
    name = _PREFIX + tenant
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(tenant.encode()).hexdigest()[:8]
    return f"{_PREFIX}{tenant[:_MAX_NAME - len(_PREFIX) - 9].rstrip('-')}-{digest}"


def ensure(tenant: str) -> TenantUser:
    """The tenant's user, created (a system user: no login, no home) when it does not exist yet.

    Blocking (useradd); OSError when it cannot be made, so the replica is not started as root."""
    name = name_for(tenant)
    for attempt in range(20):
        try:
            entry = pwd.getpwnam(name)
            return TenantUser(name, entry.pw_uid, entry.pw_gid)
        except KeyError:
            pass
        try:
            done = subprocess.run(
                ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                 "--shell", "/usr/sbin/nologin", "--comment", f"aiplane replicas of tenant {tenant}", name],
                capture_output=True, text=True, timeout=30)
        except FileNotFoundError:
            raise OSError("useradd is not installed; install the passwd package or set "
                          "AIPLANE_REPLICA_TENANT_USERS=false.") from None
        # 9: made meanwhile by another process (found on the next pass); 10: /etc/passwd was locked.
        if done.returncode not in (0, 9, 10):
            raise OSError(f"useradd {name} failed: {done.stderr.strip() or done.returncode}")
        if done.returncode == 10:
            time.sleep(0.05 * (attempt + 1))
    raise OSError(f"cannot create user {name}: /etc/passwd stayed locked.")
