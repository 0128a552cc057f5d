"""Fault injection and the request log of the Appwrite double.

A `Fault` matches requests by method and path pattern and answers with a status, adds a delay,
or (for chunk uploads) accepts the request and drops the chunk. An outage answers every request
for a time window, either with 503 or by cutting the connection. All of it is guarded by a lock
because tests drive the double from another thread than the one serving it.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time


@dataclasses.dataclass
class Fault:
    """One injected misbehaviour; `times` counts down per matching request (None: forever)."""

    path: str = ".*"  # regular expression searched in the request path
    method: str | None = None  # e.g. "PUT"; None matches any method
    status: int | None = None  # answer this status instead of serving the request
    delay: float = 0.0  # seconds to wait before serving (or failing) the request
    drop_chunk: bool = False  # accept an upload chunk (200) without storing it
    chunk_index: int | None = None  # with drop_chunk: only this chunk (0-based)
    times: int | None = 1

    def matches(self, method: str, path: str, chunk_index: int | None) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.chunk_index is not None and self.chunk_index != chunk_index:
            return False
        return re.search(self.path, path) is not None


@dataclasses.dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    status: int
    at: float  # time.monotonic() when the answer was sent

    @property
    def is_write(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH", "DELETE")


class FaultPlan:
    """The faults, the outage window and the request log, shared between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._outage_until = 0.0
        self._outage_kind = "503"
        self._log: list[RequestRecord] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._outage_until = 0.0

    def outage(self, seconds: float, kind: str = "503") -> None:
        """Fail every request for `seconds`: kind "503" answers 503, "reset" cuts the connection."""
        if kind not in ("503", "reset"):
            raise ValueError(f"unknown outage kind {kind!r}")
        with self._lock:
            self._outage_until = time.monotonic() + seconds
            self._outage_kind = kind

    def end_outage(self) -> None:
        with self._lock:
            self._outage_until = 0.0

    def outage_kind(self) -> str | None:
        with self._lock:
            return self._outage_kind if time.monotonic() < self._outage_until else None

    def take(self, method: str, path: str, chunk_index: int | None = None) -> Fault | None:
        """The first matching fault, with one use counted off."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, chunk_index):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._log.append(RequestRecord(method, path, status, time.monotonic()))

    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()
