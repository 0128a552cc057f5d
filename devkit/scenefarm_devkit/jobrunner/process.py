"""One container as a local process: its own process group, a memory limit, a kill switch.

The memory limit is enforced by sampling the resident memory of the whole process tree and
SIGKILLing the group when it is over — how a cgroup OOM kill looks from outside (exit 137).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

SIGKILL_EXIT = 128 + signal.SIGKILL


@dataclasses.dataclass(frozen=True)
class ProcessOutcome:
    exit_code: int
    oom_killed: bool = False
    killed_reason: str | None = None  # set when we killed it on purpose (suspend, deadline, ...)


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants; 0 once it is gone."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += process.memory_info().rss
    return total


class LocalProcess:
    """A started container process; `wait()` watches it until it ends."""

    def __init__(self, process: asyncio.subprocess.Process, memory_limit: int | None, poll: float) -> None:
        self._process = process
        self._memory_limit = memory_limit
        self._poll = poll
        self._killed_reason: str | None = None
        self._oom = False
        # Every descendant seen while it ran: a container's cgroup holds them all, even those that
        # start their own session (as the renderer's sandboxed child does), so all die with it.
        self._descendants: dict[int, psutil.Process] = {}

    @classmethod
    async def start(
        cls,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
        *,
        memory_limit: int | None = None,
        poll: float = 0.1,
    ) -> LocalProcess:
        """Spawn in a new session (so the group can be killed whole), output into `log_path`."""
        with log_path.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *argv,
                env=dict(env),
                cwd=cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(process, memory_limit, poll)

    @property
    def pid(self) -> int:
        return self._process.pid

    def kill(self, reason: str) -> None:
        """SIGKILL the whole group; `reason` ends up in the outcome."""
        if self._killed_reason is None:
            self._killed_reason = reason
        self._kill_group()

    def _kill_group(self) -> None:
        self._note_descendants()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)
        for process in self._descendants.values():  # psutil checks the start time: no pid reuse
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                process.kill()

    def _note_descendants(self) -> None:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            for child in psutil.Process(self._process.pid).children(recursive=True):
                self._descendants.setdefault(child.pid, child)

    async def wait(self) -> ProcessOutcome:
        while True:
            try:
                code = await asyncio.wait_for(asyncio.shield(self._process.wait()), self._poll)
                break
            except TimeoutError:
                self._note_descendants()
                if self._memory_limit is not None and tree_rss(self.pid) > self._memory_limit:
                    self._oom = True
                    self._kill_group()
        # Children left behind by the main process die with it, as in a container.
        self._kill_group()
        exit_code = SIGKILL_EXIT if code == -signal.SIGKILL else (128 - code if code < 0 else code)
        return ProcessOutcome(exit_code, oom_killed=self._oom, killed_reason=self._killed_reason)
