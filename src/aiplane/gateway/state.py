"""In-memory view of keys, tenants and deployments, so the hot path never touches the store.

Reloaded whenever the store's state generation moves (polled), and at once after a change
made in this process. Key use is remembered here and written to the store in batches
(`take_last_used`, `write_last_used`), never once per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from aiplane.domain import identity, keys, rollout
from aiplane.domain.deployments import Deployment
from aiplane.domain.clock import Clock
from aiplane.domain.errors import AiplaneError, Unauthorized
from aiplane.domain.identity import ClaimMapping
from aiplane.domain.keys import KeyRecord
from aiplane.domain.policy import Principal
from aiplane.gateway import oidc
from aiplane.gateway.limiting import AuthGuard
from aiplane.gateway.oidc import KeysNeeded, OidcVerifier, Verified
from aiplane.store import deployments as deployment_rows
from aiplane.store import keys as key_rows
from aiplane.store import sso as sso_rows
from aiplane.store import tenants as tenant_rows
from aiplane.store.database import Database

_DUMMY_HASH = keys.digest("aip_000000000000_" + "0" * 48)


@dataclass(frozen=True, slots=True)
class Route:
    """Where a deployment's requests go. A canary is a second Route (under the canary's id) that
    takes `canary_percent` of the requests; answers carry `version_header` of the one that
    answered, and its audit event names its version and digest."""

    deployment_id: int
    tenant: str
    name: str
    model_version: str
    rate_limit: float | None = None  # the tenant's, applied to this deployment
    model: str = ""
    artifact_digest: str = ""
    payload_logging: bool = False
    canary: Route | None = None
    canary_percent: int = 0
    watched: bool = False  # the canary has auto-rollback: the gateway records both versions' answers
    version_header: tuple[bytes, bytes] = (b"x-aiplane-model-version", b"")


def _route(d: Deployment, rate_limit: float | None) -> Route:
    def one(deployment_id: int, model: str, version: int, digest: str, canary: Route | None) -> Route:
        return Route(deployment_id, d.tenant, d.name, str(version), rate_limit, model, "sha256:" + digest,
                     d.spec.payload_logging, canary, d.canary.percent if d.canary else 0,
                     bool(d.canary and d.canary.auto_rollback), (b"x-aiplane-model-version", str(version).encode()))

    c = d.canary
    canary = one(rollout.canary_id(d.id), c.model, c.model_version, c.artifact_digest, None) if c else None
    return one(d.id, d.spec.model, d.spec.model_version, d.artifact_digest, canary)


class StateCache:
    def __init__(self, db: Database, clock: Clock, guard: AuthGuard | None = None,
                 oidc: OidcVerifier | None = None) -> None:
        self.db = db
        self.clock = clock
        self.guard = guard
        self.oidc = oidc  # None: SSO is off, bearer tokens are API keys only
        self.generation = -1
        self._keys: dict[str, KeyRecord] = {}
        self._mappings: list[ClaimMapping] = []
        self._routes: dict[tuple[str, str], Route] = {}
        self._last_used: dict[str, datetime] = {}

    def reload(self) -> None:
        self.prepare_reload()()

    def prepare_reload(self) -> Callable[[], None]:
        """Read the store now (off the event loop) and return what installs it: a caller that must
        switch routes at the same moment as something else (a canary's promotion) calls it on
        the loop, with no await in between."""
        generation = self.db.generation()
        with self.db.read() as conn:
            records = key_rows.list_all(conn)
            deployments = deployment_rows.list_all(conn)
            rates = {t.name: t.quota.rate_limit for t in tenant_rows.list_all(conn)}
            mappings = sso_rows.list_all(conn)
        found = {k.key_id: k for k in records}
        routes = {(d.tenant, d.name): _route(d, rates.get(d.tenant)) for d in deployments}

        def install() -> None:
            self._keys, self._routes, self._mappings, self.generation = found, routes, mappings, generation

        return install

    def reload_if_changed(self) -> bool:
        if self.db.generation() != self.generation:
            self.reload()
            return True
        return False

    def authenticate(self, authorization: str | None, client: str | None = None, plane: str = "control",
                     tenant: str | None = None, refreshed: bool = False) -> Principal:
        """The principal behind an `Authorization: Bearer <key or JWT>` header, or Unauthorized.

        Credentials that are present but wrong count against `client`'s failed-authentication
        budget; once it is spent, RateLimited comes before any key is looked at. `tenant` is
        the tenant the call names, which decides the roles of a person signed in through SSO
        (a key's tenant is its own). KeysNeeded (aiplane.gateway.oidc) asks the caller to await
        `refresh_keys` and call again with `refreshed=True`; `authenticate_slowly` does both.
        """
        if not authorization:
            raise Unauthorized("no API key was sent; send 'Authorization: Bearer <key>'.")
        if self.guard is not None:
            self.guard.check(client)
        try:
            principal = self._principal(authorization, tenant, refreshed)
        except Unauthorized as exc:
            if self.guard is not None:
                token = authorization.partition(" ")[2].strip()
                self.guard.failed(client, keys.key_id_of(token), plane, exc.message)
            raise
        if principal.user is None:
            self._last_used[principal.key_id] = self.clock.now()
        return principal

    async def authenticate_slowly(self, authorization: str | None, client: str | None = None,
                                  plane: str = "control", tenant: str | None = None) -> Principal:
        """`authenticate`, fetching an identity provider's keys first when the token needs them."""
        try:
            return self.authenticate(authorization, client, plane, tenant)
        except KeysNeeded as need:
            await self.refresh_keys(need)
            return self.authenticate(authorization, client, plane, tenant, refreshed=True)

    async def refresh_keys(self, need: KeysNeeded) -> None:
        if self.oidc is not None:
            await self.oidc.jwks.refresh(need.issuer)

    async def fetch_provider_keys(self) -> None:
        """Fetch every identity provider's keys once (at start, so the first sign-in need not wait)."""
        if self.oidc is not None:
            await self.oidc.jwks.refresh_all()

    async def close(self) -> None:
        if self.oidc is not None:
            await self.oidc.jwks.close()

    async def identify(self, authorization: str | None, tenant: str | None = None) -> Principal | None:
        """Who the header names, or None; no failure is counted (for records such as the audit
        trail, never for access decisions). It fetches a provider's keys when the token needs
        them, so the record and the access decision see the same keys."""
        if not authorization:
            return None
        try:
            try:
                return self._principal(authorization, tenant, False)
            except KeysNeeded as need:
                await self.refresh_keys(need)
                return self._principal(authorization, tenant, True)
        except AiplaneError:
            return None

    def _principal(self, authorization: str, tenant: str | None, refreshed: bool) -> Principal:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("the Authorization header must read 'Bearer <key>'.")
        token = token.strip()
        if self.oidc is not None and oidc.looks_like_jwt(token):
            return self._signed_in(self.oidc.verify(token, refreshed), tenant)
        key_id = keys.key_id_of(token)
        record = self._keys.get(key_id) if key_id else None
        # Hash and compare even for an unknown key id, so timing does not tell which ids exist.
        ok = keys.matches(token, record.hash if record else _DUMMY_HASH)
        if record is None or not ok or not record.usable_at(self.clock.now()):
            raise Unauthorized("the API key is unknown, revoked or expired; ask an admin for a new one.")
        return Principal(key_id=record.key_id, role=record.role, tenant=record.tenant, rate_limit=record.rate_limit)

    def _signed_in(self, verified: Verified, tenant: str | None) -> Principal:
        """The principal of a verified token for a call naming `tenant`, from the mapping table
        as it is now (grants are worked out again after any change to it)."""
        if verified.generation != self.generation:
            verified.grants = identity.grants_for(verified.claims, self._mappings)
            verified.principals.clear()
            verified.generation = self.generation
        principal = verified.principals.get(tenant)
        if principal is None:
            if len(verified.principals) >= 16:  # tenants are named by the caller: keep it bounded
                verified.principals.clear()
            principal = verified.principals[tenant] = identity.narrow(verified.person, verified.grants, tenant)
        return principal

    def route(self, tenant: str, name: str) -> Route | None:
        return self._routes.get((tenant, name))

    def routes_of(self, tenant: str) -> list[Route]:
        return [r for (t, _), r in self._routes.items() if t == tenant]

    def routes(self) -> list[Route]:
        return list(self._routes.values())

    def take_last_used(self) -> dict[str, datetime]:
        """The keys used since the last call, with when (call it on the thread that authenticates)."""
        pending, self._last_used = self._last_used, {}
        return pending

    def write_last_used(self, pending: dict[str, datetime]) -> None:
        """One transaction for the whole batch; it leaves the state generation alone (no reloads)."""
        if pending:
            with self.db.write(bump_generation=False) as conn:
                key_rows.touch(conn, pending)
