"""Bearer JWTs from the configured identity providers: verified once, then cached by hash.

A token is checked against its own issuer's keys only (chosen by its `iss`, so a second
provider's key with the same `kid` never verifies it), with an algorithm that issuer allows
(never `none`, never an HMAC), and for `iss`, `aud`, `exp` and `nbf` with `skew_s` of clock
skew. A verified token is remembered by its SHA-256 until it expires, so the data plane checks
a signature once per token, not once per request.

When the token's `kid` is not among the issuer's cached keys, `verify` raises KeysNeeded: the
caller awaits `JwksCache.refresh` (at most one fetch per interval) and verifies again with
`refreshed=True`, which then fails closed with the reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import KeySet

from aiplane.domain.clock import Clock
from aiplane.domain.errors import Unauthorized
from aiplane.domain.identity import Grant, Person
from aiplane.domain.policy import Principal
from aiplane.gateway.jwks import JwksCache

_MAX_TOKEN = 16 * 1024


class KeysNeeded(Exception):
    """The issuer's keys must be fetched before this token can be judged."""

    def __init__(self, issuer: str) -> None:
        super().__init__(issuer)
        self.issuer = issuer


@dataclass(slots=True)
class Verified:
    person: Person
    claims: dict[str, Any]
    expires: float  # unix seconds: exp plus the clock skew allowed
    generation: int = -1  # of the mapping table the grants below were computed from
    grants: frozenset[Grant] = frozenset()
    principals: dict[str | None, Principal] = field(default_factory=dict)  # by the tenant a call names


class OidcVerifier:
    def __init__(self, jwks: JwksCache, clock: Clock, skew_s: int, max_cached: int) -> None:
        self.jwks, self.clock, self.skew_s, self.max_cached = jwks, clock, skew_s, max_cached
        self._verified: dict[bytes, Verified] = {}
        self.signature_checks = 0

    def verify(self, token: str, refreshed: bool = False) -> Verified:
        """The verified token, from the cache when it was seen before; Unauthorized or KeysNeeded."""
        digest = hashlib.sha256(token.encode()).digest()
        now = self.clock.now().timestamp()
        hit = self._verified.get(digest)
        if hit is not None:
            if now < hit.expires:
                return hit
            del self._verified[digest]
        verified = self._check(token, now, refreshed)
        if len(self._verified) >= self.max_cached:
            self._forget(now)
        self._verified[digest] = verified
        return verified

    def _check(self, token: str, now: float, refreshed: bool) -> Verified:
        if len(token) > _MAX_TOKEN:
            raise Unauthorized(f"the bearer token is longer than {_MAX_TOKEN} bytes; it is not one aiplane accepts.")
        header, claims = _unverified(token)
        issuer_name = claims.get("iss")
        issuer = self.jwks.issuers.get(issuer_name) if isinstance(issuer_name, str) else None
        if issuer is None:
            raise Unauthorized(f"the token's issuer {issuer_name!r} is not one this platform trusts "
                               "(AIPLANE_OIDC_ISSUERS).")
        alg = header.get("alg")
        if alg not in issuer.algorithms:
            raise Unauthorized(f"the token is signed with {alg!r}, which issuer {issuer.issuer!r} may not use here "
                               f"(allowed: {', '.join(issuer.algorithms)}).")
        keys = self.jwks.keys(issuer.issuer)
        kid = header.get("kid")
        if keys is None or (kid is not None and not _has(keys, kid)):
            if not refreshed and self.jwks.may_refresh(issuer.issuer):
                raise KeysNeeded(issuer.issuer)
            if keys is None:
                raise Unauthorized(f"the signing keys of issuer {issuer.issuer!r} are not available "
                                   f"({self.jwks.reason(issuer.issuer)}); retry when the provider is back.")
            raise Unauthorized(f"the token's key {kid!r} is not in the JWKS of issuer {issuer.issuer!r}; sign in again.")
        try:
            self.signature_checks += 1
            decoded = jwt.decode(token, keys, algorithms=[alg])
            registry = jwt.JWTClaimsRegistry(now=int(now), leeway=self.skew_s,
                                             iss={"essential": True, "value": issuer.issuer},
                                             aud={"essential": True, "value": issuer.audience},
                                             exp={"essential": True}, sub={"essential": True})
            registry.validate(decoded.claims)
        except ExpiredTokenError:
            raise Unauthorized("the token has expired; sign in again ('aiplane login').") from None
        except (InvalidClaimError, MissingClaimError) as exc:
            if exc.claim in ("nbf", "iat") and isinstance(exc, InvalidClaimError):
                raise Unauthorized(f"the token is not valid yet ({exc.claim} is in the future); check the clocks."
                                   ) from None
            raise Unauthorized(f"the token's claims do not fit this platform ({exc.description}; it needs issuer "
                               f"{issuer.issuer!r} and audience {issuer.audience!r}).") from None
        except BadSignatureError:
            raise Unauthorized(f"the token's signature does not verify with the keys of issuer {issuer.issuer!r}."
                               ) from None
        except (JoseError, ValueError, TypeError) as exc:
            raise Unauthorized(f"the token could not be verified ({type(exc).__name__}).") from None
        c = decoded.claims
        person = Person(issuer.issuer, str(c["sub"]), _text(c.get("email")),
                        _text(c.get("name")) or _text(c.get("preferred_username")))
        return Verified(person, c, float(c["exp"]) + self.skew_s)  # as long as the check above would pass

    def _forget(self, now: float) -> None:
        """Keep the cache bounded: drop expired tokens, then the oldest half if still full."""
        for digest in [d for d, v in self._verified.items() if v.expires <= now]:
            del self._verified[digest]
        if len(self._verified) >= self.max_cached:
            for digest in list(self._verified)[: len(self._verified) // 2 + 1]:
                del self._verified[digest]


def _has(keys: KeySet, kid: Any) -> bool:
    try:
        return isinstance(kid, str) and keys.get_by_kid(kid) is not None
    except JoseError:  # joserfc raises for a kid it does not hold
        return False


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and not token.startswith("aip_")


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, read before any check, only to choose the issuer and its key."""
    try:
        compact = jws.extract_compact(token.encode("ascii"))
        claims = orjson.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError):
        raise Unauthorized("the bearer token is neither an aiplane key nor a well-formed JWT.") from None
    if not isinstance(claims, dict):
        raise Unauthorized("the JWT's payload is not a JSON object of claims.")
    return dict(compact.protected), claims


def _text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) and value else None
