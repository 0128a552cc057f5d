"""Instant mode: the end a renderer Pod would have had, made up at once (nothing renders).

Every Pod succeeds with the termination message its command line asks for:

- `plan`: the scene's frames and segments (`units`, run-length encoded on the contract's segment
  grid). A class named `Long<S>` lasts S seconds at the quality's frame rate, any other 1 s;
- `render` of a whole scene: `<prefix>/scene-NN.mp4`, as long as its plan says; of one chunk of
  an Indexed Job (`--chunk-layout`): `<prefix>/scene-NN.chunk-KK.mp4` for K = the Pod's
  completion index, with `chunk`, `startFrame` and `endFrame` from the layout;
- `stitch`: `<prefix>/scene-NN.mp4` with the `--frames` it was asked to check;
- `combine`: `<prefix>/video.mp4`.

Scenes, chunks and stitched scenes carry a `sha256` (made up from the command line, 64 hex
characters), as verified artifacts do: the operator's scene cache serves only those. Scenes
whose class is named `Flaky<N>` fail before attempt N with exit 11 (the code raised), so
control-plane tests can exercise healing and retries.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from scenefarm_contract.chunks import (
    COMPLETION_INDEX_ENV,
    Unit,
    chunk_key,
    encode_units,
    segment_frames,
)
from scenefarm_contract.renderer import QUALITIES, VIDEO_KEY, TerminationMessage, scene_key
from scenefarm_devkit.jobrunner.indexed import completion_index

FLAKY = re.compile(r"^Flaky(\d+)$")
LONG = re.compile(r"^Long(\d+)$")
ATTEMPT_LABEL = "scenefarm.dev/attempt"
COMMANDS = ("plan", "render", "stitch", "combine")


def _option(argv: Sequence[str], name: str) -> str | None:
    for i, arg in enumerate(argv[:-1]):
        if arg == name:
            return argv[i + 1]
    return None


def _argv(container: Mapping[str, Any]) -> list[str]:
    return [str(a) for a in [*(container.get("command") or []), *(container.get("args") or [])]]


def _command(argv: Sequence[str]) -> str:
    """The renderer's subcommand: the first argument that names one (`render` when none does)."""
    return next((arg for arg in argv if arg in COMMANDS), "render")


def synthetic_end(pod: Mapping[str, Any]) -> tuple[int, str]:
    """(exit code, termination message) for a Pod of instant mode."""
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    container = containers[0]
    argv = _argv(container)
    flaky = FLAKY.match(_option(argv, "--class-name") or "")
    attempt = int(((pod.get("metadata") or {}).get("labels") or {}).get(ATTEMPT_LABEL, "1"))
    if flaky and attempt < int(flaky.group(1)):  # its code raises: in plan, render and chunks alike
        tail = f"NameError: name 'flaky' is not defined (attempt {attempt})"
        return 11, TerminationMessage(exitClass=11, errorTail=tail).to_json()
    return 0, synthetic_message(container, _index_of(pod, container))


def _index_of(pod: Mapping[str, Any], container: Mapping[str, Any]) -> int | None:
    """The Pod's completion index: its annotation, else a literal JOB_COMPLETION_INDEX in its env."""
    index = completion_index(pod)
    if index is not None:
        return index
    for var in container.get("env") or []:
        if var.get("name") == COMPLETION_INDEX_ENV and str(var.get("value", "")).isdigit():
            return int(var["value"])
    return None


def plan_frames(class_name: str, fps: int) -> int:
    """How long a made-up scene is: `Long<S>` lasts S seconds, any other class 1 s."""
    long = LONG.match(class_name)
    return max(1, (int(long.group(1)) if long else 1) * fps)


def plan_units(frames: int, fps: int) -> list[list[int]]:
    """One play of `frames` frames on the contract's segment grid, run-length encoded."""
    size = segment_frames(fps)
    units = [Unit(size)] * (frames // size)
    if frames % size:
        units.append(Unit(frames % size))
    return encode_units(units)


def synthetic_sha256(argv: Sequence[str]) -> str:
    return hashlib.sha256("\0".join(argv).encode()).hexdigest()


def synthetic_message(container: Mapping[str, Any], index: int | None = None) -> str:
    """A successful TerminationMessage for the command line (`index`: the Pod's completion index)."""
    argv = _argv(container)
    command, prefix = _command(argv), _option(argv, "--prefix")
    quality = QUALITIES.get(_option(argv, "--quality") or "low", QUALITIES["low"])
    fps = quality.fps
    if command == "plan":
        frames = plan_frames(_option(argv, "--class-name") or "", fps)
        return TerminationMessage(
            exitClass=0,
            frames=frames,
            durationSeconds=round(frames / fps, 3),
            fps=float(fps),
            units=plan_units(frames, fps),
            renderSeconds=0.0,
        ).to_json()
    message = TerminationMessage(
        exitClass=0,
        frames=plan_frames(_option(argv, "--class-name") or "", fps),
        width=quality.width,
        height=quality.height,
        fps=float(fps),
        sizeBytes=0,
        sha256=synthetic_sha256(argv),
        renderSeconds=0.0,
    )
    scene = _option(argv, "--scene-index")
    if command == "combine" and prefix is not None:
        message.artifact = f"{prefix}/{_option(argv, '--output') or VIDEO_KEY}"
        message.sha256 = None  # as before: nothing to verify a made-up video against
    elif command == "stitch" and prefix is not None and scene is not None:
        message.artifact = f"{prefix}/{scene_key(int(scene))}"
        message.frames = int(_option(argv, "--frames") or fps)
    elif (layout := _option(argv, "--chunk-layout")) is not None and scene is not None:
        _chunk(message, argv, layout, index)
    elif prefix is not None and scene is not None:
        message.artifact = f"{prefix}/{scene_key(int(scene))}"
    message.durationSeconds = round((message.frames or fps) / fps, 3)
    return message.to_json()


def _chunk(message: TerminationMessage, argv: Sequence[str], layout: str, index: int | None) -> None:
    """One chunk of an Indexed Job: frames [edges[K], edges[K+1]) for K = the completion index."""
    edges = [int(e) for e in layout.split(",")]
    chunk = index if index is not None else int(_option(argv, "--chunk-index") or 0)
    message.chunk, message.startFrame, message.endFrame = chunk, edges[chunk], edges[chunk + 1]
    message.frames = edges[chunk + 1] - edges[chunk]
    message.sha256 = synthetic_sha256([*argv, str(chunk)])  # chunks share a command line
    prefix, scene = _option(argv, "--prefix"), int(_option(argv, "--scene-index") or 0)
    if prefix is not None:
        message.artifact = f"{prefix}/{chunk_key(scene, chunk)}"
