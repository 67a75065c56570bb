"""OAuth 2.0 grants the CLI uses to sign in at an identity provider (a thin client of its endpoints).

- device authorization grant (RFC 8628): the CLI prints a URL and a code, the person signs in
  on any browser, the CLI polls the token endpoint;
- authorization code with PKCE (RFC 7636) on a loopback redirect (RFC 8252): the CLI listens on
  127.0.0.1, a browser comes back to it with the code;
- client credentials: a service account's own id and secret;
- refresh: a new access token from the refresh token, without a person.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import secrets
import threading
import time
import urllib.parse
from typing import Any, Callable

import httpx

from aiplane.cli import trust
from aiplane.domain.errors import InvalidInput, Unauthorized, Unavailable

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_TIMEOUT = httpx.Timeout(15.0)


def discover(issuer: str) -> dict[str, Any]:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    doc = _json(_call("GET", url))
    if doc.get("issuer") != issuer.rstrip("/") and doc.get("issuer") != issuer:
        raise InvalidInput(f"the provider at {url} names issuer {doc.get('issuer')!r}, not {issuer!r}; pass the "
                           "issuer exactly as the provider spells it.")
    return doc


def device_grant(doc: dict[str, Any], client_id: str, scope: str, extra: dict[str, str],
                 say: Callable[[str], None]) -> dict[str, Any]:
    started = _json(_call("POST", doc["device_authorization_endpoint"],
                          data={"client_id": client_id, "scope": scope, **extra}))
    complete = started.get("verification_uri_complete")
    say(f"To sign in, open {started['verification_uri']} and enter the code {started['user_code']}")
    if complete:
        say(f"  or open {complete}")
    interval = float(started.get("interval", 5))
    deadline = time.monotonic() + float(started.get("expires_in", 600))
    while time.monotonic() < deadline:
        time.sleep(interval)
        answer = _call("POST", doc["token_endpoint"], data={"grant_type": DEVICE_GRANT, "client_id": client_id,
                                                             "device_code": started["device_code"]})
        body = _json(answer, check=False)
        error = body.get("error")
        if answer.status_code == 200:
            return body
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += 5  # RFC 8628 section 3.5
            continue
        raise Unauthorized(_refusal("the sign-in", body))
    raise Unauthorized("the sign-in code expired before it was used; run 'aiplane login' again.")


def code_grant(doc: dict[str, Any], client_id: str, scope: str, extra: dict[str, str],
               say: Callable[[str], None], open_browser: bool, wait_s: float = 300) -> dict[str, Any]:
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(24)
    with _Loopback(state) as loopback:
        redirect = f"http://127.0.0.1:{loopback.port}/callback"
        query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect, "scope": scope,
                 "state": state, "code_challenge": challenge, "code_challenge_method": "S256", **extra}
        url = doc["authorization_endpoint"] + "?" + urllib.parse.urlencode(query)
        say(f"To sign in, open {url}")
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        code = loopback.wait(wait_s)
    return _json(_call("POST", doc["token_endpoint"], data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "client_id": client_id,
        "code_verifier": verifier}), what="the code exchange")


def client_credentials(doc: dict[str, Any], client_id: str, secret: str, scope: str | None,
                       extra: dict[str, str]) -> dict[str, Any]:
    data = {"grant_type": "client_credentials", **extra}
    if scope:
        data["scope"] = scope
    return _json(_call("POST", doc["token_endpoint"], data=data, auth=(client_id, secret)),
                 what="the client-credentials grant")


def refresh(token_endpoint: str, client_id: str, refresh_token: str) -> dict[str, Any]:
    return _json(_call("POST", token_endpoint, data={"grant_type": "refresh_token", "client_id": client_id,
                                                     "refresh_token": refresh_token}), what="the token refresh")


def _call(method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        return httpx.request(method, url, timeout=_TIMEOUT, verify=trust.context(), **kwargs)
    except httpx.HTTPError as exc:
        raise Unavailable(f"cannot reach the identity provider at {url} ({type(exc).__name__}); check --issuer.") from None


def _json(response: httpx.Response, check: bool = True, what: str = "the provider") -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Unavailable(f"{response.request.url} answered {response.status_code} without a JSON object.")
    if check and response.status_code >= 400:
        raise Unauthorized(_refusal(what, body))
    return body


def _refusal(what: str, body: dict[str, Any]) -> str:
    detail = body.get("error_description") or body.get("error") or "no reason given"
    return f"{what} was refused by the identity provider ({detail}); run 'aiplane login' again."


class _Loopback:
    """A one-shot HTTP listener on 127.0.0.1 for the authorization code (RFC 8252 section 7.3)."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.result: dict[str, str] = {}
        self.done = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                if urllib.parse.urlsplit(self.path).path != "/callback" or params.get("state") != outer.state:
                    self.send_error(400, "not the answer this sign-in waits for")
                    return
                outer.result = params
                outer.done.set()
                page = b"<!doctype html><p>Signed in to aiplane. You may close this tab.</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *_args: Any) -> None:  # the code must not end up in a terminal log
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Loopback:
        self.thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait(self, timeout_s: float) -> str:
        if not self.done.wait(timeout_s):
            raise Unauthorized(f"no browser came back within {int(timeout_s)} s; run 'aiplane login' again.")
        if "code" not in self.result:
            raise Unauthorized(_refusal("the sign-in", self.result))
        return self.result["code"]
