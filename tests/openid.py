"""A real OpenID Provider for the SSO tests: npm `oidc-provider` (pinned in tests/oidc), run
with Node.js on a loopback port, with our test clients, users and RSA keys; and a small
"browser" that signs a user in on its pages (login form, consent, device-code confirmation).

The keys are made here, so tests can also mint tokens the provider never would (expired, wrong
audience, `alg: none`, HS256 over the public key) with exactly the provider's signing keys.
"""

from __future__ import annotations

import base64
import hmac
import html.parser
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.conftest import free_port

FOLDER = Path(__file__).resolve().parent / "oidc"
CLI_CLIENT = "aiplane-cli"
SERVICE_CLIENT, SERVICE_SECRET = "ci-bot", "ci-bot-secret-0123456789abcdef0123456789"
AUDIENCE = "aiplane"


def install() -> None:
    if shutil.which("node") is None:
        raise RuntimeError("Node.js is needed for the SSO tests (tests/oidc); install Node.js 20 or newer.")
    subprocess.run([str(FOLDER / "install.sh")], check=True, timeout=600)


def new_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"}, private=True)


class OpenIdProvider:
    def __init__(self, folder: Path, users: dict[str, dict[str, Any]], access_ttl: int = 300) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.access_ttl = folder, access_ttl
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.keys = [new_key(f"{folder.name}-k1")]
        self.accounts = folder / "accounts.json"
        self.accounts.write_text(json.dumps({"users": users, "clients": {SERVICE_CLIENT: {"groups": ["ci"]}}}))
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = folder / "provider.log"

    def _config(self) -> Path:
        clients = [
            {"client_id": CLI_CLIENT, "token_endpoint_auth_method": "none", "application_type": "native",
             "grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "authorization_code", "refresh_token"],
             "response_types": ["code"], "redirect_uris": ["http://127.0.0.1/callback"]},
            {"client_id": SERVICE_CLIENT, "client_secret": SERVICE_SECRET, "grant_types": ["client_credentials"],
             "response_types": [], "redirect_uris": []},
        ]
        doc = {"port": self.port, "issuer": self.issuer, "keys": [k.as_dict(private=True) for k in self.keys],
               "accounts": str(self.accounts), "clients": clients, "audience": AUDIENCE,
               "accessTokenTTL": self.access_ttl}
        path = self.folder / "config.json"
        path.write_text(json.dumps(doc))
        return path

    def start(self, timeout: float = 30) -> OpenIdProvider:
        config = self._config()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(["node", str(FOLDER / "provider.mjs"), str(config)], stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ, "NODE_ENV": "test"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"oidc-provider exited:\n{self.log.read_text()}")
            try:
                if httpx.get(self.issuer + "/.well-known/openid-configuration", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"oidc-provider did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def rotate(self) -> RSAKey:
        """Key rotation at the provider: a new key signs from now on, the old one stays published."""
        fresh = new_key(f"{self.folder.name}-k{len(self.keys) + 1}")
        self.keys.insert(0, fresh)
        self.stop()
        self.start()
        return fresh

    def set_groups(self, user: str, groups: list[str]) -> None:
        doc = json.loads(self.accounts.read_text())
        doc["users"][user]["groups"] = groups
        self.accounts.write_text(json.dumps(doc))

    def mint(self, claims: dict[str, Any], key: Any = None, alg: str = "RS256", header: dict[str, Any] | None = None,
             ttl: int = 300) -> str:
        """A token signed here with the provider's key (or `key`), for the cases it would never issue."""
        signing = key or self.keys[0]
        now = int(time.time())
        body = {"iss": self.issuer, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + ttl, **claims}
        head = {"alg": alg, "kid": signing.kid if hasattr(signing, "kid") else None, **(header or {})}
        return jwt.encode(head, body, signing, algorithms=[alg])

    def client_credentials_token(self) -> str:
        answer = httpx.post(self._endpoint("token_endpoint"), data={"grant_type": "client_credentials"},
                            auth=(SERVICE_CLIENT, SERVICE_SECRET), timeout=10)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def device_token(self, user: str, scope: str = "openid profile email offline_access") -> dict[str, Any]:
        """A person's tokens through the real device flow, without the CLI (for platform tests)."""
        started = httpx.post(self._endpoint("device_authorization_endpoint"),
                             data={"client_id": CLI_CLIENT, "scope": scope}, timeout=10).json()
        sign_in(started["verification_uri_complete"], user)
        answer = httpx.post(self._endpoint("token_endpoint"), timeout=10, data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": CLI_CLIENT,
            "device_code": started["device_code"]})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def _endpoint(self, name: str) -> str:
        doc = httpx.get(self.issuer + "/.well-known/openid-configuration", timeout=10).json()
        return str(doc[name])


class _Forms(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), {}))
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1][1][a["name"]] = a.get("value", "")


def sign_in(url: str, user: str, max_steps: int = 20) -> httpx.Response:
    """Be the person's browser: follow the provider's pages from `url`, log in as `user` (the
    provider's development login takes any password), give consent, confirm device codes."""
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        response = browser.get(url)
        for _ in range(max_steps):
            if response.is_redirect:
                response = browser.get(urllib.parse.urljoin(str(response.url), response.headers["location"]))
                continue
            parser = _Forms()
            parser.feed(response.text)
            if not parser.forms:
                return response
            action, fields = parser.forms[0]
            if fields.get("prompt") == "login":
                fields.update(login=user, password="any")
            response = browser.post(urllib.parse.urljoin(str(response.url), action), data=fields)
        raise AssertionError(f"signing in took more than {max_steps} pages; last: {response.text[:500]}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A JWT put together by hand: HS256 with `secret`, or unsigned (`alg: none`) without one.
    No JOSE library will make these, rightly; they are the attacks the gateway must refuse."""
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    if secret is None:
        return f"{head}.{body}."
    signature = hmac.digest(secret, f"{head}.{body}".encode(), "sha256")
    return f"{head}.{body}.{_b64(signature)}"


def header_of(token: str) -> str:
    part = token.split(".")[0]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()
