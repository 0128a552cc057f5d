"""Running a child process inside limits: deadline, CPU time, memory, file size.

The child gets its own session (so the whole process group can be killed on
timeout), its own working directory, and an environment built from an
allowlist: secrets the renderer Pod may carry (Appwrite keys, tokens) never
reach scene code. Nor can the child read them from its parent: before the first
child starts, the parent makes itself non-dumpable, so `/proc/<parent>/environ`,
`mem` and `fd/` refuse a process of the same user without CAP_SYS_PTRACE; and
the child runs with no new privileges and, where the renderer runs as root (a
local dev cluster), with an empty capability bounding set, so its exec leaves it
no capability (CAP_SYS_PTRACE and CAP_DAC_OVERRIDE included).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

# Variables the child may inherit; everything else is dropped.
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SOURCE_DATE_EPOCH")


# linux/prctl.h
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
CAP_LAST_CAP = Path("/proc/sys/kernel/cap_last_cap")


@dataclasses.dataclass(frozen=True)
class Limits:
    deadline_seconds: float = 600.0
    cpu_seconds: int = 1200
    memory_mib: int = 2048  # address space: numpy, cairo and PyAV alone map ~1 GiB
    file_mib: int = 2048


@dataclasses.dataclass(frozen=True)
class Outcome:
    returncode: int  # negative: killed by that signal
    timed_out: bool
    elapsed: float
    log_tail: str

    @property
    def signal(self) -> signal.Signals | None:
        if self.returncode >= 0:
            return None
        try:
            return signal.Signals(-self.returncode)
        except ValueError:
            return None


def default_memory_mib(quality: str) -> int:
    """Address space for a render: Manim, numpy and PyAV map ~700 MiB before the first frame,
    and libx264 reserves per-thread buffers that grow with the frame size."""
    return {"high": 3072, "fourk": 6144}.get(quality, 2048)


def child_environment(environ: Mapping[str, str], workdir: Path) -> dict[str, str]:
    """The allowlisted variables plus writable homes inside `workdir`."""
    env = {k: environ[k] for k in PASSED_THROUGH if k in environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    for var, sub in (
        ("HOME", "home"),
        ("TMPDIR", "tmp"),
        ("MPLCONFIGDIR", "mpl"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        path = workdir / sub
        path.mkdir(exist_ok=True)
        env[var] = str(path)
    # One BLAS thread: the Pod's CPU limit is the parallelism, and every BLAS
    # thread would reserve address space against the memory limit.
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


def _die_with_parent() -> None:
    """Linux: SIGKILL this child when the renderer dies (e.g. its Pod is killed), so a runaway
    scene in its own session is never left spinning. Elsewhere the deadline still applies."""
    libc = _libc()
    if libc is not None and hasattr(libc, "prctl"):
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def guard_parent() -> bool:
    """Linux: make this process non-dumpable (its /proc files become root's, and reading its
    environment, memory or descriptors needs CAP_SYS_PTRACE). Whether it took effect."""
    libc = _libc()
    return libc is not None and hasattr(libc, "prctl") and libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0


def _last_capability() -> int:
    try:
        return int(CAP_LAST_CAP.read_text())
    except (OSError, ValueError):
        return 63


def _drop_privileges(last_capability: int) -> None:
    """In the child before exec: no new privileges; as root, no capability after the exec (the
    bounding set emptied, ambient cleared), so root's file permissions are all it keeps."""
    libc = _libc()
    if libc is None or not hasattr(libc, "prctl"):
        return
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if os.geteuid() != 0:
        return
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    for capability in range(last_capability + 1):
        libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)


def _preexec(limits: Limits) -> Callable[[], None]:
    last_capability = _last_capability()  # read before the fork: no file I/O in the child

    def apply() -> None:
        # Soft < hard for CPU: the soft limit sends SIGXCPU, which tells the
        # parent why the child died.
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
        memory = limits.memory_mib * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        size = limits.file_mib * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        _die_with_parent()
        _drop_privileges(last_capability)

    return apply


def run_limited(
    argv: Sequence[str],
    workdir: Path,
    env: Mapping[str, str],
    limits: Limits,
    pass_fds: Sequence[int] = (),
) -> Outcome:
    """Run `argv` in `workdir` within `limits`; on the deadline kill its whole process group.

    `pass_fds`: descriptors the child keeps (the progress stream, see `_child`)."""
    log = workdir / "child.log"
    guard_parent()
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(argv),
            cwd=workdir,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=tuple(pass_fds),
            preexec_fn=_preexec(limits),  # noqa: PLW1509 - no threads are running in the renderer
        )
        timed_out = False
        try:
            returncode = process.wait(timeout=limits.deadline_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process.pid)
            returncode = process.wait()
        else:
            _kill_group(process.pid)  # anything the scene left running in the background
    elapsed = time.monotonic() - started
    return Outcome(returncode, timed_out, elapsed, _tail(log))


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
