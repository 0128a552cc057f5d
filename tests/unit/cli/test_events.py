"""Ctrl-C during a watch is read as a flag between events, never raised inside a library's lock."""

from __future__ import annotations

import os
import signal
import threading
import traceback
from collections.abc import Iterator

import pytest

from scenefarm_cli.show.events import WatchEnded, ctrl_c, next_event, pump


def test_ctrl_c_while_waiting_is_raised_by_our_own_check_not_inside_the_queue() -> None:
    blocked = threading.Event()

    def stream() -> Iterator[str]:  # a watch that has nothing to say
        blocked.wait(30)
        yield from ()

    before = signal.getsignal(signal.SIGINT)
    with ctrl_c() as interrupts:
        events = pump(stream)
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt) as raised:
            next_event(events, interrupts)
    blocked.set()
    where = traceback.extract_tb(raised.value.__traceback__)[-1]
    assert where.filename.endswith(os.path.join("show", "events.py")) and where.name == "check"
    assert signal.getsignal(signal.SIGINT) is before  # restored on the way out


def test_items_come_in_order_then_the_end_of_the_stream_is_said() -> None:
    with ctrl_c() as interrupts:
        events = pump(lambda: iter([1, 2]))
        assert [next_event(events, interrupts), next_event(events, interrupts)] == [1, 2]
        with pytest.raises(WatchEnded):
            next_event(events, interrupts)


def test_the_error_that_ended_the_stream_reaches_the_main_thread() -> None:
    def stream() -> Iterator[str]:
        yield "first"
        raise ConnectionError("the cluster went away")

    with ctrl_c() as interrupts:
        events = pump(stream)
        assert next_event(events, interrupts) == "first"
        with pytest.raises(ConnectionError, match="went away"):
            next_event(events, interrupts)
