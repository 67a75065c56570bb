"""Roles a key can hold."""

from __future__ import annotations

import enum

from aiplane.domain.errors import InvalidInput


class Role(str, enum.Enum):
    PLATFORM_ADMIN = "platform-admin"
    TENANT_ADMIN = "tenant-admin"
    DEPLOYER = "deployer"
    PREDICTOR = "predictor"
    AUDITOR = "auditor"

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(r.value for r in cls)
            raise InvalidInput(f"role {value!r} is unknown; use one of: {allowed}.") from None


# Roles that may exist without a tenant (they act across tenants).
PLATFORM_ROLES = frozenset({Role.PLATFORM_ADMIN, Role.AUDITOR})
