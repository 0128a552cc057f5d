"""Instant mode: the termination message a renderer Pod would have written, made up at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scenefarm_contract.renderer import QUALITIES, VIDEO_KEY, TerminationMessage, scene_key


def _option(argv: Sequence[str], name: str) -> str | None:
    for i, arg in enumerate(argv[:-1]):
        if arg == name:
            return argv[i + 1]
    return None


def synthetic_message(container: Mapping[str, Any]) -> str:
    """A successful TerminationMessage naming the artifact the command line asks for."""
    argv = [str(a) for a in [*(container.get("command") or []), *(container.get("args") or [])]]
    prefix = _option(argv, "--prefix")
    artifact = None
    if "combine" in argv and prefix is not None:
        artifact = f"{prefix}/{_option(argv, '--output') or VIDEO_KEY}"
    elif prefix is not None and (index := _option(argv, "--scene-index")) is not None:
        artifact = f"{prefix}/{scene_key(int(index))}"
    quality = QUALITIES.get(_option(argv, "--quality") or "low", QUALITIES["low"])
    message = TerminationMessage(
        exitClass=0,
        artifact=artifact,
        durationSeconds=1.0,
        frames=15,
        width=quality.width,
        height=quality.height,
        fps=quality.fps,
        sizeBytes=0,
        renderSeconds=0.0,
    )
    return message.to_json()
