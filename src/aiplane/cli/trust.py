"""What the CLI trusts for https:// URLs (the platform's, and the identity provider's)."""

from __future__ import annotations

import os
import ssl

from aiplane.domain.errors import InvalidInput


def context() -> ssl.SSLContext:
    """What the CLI trusts for https:// URLs: the CA file AIPLANE_CA_BUNDLE names (a private CA,
    or the certificate `aiplane up --tls-self-signed` made), else the system's CAs."""
    bundle = os.environ.get("AIPLANE_CA_BUNDLE")
    if not bundle:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=bundle)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(f"AIPLANE_CA_BUNDLE names {bundle!r}, which is not a readable PEM file of CA certificates "
                           f"({getattr(exc, 'strerror', None) or exc}); point it at the server's CA file.") from None
