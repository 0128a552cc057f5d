"""What a request's status says, as plain lines: the non-terminal view of `watch` and its ending.

Pure functions of the VideoRequest object, so the same status always prints the same text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scenefarm_cli.output import eta, stall
from scenefarm_contract import phases

MARKS = {phases.HEALING: "healing: the planner is fixing its code", phases.RETRYING: "retrying"}


def headline(request: Mapping[str, Any], with_eta: bool = True) -> str:
    name, status = request["metadata"]["name"], request.get("status") or {}
    phase = status.get("phase") or phases.PENDING
    text = f"{name}: {phase}"
    if phase not in phases.TERMINAL:
        text += f" {int(status.get('progress') or 0)}%"
    total = status.get("scenesTotal")
    if total:
        text += f" ({status.get('scenesSucceeded') or 0}/{total} scenes done"
        failed = status.get("scenesFailed") or 0
        text += f", {failed} failed)" if failed else ")"
    left = eta(status) if with_eta else "-"
    if left == "unknown":
        text += ", ETA unknown"
    elif left != "-":
        text += f", about {left} left"
    if status.get("queuePosition"):
        text += f", queue position {status['queuePosition']}"
    return text


def scene_line(name: str, scene: Mapping[str, Any]) -> str:
    phase = scene.get("phase") or phases.PENDING
    text = f"{name}: scene {scene.get('index')} {scene.get('name')}: {phase}"
    attempt = int(scene.get("attempt") or 0)
    if attempt > 1:
        text += f" (attempt {attempt})"
    message = scene.get("message")
    if message and phase in (phases.FAILED, phases.HEALING, phases.RETRYING):
        text += f": {one_line(str(message))}"
    return text


def ending(request: Mapping[str, Any], program: str = "scenefarm") -> list[str]:
    """The last lines once the request is finished: where the video is, or why there is none."""
    name, status = request["metadata"]["name"], request.get("status") or {}
    phase = status.get("phase")
    output = status.get("output") or {}
    if phase == phases.SUCCEEDED and output.get("uri"):
        facts = []
        if output.get("durationSeconds") is not None:
            facts.append(f"{float(output['durationSeconds']):.1f} s")
        if output.get("sizeBytes") is not None:
            facts.append(f"{int(output['sizeBytes'])} bytes")
        if output.get("partial"):
            facts.append("partial: missing " + ", ".join(output.get("missingScenes") or []))
        lines = [f"{name}: video {output['uri']}" + (f" ({', '.join(facts)})" if facts else "")]
        return [*lines, f"{name}: download it with: {program} download {name} -o {name}.mp4"]
    reason = status.get("message") or _condition_message(status) or "no message in its status"
    return [f"{name}: {phase}: {one_line(str(reason))}"]


def lines(request: Mapping[str, Any], with_eta: bool = True, program: str = "scenefarm") -> list[str]:
    """Every line describing the request now: headline, why it is stalled (while it is), one
    per scene, combine, ending."""
    name, status = request["metadata"]["name"], request.get("status") or {}
    result = [headline(request, with_eta)]
    stuck = stall(status)
    if stuck:
        result.append(f"{name}: stalled: {one_line(stuck)}")
    result += [scene_line(name, s) for s in status.get("scenes") or []]
    combine = status.get("combine") or {}
    if combine.get("phase"):
        text = f"{name}: combine: {combine['phase']}"
        if combine.get("message") and combine["phase"] == phases.FAILED:
            text += f": {one_line(str(combine['message']))}"
        result.append(text)
    if status.get("phase") in phases.TERMINAL:
        result += ending(request, program)
    return result


def _condition_message(status: Mapping[str, Any]) -> str | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") in ("Stalled", "Ready") and condition.get("message"):
            return str(condition["message"])
    return None


def one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
