"""Instant mode: the end a renderer Pod would have had, made up at once (nothing renders).

Every Pod succeeds with a termination message naming the artifact its command line asks for,
except scenes whose class is named `Flaky<N>`: their attempts before attempt N exit 11 (the
code raised), so control-plane tests can exercise healing and retries without real renders.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from scenefarm_contract.renderer import QUALITIES, VIDEO_KEY, TerminationMessage, scene_key


def _option(argv: Sequence[str], name: str) -> str | None:
    for i, arg in enumerate(argv[:-1]):
        if arg == name:
            return argv[i + 1]
    return None


FLAKY = re.compile(r"^Flaky(\d+)$")
ATTEMPT_LABEL = "scenefarm.dev/attempt"


def synthetic_end(pod: Mapping[str, Any]) -> tuple[int, str]:
    """(exit code, termination message) for a Pod of instant mode."""
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    container = containers[0]
    argv = [str(a) for a in [*(container.get("command") or []), *(container.get("args") or [])]]
    flaky = FLAKY.match(_option(argv, "--class-name") or "")
    attempt = int(((pod.get("metadata") or {}).get("labels") or {}).get(ATTEMPT_LABEL, "1"))
    if flaky and attempt < int(flaky.group(1)):
        tail = f"NameError: name 'flaky' is not defined (attempt {attempt})"
        return 11, TerminationMessage(exitClass=11, errorTail=tail).to_json()
    return 0, synthetic_message(container)


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
