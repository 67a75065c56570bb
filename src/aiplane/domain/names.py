"""Names of tenants, models and deployments: DNS-1123 labels, so they map onto Kubernetes."""

from __future__ import annotations

import re

from aiplane.domain.errors import InvalidInput

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_LENGTH = 63


def check(kind: str, name: str) -> str:
    """Return `name` if it is a valid DNS-1123 label, else raise InvalidInput naming it."""
    if not isinstance(name, str) or not _LABEL.match(name) or len(name) > MAX_LENGTH:
        raise InvalidInput(
            f"{kind} name {name!r} is not valid; use 1-63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit."
        )
    return name


def split_scoped(ref: str, what: str = "TENANT/NAME") -> tuple[str, str]:
    """Split 'tenant/name' into its two checked parts."""
    parts = ref.split("/")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise InvalidInput(f"{ref!r} is not of the form {what}.")
    return check("tenant", parts[0]), parts[1]
