"""A replica started by a root platform gives up root before it parses anything a tenant sent.

The supervisor starts it as root so that it can read the model wherever the platform keeps it;
`become` then switches the whole process to its tenant's unprivileged user, for good (no saved
root id), before the model is parsed and before the first request.
"""

from __future__ import annotations

import importlib
import os
import pwd

from aiplane.domain.errors import InvalidInput

# Modules the serving stack imports only at first use. They are imported here, while this
# process can still read wherever the platform is installed; the tenant's user may not be able to.
_IMPORTED_LATER = ("grpc._server", "grpc._channel", "grpc._utilities", "uvicorn.protocols.http.httptools_impl", "uvicorn.loops.uvloop",
                   "uvicorn.lifespan.off", "onnxruntime.capi.onnxruntime_inference_collection")


def become(user: str) -> None:
    """Run as `user` from now on: its uid and primary group, no supplementary groups."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise InvalidInput(f"user {user!r} does not exist; create it or leave out --run-as.") from None
    for module in _IMPORTED_LATER:
        importlib.import_module(module)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)  # as root this sets the real, effective and saved ids: no way back
    os.environ["USER"] = os.environ["LOGNAME"] = user
