"""People signed in through an identity provider (OIDC), and what their claims grant.

A platform-admin keeps a table of mappings: "claim `groups` holding `clinical-admins` grants
(tenant `clinical`, role `tenant-admin`)". A verified token grants the union of every mapping
its claims match. A call then acts in one tenant (`narrow`): the one it names, or the only one
the grants cover; the roles it holds there are the union of the grants for that tenant, plus
the platform grants (tenant None), which count in every tenant. The result is an ordinary
`Principal`, so `policy.authorize` decides for SSO callers exactly as it does for keys.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from aiplane.domain.errors import Forbidden, InvalidInput
from aiplane.domain import names
from aiplane.domain.policy import Principal
from aiplane.domain.roles import PLATFORM_ROLES, Role

MAX_CLAIM = 64
MAX_VALUE = 255


@dataclass(frozen=True, slots=True)
class Person:
    """Who signed in, as the audit trail records it (email and name when the token has them)."""

    issuer: str
    subject: str
    email: str | None = None
    name: str | None = None

    @property
    def actor(self) -> str:
        """A short stable id for the audit trail's actor column: `sso:` and 24 hex digits of
        SHA-256 over issuer and subject (the full pair is in the event)."""
        return "sso:" + hashlib.sha256(f"{self.issuer}\n{self.subject}".encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Grant:
    tenant: str | None  # None: a platform role, in every tenant
    role: Role


@dataclass(frozen=True, slots=True)
class ClaimMapping:
    """One row of the mapping table."""

    id: int
    claim: str
    value: str
    grant: Grant


def check_mapping(claim: str, value: str, tenant: str | None, role: Role) -> Grant:
    """The grant a new mapping would give; InvalidInput with one sentence when it cannot exist."""
    if not claim or len(claim) > MAX_CLAIM or not claim.isprintable():
        raise InvalidInput(f"claim name {claim!r} must be 1 to {MAX_CLAIM} printable characters, such as 'groups'.")
    if not value or len(value) > MAX_VALUE:
        raise InvalidInput(f"claim value {value[:40]!r} must be 1 to {MAX_VALUE} characters.")
    if tenant is None and role not in PLATFORM_ROLES:
        raise InvalidInput(f"role {role.value!r} acts inside a tenant; pass --tenant.")
    if tenant is not None:
        names.check("tenant", tenant)
        if role is Role.PLATFORM_ADMIN:
            raise InvalidInput("role 'platform-admin' acts in every tenant; map it without --tenant.")
    return Grant(tenant, role)


def _values(claim: Any) -> set[str]:
    if isinstance(claim, str):
        return {claim}
    if isinstance(claim, (list, tuple)):
        return {v for v in claim if isinstance(v, str)}
    if isinstance(claim, bool):  # before int: True is an int
        return {"true" if claim else "false"}
    if isinstance(claim, int):
        return {str(claim)}
    return set()


def grants_for(claims: Mapping[str, Any], mappings: Iterable[ClaimMapping]) -> frozenset[Grant]:
    """Every grant whose mapping the claims match (a list claim matches any of its items)."""
    cache: dict[str, set[str]] = {}
    out = set()
    for m in mappings:
        values = cache.get(m.claim)
        if values is None:
            values = cache[m.claim] = _values(claims.get(m.claim))
        if m.value in values:
            out.add(m.grant)
    return frozenset(out)


def narrow(person: Person, grants: frozenset[Grant], tenant: str | None) -> Principal:
    """The principal for one call that acts in `tenant` (None: the call names none)."""
    if not grants:
        raise Forbidden(f"you are signed in as {person.email or person.subject!r}, but no SSO mapping matches your "
                        "token's claims; ask a platform-admin to map one of your groups ('aiplane sso map').")
    platform = {g.role for g in grants if g.tenant is None}
    tenants = sorted({g.tenant for g in grants if g.tenant is not None})
    if tenant is None:
        if platform:
            return _principal(person, None, platform)
        if len(tenants) > 1:
            raise InvalidInput(f"your sign-in gives roles in tenants {', '.join(tenants)}; name the tenant this call "
                               "acts in with the X-Aiplane-Tenant header or ?tenant=.")
        tenant = tenants[0]
    roles = platform | {g.role for g in grants if g.tenant == tenant}
    if not roles:
        raise Forbidden(f"your sign-in gives no role in tenant {tenant!r} (only in {', '.join(tenants)}).")
    return _principal(person, tenant, roles)


_ORDER = list(Role)


def _principal(person: Person, tenant: str | None, roles: set[Role]) -> Principal:
    ordered = sorted(roles, key=_ORDER.index)  # the strongest first: it names the caller's role
    return Principal(person.actor, ordered[0], tenant, None, frozenset(ordered[1:]), person)
