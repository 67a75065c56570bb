"""A bounded load loop on loopback: clients send predictions while a test changes the platform,
and every answer's status and model version is kept for the test to check."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import httpx


class LoadLoop:
    """`clients` threads, each with its own keep-alive connection, posting `body` until `stop()`
    (or `max_requests` each, or `max_s`: the loop is bounded whatever the test does)."""

    def __init__(self, url: str, token: str, path: str, body: dict[str, Any], clients: int = 4,
                 max_requests: int = 20_000, max_s: float = 120.0) -> None:
        self.url, self.token, self.path, self.body = url, token, path, body
        self.max_requests, self.max_s = max_requests, max_s
        self.answers: list[tuple[int, str | None, str]] = []  # (status, model version, error text)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def __enter__(self) -> LoadLoop:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_s
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30) as client:
            for _ in range(self.max_requests):
                if self._stop.is_set() or time.monotonic() > deadline:
                    return
                try:
                    r = client.post(self.path, json=self.body)
                    answer = (r.status_code, r.headers.get("x-aiplane-model-version"),
                              "" if r.status_code == 200 else r.text)
                except httpx.HTTPError as exc:
                    answer = (0, None, repr(exc))
                with self._lock:
                    self.answers.append(answer)

    def count(self) -> int:
        with self._lock:
            return len(self.answers)

    def wait_for(self, more: int, timeout: float = 30.0) -> None:
        """Until `more` answers beyond the current count have come (the load is really running)."""
        target = self.count() + more
        deadline = time.monotonic() + timeout
        while self.count() < target and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.count() >= target, f"the load loop got only {self.count()} answers"

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)

    def failures(self) -> list[tuple[int, str | None, str]]:
        return [a for a in self.answers if a[0] != 200]

    def versions(self, since: int = 0) -> Counter[str | None]:
        return Counter(a[1] for a in self.answers[since:])
