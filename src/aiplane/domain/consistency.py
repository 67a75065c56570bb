"""Check a checkpoint an auditor kept elsewhere against the live log: the live log must extend it.

Someone who can rewrite the database and delete the newer checkpoints can cut the log back to
an older checkpoint and let it grow again; verifying the database alone cannot see that, since
every checkpoint it still holds is consistent with it. A checkpoint kept outside the platform
can: the live log's newest signed checkpoint must sign at least as many entries, and an
RFC 6962 consistency proof must show that the kept tree is a prefix of the live one.
"""

from __future__ import annotations

from typing import Callable

from aiplane.domain import merkle
from aiplane.domain.checkpoints import Checkpoint


def problem(kept: Checkpoint, live: Checkpoint, proof: list[bytes],
            signature_ok: Callable[[Checkpoint], bool]) -> str | None:
    """What is wrong, as one sentence, or None when the live log extends the kept checkpoint.
    `proof` is the consistency proof from `kept.size` to `live.size` (empty when they are equal)."""
    if not signature_ok(kept):
        return (f"your checkpoint of {kept.size} entries does not verify under the given public key: it was altered, "
                f"or the key is not the platform's.")
    if not signature_ok(live):
        return (f"the live server's checkpoint of {live.size} entries does not verify under the given public key: "
                f"the server signs with another key.")
    if live.size < kept.size:
        return (f"the live log's newest checkpoint signs {live.size} entries, fewer than the {kept.size} of your "
                f"checkpoint: entries from position {live.size} on were cut (truncated).")
    if not merkle.verify_consistency(kept.size, live.size, kept.root, live.root, proof):
        return (f"the live log of {live.size} entries does not extend your checkpoint of {kept.size}: entries before "
                f"position {kept.size} were changed, or the log was cut and grew again.")
    return None
