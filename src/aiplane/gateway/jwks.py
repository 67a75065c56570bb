"""The identity providers' public keys (JWKS), fetched and cached per issuer.

Keys found by discovery (`jwks_uri`) are trusted for `cache_s` after the last fetch that
worked, so a provider that is down does not stop sign-ins at once; after that they are dropped
and tokens fail closed. A fetch is tried at most once per `refresh_s` per issuer, whatever
asks for it (an unknown `kid`, expired keys), so a flood of tokens with made-up `kid`s costs
the provider one request per interval.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from aiplane.domain.clock import Clock
from aiplane.gateway.oidc_issuers import Issuer

log = logging.getLogger("aiplane.gateway")
_MAX_DOCUMENT_BYTES = 1 << 20
_PUBLIC_TYPES = {"RSA", "EC", "OKP"}


class _IssuerKeys:
    def __init__(self) -> None:
        self.keyset: KeySet | None = None
        self.jwks_uri: str | None = None
        self.fetched_at = float("-inf")
        self.attempted_at = float("-inf")
        self.error: str | None = None
        self.lock = asyncio.Lock()


class JwksCache:
    def __init__(self, issuers: tuple[Issuer, ...], clock: Clock, cache_s: float, refresh_s: float,
                 timeout_s: float) -> None:
        self.issuers = {i.issuer: i for i in issuers}
        self.clock, self.cache_s, self.refresh_s, self.timeout_s = clock, cache_s, refresh_s, timeout_s
        self._keys = {name: _IssuerKeys() for name in self.issuers}
        self._http: httpx.AsyncClient | None = None
        self.fetches = 0  # successful or not; what the provider saw

    def keys(self, issuer: str) -> KeySet | None:
        """The issuer's keys while they are trusted, else None."""
        state = self._keys[issuer]
        if state.keyset is None or self.clock.monotonic() - state.fetched_at > self.cache_s:
            return None
        return state.keyset

    def may_refresh(self, issuer: str) -> bool:
        return self.clock.monotonic() - self._keys[issuer].attempted_at >= self.refresh_s

    def reason(self, issuer: str) -> str:
        """Why the issuer's keys are missing, for the 401 sentence."""
        state = self._keys[issuer]
        if state.error:
            return state.error
        return "its keys have not been fetched yet"

    async def refresh(self, issuer: str) -> None:
        """Fetch the issuer's JWKS (discovering it first), unless one was tried within
        `refresh_s`; failures are kept as the reason, never raised."""
        state = self._keys[issuer]
        async with state.lock:
            if not self.may_refresh(issuer):
                return
            state.attempted_at = self.clock.monotonic()
            self.fetches += 1
            try:
                if state.jwks_uri is None:
                    state.jwks_uri = await self._discover(self.issuers[issuer])
                state.keyset = _public_keys(await self._get(state.jwks_uri), state.jwks_uri)
                state.fetched_at = self.clock.monotonic()
                state.error = None
            except _FetchFailed as exc:
                state.error = str(exc)
                log.warning("OIDC keys of issuer %s: %s", issuer, exc)

    async def refresh_all(self) -> None:
        await asyncio.gather(*(self.refresh(name) for name in self.issuers))

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _discover(self, issuer: Issuer) -> str:
        doc = await self._get(issuer.discovery_url)
        if doc.get("issuer") != issuer.issuer:
            raise _FetchFailed(f"the discovery document at {issuer.discovery_url} names issuer "
                               f"{doc.get('issuer')!r}, not {issuer.issuer!r}")
        uri = doc.get("jwks_uri")
        if not isinstance(uri, str) or not uri:
            raise _FetchFailed(f"the discovery document at {issuer.discovery_url} has no jwks_uri")
        return uri

    async def _get(self, url: str) -> dict[str, Any]:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False)
        try:
            response = await self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise _FetchFailed(f"{url} could not be reached ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise _FetchFailed(f"{url} answered {response.status_code}")
        if len(response.content) > _MAX_DOCUMENT_BYTES:
            raise _FetchFailed(f"{url} answered more than {_MAX_DOCUMENT_BYTES} bytes")
        try:
            doc = response.json()
        except ValueError:
            raise _FetchFailed(f"{url} did not answer JSON") from None
        if not isinstance(doc, dict):
            raise _FetchFailed(f"{url} did not answer a JSON object")
        return doc


class _FetchFailed(Exception):
    pass


def _public_keys(doc: dict[str, Any], url: str) -> KeySet:
    """The public signing keys of a JWKS. Symmetric and private keys are left out: a JWKS is
    public, so a key in it must never verify an HMAC or stand for a secret."""
    keys = doc.get("keys")
    if not isinstance(keys, list):
        raise _FetchFailed(f"{url} is not a JWKS (no 'keys' list)")
    usable = [k for k in keys if isinstance(k, dict) and k.get("kty") in _PUBLIC_TYPES and "d" not in k
              and k.get("use", "sig") == "sig"]
    try:
        return KeySet.import_key_set({"keys": usable})
    except (JoseError, ValueError, TypeError) as exc:
        raise _FetchFailed(f"{url} holds a key that cannot be read ({exc})") from None
