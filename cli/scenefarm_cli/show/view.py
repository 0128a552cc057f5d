"""The live picture of one request on a terminal: a bar for the request and one per scene."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from scenefarm_cli.output import eta, stall
from scenefarm_cli.show import summary
from scenefarm_contract import phases

DELETED = "Deleted"  # not a phase: what the CLI shows once the object is gone
COLOURS = {
    phases.SUCCEEDED: "green",
    phases.FAILED: "red",
    phases.CANCELLED: "red",
    DELETED: "red",
    phases.RUNNING: "yellow",
    phases.HEALING: "magenta",
    phases.RETRYING: "magenta",
    phases.SUSPENDED: "blue",
}
MARKS = {phases.HEALING: "⚕ healing", phases.RETRYING: "↻ retrying"}
BAR = 30  # at most; a quarter of a narrow terminal


def request_view(request: Mapping[str, Any], program: str = "scenefarm", bar: int = BAR) -> Group:
    name, status = request["metadata"]["name"], request.get("status") or {}
    phase = str(status.get("phase") or phases.PENDING)
    head = _grid(6)
    progress = int(status.get("progress") or 0)
    left = eta(status)
    total = int(status.get("scenesTotal") or 0)
    head.add_row(
        Text(name, style="bold"),
        ProgressBar(total=100, completed=progress, width=bar, complete_style=COLOURS.get(phase, "cyan")),
        Text(f"{progress:3d}%"),
        Text(phase, style=COLOURS.get(phase, "cyan")),
        Text(f"{int(status.get('scenesSucceeded') or 0)} of {total} scenes done" if total else ""),
        Text(f"ETA {left}" if left != "-" else ""),
    )
    parts: list[Any] = [head]
    stuck = stall(status)
    if stuck:  # while it lasts: what the cluster will not do by itself
        parts.append(Text(f"  stalled: {summary.one_line(stuck)}", style="red"))
    scenes = status.get("scenes") or []
    if scenes:
        parts.append(_scenes(scenes, bar))
    combine = (status.get("combine") or {}).get("phase")
    if combine:
        parts.append(Text(f"  combine: {combine}", style=COLOURS.get(combine, "")))
    if phase in phases.TERMINAL or phase == DELETED:
        parts += [Text(line, style=COLOURS.get(phase, "")) for line in summary.ending(request, program)]
    return Group(*parts)


def _scenes(scenes: list[Mapping[str, Any]], bar: int) -> Table:
    table = _grid(5)
    for scene in scenes:
        phase = str(scene.get("phase") or phases.PENDING)
        attempt = int(scene.get("attempt") or 0)
        table.add_row(
            Text(f"  {scene.get('index'):>2} {scene.get('name')}"),
            _bar(phase, bar),
            Text(phase, style=COLOURS.get(phase, "")),
            Text(f"attempt {attempt}" if attempt else ""),
            Text(MARKS.get(phase, "") or _healed(scene), style="magenta"),
        )
    return table


def _grid(columns: int) -> Table:
    """Cells are cut with an ellipsis on a narrow terminal, never wrapped onto a second line."""
    table = Table.grid(padding=(0, 1))
    for _ in range(columns):
        table.add_column(no_wrap=True, overflow="ellipsis")
    return table


def _bar(phase: str, width: int) -> ProgressBar:
    """Done: full; running (or being healed): pulsing; not started: empty."""
    colour = COLOURS.get(phase, "cyan")
    if phase in phases.FINISHED:
        return ProgressBar(total=1, completed=1, width=width, complete_style=colour, finished_style=colour)
    if phase in (phases.RUNNING, phases.HEALING, phases.RETRYING):
        return ProgressBar(total=None, width=width, pulse_style=colour)
    return ProgressBar(total=1, completed=0, width=width)


def _healed(scene: Mapping[str, Any]) -> str:
    history = scene.get("history") or []
    n = len(history)
    return f"after {n} earlier attempt{'s' if n > 1 else ''}" if n else ""
