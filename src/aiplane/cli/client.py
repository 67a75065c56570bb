"""The CLI's HTTP client, for the platform and credentials `aiplane.cli.locating` finds."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import httpx

from aiplane.cli import credentials, locating, trust
from aiplane.domain.errors import (AiplaneError, Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge,
                                   QuotaExceeded, RateLimited, Unauthorized, Unavailable)

_BY_STATUS: dict[int, type[AiplaneError]] = {400: InvalidInput, 401: Unauthorized, 403: Forbidden, 404: NotFound,
                                             409: Conflict, 413: PayloadTooLarge, 429: RateLimited,
                                             503: Unavailable}


class Client:
    def __init__(self, timeout: float = 180.0) -> None:
        found = locating.locate(credentials.signed_in_token)
        if found.token is None:
            raise Unauthorized("no API key found: set AIPLANE_TOKEN to a key, or run this where 'aiplane up' keeps "
                               "its data (a .aiplane/ folder here or in a parent, or the last 'aiplane up' on this "
                               "account).")
        self.url, self.token, self.source = found.url.rstrip("/"), found.token, found.source
        self.headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.timeout = timeout

    def _http(self) -> httpx.Client:
        # One connection per call, closed after it: a command makes a few calls at most.
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=self.timeout, verify=trust.context())

    def call(self, method: str, path: str, raw: bool = False, **kwargs: Any) -> Any:
        try:
            with self._http() as http:
                response = http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise _unreachable(self.url, exc) from None
        if response.status_code >= 400:
            raise self._error(response)
        if raw:
            return response.text
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    @contextlib.contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[Iterator[bytes]]:
        """The response body in chunks, for exports too large to hold in memory."""
        try:
            with self._http() as http, http.stream(method, path, **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._error(response)
                yield response.iter_bytes()
        except httpx.TransportError as exc:
            raise _unreachable(self.url, exc) from None

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, "/api/v1" + path, **kwargs)


    def _error(self, response: httpx.Response) -> AiplaneError:
        error = _error(response)
        if isinstance(error, Unauthorized):  # say which key was refused, and how to give another
            other = "" if self.source == "AIPLANE_TOKEN" else "; set AIPLANE_TOKEN to use another"
            return Unauthorized(f"{error.message.rstrip('.')} (the key from {self.source}{other}).")
        return error


def _unreachable(url: str, exc: httpx.TransportError) -> AiplaneError:
    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return Unavailable(f"the TLS certificate of {url} is not trusted; set AIPLANE_CA_BUNDLE to its CA file "
                           "(for --tls-self-signed: DATA_DIR/tls/server.crt).")
    return Unavailable(f"cannot reach aiplane at {url} ({type(exc).__name__}); start it with 'aiplane up' "
                       "or set AIPLANE_URL.")


def _error(response: httpx.Response) -> AiplaneError:
    try:
        doc = response.json()
        detail = doc.get("detail") or doc.get("error") or response.text
    except ValueError:
        detail = response.text or response.reason_phrase
    if response.status_code == 409 and "quota" in str(detail):
        return QuotaExceeded(str(detail))
    return _BY_STATUS.get(response.status_code, AiplaneError)(str(detail))

