"""Verifying SSO tokens: the issuer configuration, the JWKS cache (a real HTTP server on
loopback counting its requests) and the verified-token cache, with time moved by hand."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from datetime import datetime, timezone
from typing import Any, Iterator

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from aiplane.domain.errors import InvalidInput, Unauthorized
from aiplane.gateway import oidc_issuers
from aiplane.gateway.jwks import JwksCache
from aiplane.gateway.oidc import KeysNeeded, OidcVerifier


class ManualClock:
    def __init__(self) -> None:
        self.t = time.time()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, timezone.utc)

    def monotonic(self) -> float:
        return self.t


class Provider:
    """Discovery and JWKS over HTTP, counting what the gateway asks for."""

    def __init__(self) -> None:
        self.keys = [RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"}, private=True)]
        self.extra: list[dict[str, Any]] = []
        self.hits: list[str] = []
        self.down = False
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.hits.append(self.path)
                if outer.down:
                    self.send_error(503)
                    return
                docs = {"/.well-known/openid-configuration": {"issuer": outer.issuer, "jwks_uri": outer.issuer + "/jwks"},
                        "/jwks": {"keys": [k.as_dict(private=False) for k in outer.keys] + outer.extra}}
                body = json.dumps(docs[self.path]).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, clock: ManualClock, key: Any = None, **claims: Any) -> str:
        signing = key or self.keys[0]
        body = {"iss": self.issuer, "aud": "aiplane", "sub": "alice", "exp": int(clock.t) + 300, **claims}
        return jwt.encode({"alg": "RS256", "kid": signing.kid}, body, signing)


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider()
    yield p
    p.server.shutdown()
    p.server.server_close()


def _verifier(provider: Provider, clock: ManualClock, cache_s: float = 3600, refresh_s: float = 60) -> OidcVerifier:
    issuers = oidc_issuers.parse(json.dumps([{"issuer": provider.issuer, "audience": "aiplane"}]))
    return OidcVerifier(JwksCache(issuers, clock, cache_s, refresh_s, 5.0), clock, 60, 1000)


def _verify(verifier: OidcVerifier, token: str) -> Any:
    """As the gateway does: verify, fetch keys when asked to, verify once more."""
    try:
        return verifier.verify(token)
    except KeysNeeded as need:
        asyncio.run(verifier.jwks.refresh(need.issuer))
        return verifier.verify(token, refreshed=True)


def test_a_token_is_verified_once_then_served_from_the_cache(provider: Provider):
    clock = ManualClock()
    verifier = _verifier(provider, clock)
    token = provider.token(clock, email="alice@example.org")
    for _ in range(1000):
        verified = _verify(verifier, token)
    assert verifier.signature_checks == 1
    assert verified.person.email == "alice@example.org" and verified.person.issuer == provider.issuer


def test_the_cache_ends_with_the_token_and_the_allowed_skew(provider: Provider):
    clock = ManualClock()
    verifier = _verifier(provider, clock)
    token = provider.token(clock)
    _verify(verifier, token)
    clock.t += 300 + 59
    _verify(verifier, token)  # within the skew
    clock.t += 2
    with pytest.raises(Unauthorized, match="expired"):
        _verify(verifier, token)


@pytest.mark.parametrize("claim, offset, refusal", [("exp", -59, None), ("exp", -61, "expired"),
                                                    ("nbf", 59, None), ("nbf", 61, "not valid yet"),
                                                    ("iat", 61, "not valid yet")])
def test_times_are_checked_with_bounded_skew(provider: Provider, claim: str, offset: int, refusal: str | None):
    clock = ManualClock()
    verifier = _verifier(provider, clock)
    token = provider.token(clock, **{claim: int(clock.t) + offset})
    if refusal is None:
        _verify(verifier, token)
    else:
        with pytest.raises(Unauthorized, match=refusal):
            _verify(verifier, token)


def test_a_flood_of_unknown_kids_fetches_the_jwks_once_per_interval(provider: Provider):
    clock = ManualClock()
    verifier = _verifier(provider, clock, refresh_s=60)
    _verify(verifier, provider.token(clock))
    assert provider.hits == ["/.well-known/openid-configuration", "/jwks"]
    clock.t += 60
    for i in range(50):
        token = jwt.encode({"alg": "RS256", "kid": f"made-up-{i}"}, {"iss": provider.issuer, "aud": "aiplane",
                                                                   "sub": "x", "exp": int(clock.t) + 300},
                           provider.keys[0])
        with pytest.raises(Unauthorized, match="made-up"):
            _verify(verifier, token)
    assert provider.hits.count("/jwks") == 2  # the start, and one refresh for all fifty
    clock.t += 59
    with pytest.raises(Unauthorized):
        _verify(verifier, jwt.encode({"alg": "RS256", "kid": "sooner"}, {"iss": provider.issuer}, provider.keys[0]))
    assert provider.hits.count("/jwks") == 2
    clock.t += 1
    with pytest.raises(Unauthorized):
        _verify(verifier, jwt.encode({"alg": "RS256", "kid": "later"}, {"iss": provider.issuer}, provider.keys[0]))
    assert provider.hits.count("/jwks") == 3


def test_rotation_is_picked_up_on_the_new_kid(provider: Provider):
    clock = ManualClock()
    verifier = _verifier(provider, clock, refresh_s=1)
    old = provider.token(clock)
    _verify(verifier, old)
    provider.keys.insert(0, RSAKey.generate_key(2048, parameters={"kid": "k2", "alg": "RS256"}, private=True))
    clock.t += 1
    _verify(verifier, provider.token(clock))
    _verify(verifier, provider.token(clock, key=provider.keys[1], jti="old-key-again"))


def test_provider_down_cached_keys_serve_until_the_cache_ends_then_fail_closed(provider: Provider):
    clock = ManualClock()
    verifier = _verifier(provider, clock, cache_s=600, refresh_s=10)
    _verify(verifier, provider.token(clock))
    provider.down = True
    clock.t += 599
    _verify(verifier, provider.token(clock, jti="fresh"))  # a new token, the cached keys
    clock.t += 2
    with pytest.raises(Unauthorized, match="not available .*answered 503"):
        _verify(verifier, provider.token(clock, jti="later"))


def test_symmetric_and_private_entries_of_a_jwks_are_never_used(provider: Provider):
    clock = ManualClock()
    secret = OctKey.generate_key(256, parameters={"kid": "shared"})
    provider.extra.append(secret.as_dict(private=True))
    verifier = _verifier(provider, clock)
    token = jwt.encode({"alg": "HS256", "kid": "shared"}, {"iss": provider.issuer, "aud": "aiplane", "sub": "x",
                                                          "exp": int(clock.t) + 300}, secret)
    with pytest.raises(Unauthorized, match="'HS256'"):
        _verify(verifier, token)


@pytest.mark.parametrize("raw, says", [
    ("not json", "not JSON"),
    ('[{"issuer": "https://idp.example.org"}]', "audience"),
    ('[{"issuer": "https://idp.example.org", "audience": "a", "algorithms": ["HS256"]}]', "asymmetric"),
    ('[{"issuer": "https://idp.example.org", "audience": "a", "algorithms": ["none"]}]', "asymmetric"),
    ('[{"issuer": "http://idp.example.org", "audience": "a"}]', "https://"),
    ('[{"issuer": "https://idp.example.org", "audience": "a", "colour": 1}]', "unknown field"),
    ('[{"issuer": "https://a.example", "audience": "a"}, {"issuer": "https://a.example", "audience": "b"}]', "twice"),
])
def test_issuer_settings_that_cannot_be_safe_are_refused_in_one_sentence(raw: str, says: str):
    with pytest.raises(InvalidInput, match=says):
        oidc_issuers.parse(raw)


def test_issuer_settings_default_the_discovery_url_and_rs256():
    (issuer,) = oidc_issuers.parse('{"issuer": "https://idp.example.org/realms/h", "audience": "aiplane"}')
    assert issuer.algorithms == ("RS256",)
    assert issuer.discovery_url == "https://idp.example.org/realms/h/.well-known/openid-configuration"
    assert oidc_issuers.parse("") == ()
