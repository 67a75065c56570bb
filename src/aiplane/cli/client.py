"""The CLI's HTTP client: AIPLANE_URL, and the credentials `aiplane.cli.credentials` chooses."""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

import httpx

from aiplane.cli import credentials, trust
from aiplane.domain.errors import (AiplaneError, Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge,
                                   QuotaExceeded, RateLimited, Unauthorized, Unavailable)

DEFAULT_URL = "http://127.0.0.1:8080"
_BY_STATUS: dict[int, type[AiplaneError]] = {400: InvalidInput, 401: Unauthorized, 403: Forbidden, 404: NotFound,
                                             409: Conflict, 413: PayloadTooLarge, 429: RateLimited,
                                             503: Unavailable}


class Client:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 180.0) -> None:
        self.url = (url or os.environ.get("AIPLANE_URL") or DEFAULT_URL).rstrip("/")
        self.token = token or credentials.token()
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, verify=trust.context())

    def call(self, method: str, path: str, raw: bool = False, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise _unreachable(self.url, exc) from None
        if response.status_code >= 400:
            raise _error(response)
        if raw:
            return response.text
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    @contextlib.contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[Iterator[bytes]]:
        """The response body in chunks, for exports too large to hold in memory."""
        try:
            with self.http.stream(method, path, **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error(response)
                yield response.iter_bytes()
        except httpx.TransportError as exc:
            raise _unreachable(self.url, exc) from None

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, "/api/v1" + path, **kwargs)


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

