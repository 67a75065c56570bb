"""Dynamic batching: requests that arrive together run as one ONNX Runtime call.

One owned task drains a bounded queue. It waits at most `max_delay_s` after the oldest
request for the batch to fill up to `max_batch_size` rows, concatenates compatible requests
along the first axis, runs the model and slices the outputs back by row offsets, so every
caller gets exactly its own rows. A batch that fails, or whose outputs cannot be split by rows,
is re-run one request at a time, so one bad request never fails or mixes up its neighbours.

Where the process may use more than one CPU, the model runs in one worker thread, so the event
loop keeps reading and answering requests on another core while ONNX Runtime computes. On a
single CPU there is nothing to overlap with: the thread would only add a hand-off per batch
(queue, wake-up, GIL switch) on the same core, so the batch runs on the loop itself, as an
unbatched request does.
"""

from __future__ import annotations

import asyncio
import collections
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from aiplane.domain.errors import AiplaneError, Unavailable

RunFn = Callable[[dict[str, np.ndarray], list[str]], list[np.ndarray]]


class _Item:
    __slots__ = ("inputs", "rows", "key", "future")

    def __init__(self, inputs: dict[str, np.ndarray], future: asyncio.Future[list[np.ndarray]]) -> None:
        self.inputs = inputs
        self.future = future
        if len(inputs) == 1:  # the common case, without the general bookkeeping below
            ((name, array),) = inputs.items()
            self.rows = array.shape[0] if array.ndim else -1
            self.key: tuple[object, ...] = (name, array.dtype.str, array.shape[1:])
            return
        firsts = {a.shape[0] if a.ndim else -1 for a in inputs.values()}
        self.rows = firsts.pop() if len(firsts) == 1 else -1  # -1: cannot be batched with others
        self.key = tuple((n, a.dtype.str, a.shape[1:]) for n, a in sorted(inputs.items()))


class Batcher:
    def __init__(self, run: RunFn, output_names: list[str], max_batch_size: int, max_delay_s: float,
                 max_queue: int, in_thread: bool = True) -> None:
        self.run = run
        self.output_names = output_names
        self.max_batch_size = max_batch_size
        self.max_delay_s = max_delay_s
        self.max_queue = max_queue
        self._queue: collections.deque[_Item] = collections.deque()
        self._rows = 0  # rows waiting in the queue
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="onnxruntime") if in_thread else None
        self._task: asyncio.Task[None] | None = None
        # Model runs by how many requests each combined (serving.metrics renders it on /metrics).
        self.runs_by_size: collections.Counter[int] = collections.Counter()

    async def submit(self, inputs: dict[str, np.ndarray], timeout_s: float | None) -> list[np.ndarray]:
        """All outputs of the model for these inputs, in signature order."""
        if len(self._queue) >= self.max_queue:
            raise Unavailable(f"the model's queue is full ({self.max_queue} requests waiting); retry shortly.")
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain(), name="batcher")
        item = _Item(inputs, asyncio.get_running_loop().create_future())
        self._queue.append(item)
        self._rows += max(item.rows, 1)
        # Wake the drain task only when it has something to do: a first request, or a full batch.
        if len(self._queue) == 1 or self._rows >= self.max_batch_size:
            self._wake.set()
        if timeout_s is None:
            return await item.future
        try:
            return await asyncio.wait_for(item.future, timeout_s)  # cancels the future: the batch skips it
        except asyncio.TimeoutError:
            raise Unavailable(f"the request waited longer than its timeout of {timeout_s * 1e6:.0f} µs; "
                              "retry, or send a larger 'timeout' parameter.") from None

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            deadline = loop.time() + self.max_delay_s
            while self._rows < self.max_batch_size and (left := deadline - loop.time()) > 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), left)
                except asyncio.TimeoutError:
                    break
            await self._run_batch(self._take())
            if self._executor is None:
                await asyncio.sleep(0)  # let this batch's answers go out before the next batch runs

    def _take(self) -> list[_Item]:
        """The oldest live request and the queued ones compatible with it, up to the row limit."""
        batch: list[_Item] = []
        rows = 0
        kept: collections.deque[_Item] = collections.deque()
        while self._queue:
            item = self._queue.popleft()
            if item.future.done():  # timed out while waiting
                continue
            if not batch:
                batch.append(item)
                rows = item.rows
            elif (rows > 0 and item.rows > 0 and item.key == batch[0].key
                  and rows + item.rows <= self.max_batch_size):
                batch.append(item)
                rows += item.rows
            else:
                kept.append(item)
        self._queue = kept
        self._rows = sum(max(item.rows, 1) for item in kept)
        return batch

    async def _call(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        if self._executor is None:
            return self.run(feed, self.output_names)
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.run, feed, self.output_names)

    async def _run_batch(self, batch: list[_Item]) -> None:
        if len(batch) > 1:
            feed = {name: np.concatenate([item.inputs[name] for item in batch]) for name in batch[0].inputs}
            try:
                outputs = await self._call(feed)
            except AiplaneError:
                outputs = None  # isolate the request the model rejected: run them one by one
            total = sum(item.rows for item in batch)
            if outputs is not None and all(o.ndim and o.shape[0] == total for o in outputs):
                self.runs_by_size[len(batch)] += 1
                start = 0
                for item in batch:
                    _resolve(item, [o[start:start + item.rows] for o in outputs])
                    start += item.rows
                return
        for item in batch:
            self.runs_by_size[1] += 1
            try:
                _resolve(item, await self._call(item.inputs))
            except AiplaneError as exc:
                if not item.future.done():
                    item.future.set_exception(exc)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


def _resolve(item: _Item, outputs: list[np.ndarray]) -> None:
    if not item.future.done():
        item.future.set_result(outputs)
