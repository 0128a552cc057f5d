"""A watch read in a background thread, and Ctrl-C read as a flag between its events.

Python raises KeyboardInterrupt wherever the main thread happens to be: inside httpx's
connection-pool lock or rich's refresh lock, a lock acquired and never released, and the
clean-up that follows (closing the watch's response, stopping the live view) then waits for it
for ever (`get -w` and `watch` hung after Ctrl-C on a loaded machine). So the watch runs in a
daemon thread feeding a queue; SIGINT only sets a flag; the main thread checks the flag between
short waits on the queue and raises KeyboardInterrupt itself, outside every library's lock.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from scenefarm_cli.errors import CliError

TICK = 0.2  # seconds between looks at the Ctrl-C flag


class WatchEnded(CliError):
    """The stream ended without an error (a watch is meant to go on until stopped)."""


class Interrupts:
    """Ctrl-C presses, counted by a handler that takes no lock."""

    def __init__(self) -> None:
        self.pressed = 0

    def check(self) -> None:
        if self.pressed:
            raise KeyboardInterrupt


@contextlib.contextmanager
def ctrl_c() -> Iterator[Interrupts]:
    """While inside: SIGINT sets a flag instead of raising (only the main thread can catch it)."""
    seen = Interrupts()

    def handler(_signum: int, _frame: object) -> None:
        seen.pressed += 1

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: leave Python's default alone
        yield seen
        return
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, previous)


def pump(stream: Callable[[], Iterable[Any]]) -> queue.Queue[Any]:
    """Iterate `stream()` in a daemon thread: each item into the queue, then the error that ended
    it (WatchEnded when it simply stopped)."""
    events: queue.Queue[Any] = queue.Queue()

    def run() -> None:
        try:
            for item in stream():
                events.put(item)
            events.put(WatchEnded("the cluster ended the watch"))
        except BaseException as error:
            events.put(error)

    threading.Thread(target=run, daemon=True).start()
    return events


def next_event(events: queue.Queue[Any], interrupts: Interrupts, deadline: float | None = None) -> Any:
    """The next item (an error item is raised); KeyboardInterrupt after Ctrl-C; queue.Empty
    once `deadline` (a time.monotonic() value) has passed."""
    while True:
        interrupts.check()
        wait = TICK if deadline is None else min(TICK, max(0.0, deadline - time.monotonic()))
        try:
            item = events.get(timeout=wait)
        except queue.Empty:
            if deadline is not None and time.monotonic() >= deadline:
                raise
            continue
        if isinstance(item, BaseException):
            raise item
        return item
