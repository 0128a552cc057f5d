"""Writing the termination message the operator reads from Pod status."""

from __future__ import annotations

import collections
import os
import resource
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from scenefarm_contract.renderer import (
    DEFAULT_TERMINATION_LOG,
    LOG_TAIL_CHARS,
    LOG_TAIL_LINES,
    TERMINATION_LOG_ENV,
    ExitClass,
    TerminationMessage,
)

from .media import MediaInfo, sha256_of

SECRET_ENV = "APPWRITE_API_KEY"  # noqa: S105 (its name): the one secret a renderer holds


class LogTail:
    """The last lines this process wrote to its log, for the termination message's `logTail`."""

    def __init__(self, lines: int = LOG_TAIL_LINES, chars: int = LOG_TAIL_CHARS) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=lines)
        self.chars = chars

    def add(self, lines: Iterable[str]) -> None:
        self.lines.extend(line.rstrip() for line in lines if line.strip())

    def text(self, environ: Mapping[str, str] = os.environ) -> str | None:
        """The kept lines, the secret redacted, cut at the start to `chars`; None when empty."""
        text, secret = "\n".join(self.lines), environ.get(SECRET_ENV, "")
        if secret:  # redacted as the store redacts errorTail (`appwrite_sdk.redact`, not imported:
            text = text.replace(secret, "***")  # it loads the Appwrite SDK)
        if len(text) > self.chars:
            text = "…" + text[len(text) - self.chars + 1 :]
        return text or None


LOG = LogTail()  # what `say` printed and the render child's progress lines


def say(line: str) -> None:
    """Print a line a person follows in the Pod's log (`kubectl logs -f`), and keep it for `logTail`."""
    print(line, flush=True)
    LOG.add([line])


def success_message(info: MediaInfo, video: Path, started: float) -> TerminationMessage:
    """The message of a verified video: what it is and how long it took (the caller adds `artifact`).

    Call it before the store may move or delete `video` (its hash and size are read here).
    """
    return TerminationMessage(
        exitClass=ExitClass.OK,
        durationSeconds=round(info.duration, 3),
        frames=info.frames,
        width=info.width,
        height=info.height,
        fps=float(info.fps),
        sizeBytes=video.stat().st_size,
        sha256=sha256_of(video),
        renderSeconds=round(time.monotonic() - started, 3),
        cpuSeconds=round(cpu_seconds(), 3),
    )


def cpu_seconds() -> float:
    """User + system CPU of this process and of the children it waited for (the render child)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def write_termination_message(message: TerminationMessage, environ: Mapping[str, str] = os.environ) -> None:
    """Write `message` to the termination log; on failure print it to stderr and carry on.

    Outside Kubernetes `/dev/termination-log` usually does not exist; the exit
    code still tells the class, so a failed write must not change the outcome.
    """
    text = message.to_json()
    path = environ.get(TERMINATION_LOG_ENV, DEFAULT_TERMINATION_LOG)
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        print(f"scenefarm: cannot write termination message to {path}: {exc}", file=sys.stderr)
        print(text, file=sys.stderr)
