"""Watches for the Kubernetes emulator: every change the world takes (`apply`, `remove`) gets a
resourceVersion and goes to each open watch of its type, as WatchEvent JSON lines.

A watch from resourceVersion N replays the changes after N first (what `kubectl get -w` asks
for after its list); without one it starts with an ADDED event per current object, as the API
server does. A watch ends when its `timeoutSeconds` pass, when `end_all()` is called or when the
emulator stops; the stream then closes with the terminating chunk, as the API server's does.
A client that went away is noticed at the next event sent to it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Change = tuple[int, str, str, dict[str, Any]]  # resourceVersion, type, kind key, object
_END = None


@dataclass
class _Watch:
    key: str
    events: queue.Queue[Change | None]


class WatchHub:
    def __init__(self, resource_version: int) -> None:
        self._lock = threading.Lock()
        self._rv = resource_version
        self._history: list[Change] = []
        self._watches: list[_Watch] = []

    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def publish(self, kind_key: str, event_type: str, obj: dict[str, Any]) -> int:
        """Stamp the change with the next resourceVersion and hand it to every watch of its
        type; returns that version."""
        with self._lock:
            self._rv += 1
            obj["metadata"]["resourceVersion"] = str(self._rv)
            change = (self._rv, event_type, kind_key, obj)
            self._history.append(change)
            for watch in self._watches:
                if watch.key == kind_key:
                    watch.events.put(change)
            return self._rv

    def end_all(self) -> None:
        with self._lock:
            for watch in self._watches:
                watch.events.put(_END)

    def stream(
        self,
        kind_key: str,
        since: int | None,
        current: list[dict[str, Any]],
        timeout: float,
        encode: Callable[[str, dict[str, Any]], bytes],
    ) -> Iterator[bytes]:
        """The body of one watch: `encode(type, object)` for each event until it ends.
        `current` is the matching objects now (sent as ADDED when `since` is None)."""
        watch = _Watch(kind_key, queue.Queue())
        with self._lock:
            self._watches.append(watch)
            backlog = (
                [(self._rv, "ADDED", kind_key, obj) for obj in current]
                if since is None
                else [c for c in self._history if c[0] > since and c[2] == kind_key]
            )
        return self._run(watch, backlog, time.monotonic() + timeout, encode)

    def _run(
        self,
        watch: _Watch,
        backlog: list[Change],
        deadline: float,
        encode: Callable[[str, dict[str, Any]], bytes],
    ) -> Iterator[bytes]:
        try:
            for _, event_type, _, obj in backlog:
                yield encode(event_type, obj)
            while (left := deadline - time.monotonic()) > 0:
                try:
                    change = watch.events.get(timeout=left)
                except queue.Empty:
                    break
                if change is _END:
                    break
                chunk = encode(change[1], change[3])
                if chunk:
                    yield chunk
        finally:
            with self._lock:
                if watch in self._watches:
                    self._watches.remove(watch)
