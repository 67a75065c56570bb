"""The identity providers whose tokens aiplane accepts (AIPLANE_OIDC_ISSUERS), checked at start-up.

    [{"issuer": "https://login.example.org/realms/hospital", "audience": "aiplane",
      "algorithms": ["RS256"], "discovery_url": "(optional) .../.well-known/openid-configuration"}]

Only asymmetric algorithms are accepted: a JWKS holds public keys, and an HMAC algorithm over
one (the "HS256 signed with the public key" confusion) would let anyone who can read the JWKS
sign tokens. `none` is never accepted.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass

from aiplane.domain.errors import InvalidInput

ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_FIELDS = {"issuer", "audience", "algorithms", "discovery_url"}


@dataclass(frozen=True)
class Issuer:
    issuer: str
    audience: str
    algorithms: tuple[str, ...]
    discovery_url: str


def parse(raw: str) -> tuple[Issuer, ...]:
    """The issuers AIPLANE_OIDC_ISSUERS names (empty: SSO is off); InvalidInput in one sentence."""
    if not raw.strip():
        return ()
    try:
        docs = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"AIPLANE_OIDC_ISSUERS is not JSON ({exc}); give a list such as "
                           '[{"issuer": "https://idp.example.org", "audience": "aiplane"}].') from None
    if isinstance(docs, dict):
        docs = [docs]
    if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs):
        raise InvalidInput("AIPLANE_OIDC_ISSUERS must be a JSON list of objects with issuer and audience.")
    issuers = tuple(_issuer(d) for d in docs)
    names = [i.issuer for i in issuers]
    if len(set(names)) != len(names):
        raise InvalidInput("AIPLANE_OIDC_ISSUERS names an issuer twice; list each once.")
    return issuers


def _issuer(doc: dict[str, object]) -> Issuer:
    unknown = set(doc) - _FIELDS
    if unknown:
        raise InvalidInput(f"AIPLANE_OIDC_ISSUERS has unknown field {sorted(unknown)[0]!r}; use {', '.join(sorted(_FIELDS))}.")
    issuer, audience = doc.get("issuer"), doc.get("audience")
    if not isinstance(issuer, str) or not issuer or not isinstance(audience, str) or not audience:
        raise InvalidInput("every entry of AIPLANE_OIDC_ISSUERS needs an issuer URL and an audience (strings).")
    _check_url(issuer, "issuer")
    algorithms = doc.get("algorithms", ["RS256"])
    if not isinstance(algorithms, list) or not algorithms or not all(isinstance(a, str) for a in algorithms):
        raise InvalidInput(f"the algorithms of issuer {issuer!r} must be a non-empty list such as [\"RS256\"].")
    refused = [a for a in algorithms if a not in ASYMMETRIC]
    if refused:
        raise InvalidInput(f"algorithm {refused[0]!r} is not accepted for issuer {issuer!r}; use asymmetric ones "
                           f"({', '.join(sorted(ASYMMETRIC))}).")
    discovery = doc.get("discovery_url") or issuer.rstrip("/") + "/.well-known/openid-configuration"
    if not isinstance(discovery, str):
        raise InvalidInput(f"the discovery_url of issuer {issuer!r} must be a URL.")
    _check_url(discovery, "discovery_url")
    return Issuer(issuer, audience, tuple(algorithms), discovery)


def _check_url(url: str, what: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return  # a provider on this machine (tests, a local Keycloak)
    raise InvalidInput(f"the {what} {url!r} must be an https:// URL (http:// only on a loopback address).")
