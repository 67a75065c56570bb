"""A child of `aiplane up` (a replica, a gateway worker) must never outlive it, even when it
is killed with SIGKILL and cannot stop its children itself."""

from __future__ import annotations

import os
import signal
import threading
import time


def exit_with_parent(parent_pid: int) -> None:
    """Watch the parent from a daemon thread; once it is gone, shut down gracefully (SIGTERM to
    ourselves), and hard after five seconds if that did not finish."""

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5.0)
                os._exit(1)
            time.sleep(0.5)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
