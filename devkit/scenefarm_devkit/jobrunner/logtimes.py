"""When each part of a container's log appeared: what `kubectl logs --timestamps/--since` need.

The container writes straight into its log file (no pipe through the runner), so the runner
samples the file's size every poll period and appends `<offset> <time>` to `container.log.times`
whenever it grew: the bytes from that offset on were first seen at that time (to within one poll
period). The API server's pods/log reads it.
"""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

TIMES_SUFFIX = ".times"


def _stamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sample(log: Path, index: Path, seen: int) -> int:
    try:
        size = log.stat().st_size
    except OSError:
        return seen
    if size > seen:
        with index.open("a", encoding="utf-8") as out:
            out.write(f"{seen} {_stamp()}\n")
    return max(size, seen)


def size_of(log: Path) -> int:
    return log.stat().st_size if log.exists() else 0


async def index(log: Path, period: float, start: int) -> None:
    """Sample until cancelled (one last sample then); `start`: the log's size before the process."""
    times = log.with_name(log.name + TIMES_SUFFIX)
    seen = start
    try:
        while True:
            seen = _sample(log, times, seen)
            await asyncio.sleep(period)
    finally:
        _sample(log, times, seen)
