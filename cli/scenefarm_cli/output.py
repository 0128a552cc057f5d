"""Output for people and for scripts.

On a terminal (and without `NO_COLOR`) commands may use colour and live redraws; otherwise they
print plain lines. Text is never wrapped (a path split over two lines cannot be pasted), user
content is never read as markup, and `-o json|yaml` prints the object itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import IO, Any

import yaml
from rich.console import Console

from scenefarm_contract import phases
from scenefarm_contract.clock import parse_time
from scenefarm_contract.conditions import stall_of

FORMATS = ("json", "yaml")


@dataclasses.dataclass
class Output:
    out: Console
    err: Console
    program: str = "scenefarm"  # how hints name the command: "scenefarm" or "kubectl scenefarm"

    @classmethod
    def create(
        cls, stdout: IO[str] | None = None, stderr: IO[str] | None = None, program: str = "scenefarm"
    ) -> Output:
        no_color = bool(os.environ.get("NO_COLOR"))
        out = Console(file=stdout or sys.stdout, no_color=no_color, soft_wrap=True, highlight=False)
        err = Console(file=stderr or sys.stderr, no_color=no_color, soft_wrap=True, highlight=False)
        return cls(out, err, program)

    @property
    def live(self) -> bool:
        """Redraw in place with colour: only on a terminal and when NO_COLOR is not set."""
        return self.out.is_terminal and not self.out.no_color

    def line(self, text: str = "", style: str | None = None) -> None:
        """Print `text` as it is (no markup, no wrapping); `style` only where colour is allowed."""
        self.out.print(text, style=style if self.live else None, markup=False, soft_wrap=True)

    def error(self, text: str) -> None:
        self.err.print(f"error: {text}", markup=False, soft_wrap=True, style="red" if self.live else None)

    def data(self, obj: Any, fmt: str) -> None:
        """The object for scripts: JSON (indented) or YAML, exactly as the API returned it."""
        text = (
            json.dumps(obj, indent=2, sort_keys=False)
            if fmt == "json"
            else yaml.safe_dump(obj, sort_keys=False)
        )
        self.out.file.write(text if text.endswith("\n") else text + "\n")
        self.out.file.flush()


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """kubectl's plain table: upper-case headers, columns padded by three spaces, no wrapping."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = []
    for row in [headers, *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines)


def human_duration(seconds: float) -> str:
    """kubectl's short durations: 45s, 3m12s, 47m, 5h3m, 30h, 3d4h, 12d."""
    s = max(0, int(seconds))
    minutes, hours = s // 60, s // 3600
    if s < 120:
        return f"{s}s"
    if minutes < 10:
        return _two(minutes, "m", s % 60, "s")
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return _two(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    return _two(hours // 24, "d", hours % 24 if hours < 24 * 8 else 0, "h")


def _two(big: int, big_unit: str, small: int, small_unit: str) -> str:
    return f"{big}{big_unit}{small}{small_unit}" if small else f"{big}{big_unit}"


def age(timestamp: str | None, now: dt.datetime | None = None) -> str:
    then = parse_time(timestamp)
    if then is None:
        return "<unknown>"
    now = now or dt.datetime.now(dt.UTC)
    return human_duration((now - then).total_seconds())


def eta(status: Mapping[str, Any], now: dt.datetime | None = None) -> str:
    """Time left from `status.estimatedCompletionTime`, when the operator publishes one."""
    when = parse_time(status.get("estimatedCompletionTime"))
    if when is None or status.get("phase") in phases.TERMINAL:
        return "-"
    now = now or dt.datetime.now(dt.UTC)
    if stall(status) is not None or when <= now:  # overdue or stuck: no honest estimate, never "0s"
        return "unknown"
    return human_duration((when - now).total_seconds())


def stall(status: Mapping[str, Any]) -> str | None:
    """Why a request still in progress cannot go on by itself (`Reason: message`), or None."""
    return stall_of(status.get("phase"), status)
