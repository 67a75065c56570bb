"""TLS for `aiplane up` and its gateway workers: which pair to serve, the uvicorn config that
serves it, and SIGHUP reloading it without dropping open connections."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import signal
import sys
from typing import Any, Callable

from aiplane.crypto import tls
from aiplane.crypto.tls import ServerTLS
from aiplane.domain.errors import AiplaneError, InvalidInput
from aiplane.settings import Settings

log = logging.getLogger("aiplane")


def resolve(settings: Settings) -> tuple[Settings, ServerTLS | None]:
    """The settings with the pair to serve (a self-signed one made now on first start, its
    fingerprint printed), and the process's TLS; a warning when a non-loopback address would
    be served in plain text."""
    server = settings.server
    if server.tls_self_signed:
        if server.tls_cert or server.tls_key:
            raise InvalidInput("--tls-self-signed makes its own certificate; leave out --tls-cert and --tls-key, "
                               "or leave out --tls-self-signed.")
        pair, made = tls.self_signed(server.data_dir / "tls", server.host)
        print(f"{'Created' if made else 'Using'} a self-signed TLS certificate {pair.cert} "
              f"(SHA-256 {tls.fingerprint(pair.cert)}); clients trust it with AIPLANE_CA_BUNDLE={pair.cert}",
              flush=True)
        server = dataclasses.replace(server, tls_cert=str(pair.cert), tls_key=str(pair.key), tls_self_signed=False)
        settings = dataclasses.replace(settings, server=server)
    configured = tls.configured(server.tls_cert, server.tls_key)
    if configured is None:
        if not _loopback(server.host):
            print(f"Warning: serving plain HTTP on {server.host}, which is not a loopback address: keys, tokens "
                  "and payloads cross the network unencrypted; pass --tls-cert/--tls-key or --tls-self-signed.",
                  file=sys.stderr, flush=True)
        return settings, None
    return settings, ServerTLS(configured)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def uvicorn_config(app: Any, server_tls: ServerTLS | None, base: dict[str, Any], **more: Any) -> Any:
    """A loaded uvicorn Config that serves `server_tls`'s live context (TLS 1.2+), so a reload
    reaches the next handshakes of this very server."""
    import uvicorn

    config = uvicorn.Config(app, **base, **more)
    if server_tls is not None:
        live = server_tls.context
        config.ssl_context_factory = lambda _config, _default: live
    config.load()
    return config


def reload_on_sighup(server_tls: ServerTLS | None, also: Callable[[], None] | None = None) -> None:
    """SIGHUP loads the certificate files again (a bad file is logged; the old pair stays);
    `also` passes the signal on (to the gateway workers)."""

    def on_hup(_sig: int, _frame: Any) -> None:
        if server_tls is not None:
            try:
                server_tls.reload()
                log.warning("TLS certificate reloaded from %s", server_tls.pair.cert)
            except AiplaneError as exc:
                log.error("TLS reload failed, still serving the previous certificate: %s", exc.message)
        if also is not None:
            also()

    signal.signal(signal.SIGHUP, on_hup)


def with_plain_relay(config: Any, relay: Any) -> Any:
    """A uvicorn Server for the main process of `--workers N` with TLS: the shared port speaks
    TLS, the private relay socket plain HTTP (the workers ended the TLS; only they reach it).
    uvicorn gives every socket of one server the same TLS setting, so the relay socket is
    added after the standard start-up, served by the same protocol and connection tracking."""
    import functools

    import uvicorn

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[Any] | None = None) -> None:
            await super().startup(sockets)
            if self.should_exit:
                return
            protocol_class: Any = self.config.http_protocol_class
            protocol = functools.partial(protocol_class, config=self.config,
                                         server_state=self.server_state, app_state=self.lifespan.state)
            loop = asyncio.get_running_loop()
            self.servers.append(await loop.create_server(protocol, sock=relay, ssl=None, backlog=self.config.backlog))

    return _Server(config)
