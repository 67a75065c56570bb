"""Heavy model work (quantizing, profiling) in a child process with a time bound.

The control API runs in the same process as the gateway, so minutes of graph rewriting and
timing loops there would stall every request and, holding the GIL, skew the very latencies
being measured. A fresh spawned process per job keeps the event loop responsive, gets its
own core for clean timings, and can be ended when it runs past its bound.
"""

from __future__ import annotations

import multiprocessing
from typing import Any, Callable

from aiplane.domain.errors import AiplaneError, Unavailable


def run_bounded(what: str, fn: Callable[..., Any], args: tuple[Any, ...], timeout_s: float) -> Any:
    """`fn(*args)` in a child process; an AiplaneError raised there is raised here as it was."""
    pool = multiprocessing.get_context("spawn").Pool(1)
    try:
        result = pool.apply_async(fn, args)
        try:
            return result.get(timeout_s)
        except multiprocessing.TimeoutError:
            raise Unavailable(f"{what} ran past its bound of {timeout_s:g} s and was stopped; raise "
                              "AIPLANE_CONTROL_OPTIMIZE_TIMEOUT_S for a model this large.", retry_after=60) from None
        except AiplaneError:
            raise
        except Exception as exc:  # a failure of the tools, not of the input: say which, keep the cause
            raise AiplaneError(f"{what} failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from exc
    finally:
        pool.terminate()
        pool.join()
