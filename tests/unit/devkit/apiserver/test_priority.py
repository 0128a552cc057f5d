"""`scenefarm dev up` runs the API server's thread at real-time priority where it may, and nothing
it starts inherits that: Pods (processes) and helper threads run at the normal policy."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from scenefarm_devkit.apiserver.lifecycle import answer_promptly

FIFO_RESET = os.SCHED_FIFO | os.SCHED_RESET_ON_FORK


def test_the_api_server_thread_answers_promptly_and_what_it_starts_runs_normally() -> None:
    seen: dict[str, object] = {}

    def server_thread() -> None:
        seen["refused"] = answer_promptly()
        seen["policy"] = os.sched_getscheduler(0)
        child = subprocess.run(
            [sys.executable, "-c", "import os; print(os.sched_getscheduler(0))"],
            capture_output=True,
            text=True,
            check=True,
        )
        seen["pod"] = int(child.stdout)
        helper = threading.Thread(target=lambda: seen.__setitem__("helper", os.sched_getscheduler(0)))
        helper.start()
        helper.join()

    thread = threading.Thread(target=server_thread)
    thread.start()
    thread.join()

    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # only that thread: not the caller's
    if seen["refused"] is None:
        assert seen["policy"] == FIFO_RESET
    else:  # no CAP_SYS_NICE: said why, and nothing changed
        assert "PermissionError" in str(seen["refused"]) and seen["policy"] == os.SCHED_OTHER
    assert seen["pod"] == os.SCHED_OTHER and seen["helper"] == os.SCHED_OTHER
