"""The `stitch` command: a chunked scene's chunks -> one verified `scene-NN.mp4`.

Chunks are runs of whole segments (see `replaying`), so joining their packets in order gives
the packets of the whole render: stitching is a stream copy, and a stitch that would need to
re-encode is refused (the chunks were not made by the same renderer and settings). The result
is verified like any scene (quality, frame rate, frames against duration, every packet
decodes), and its frame count must equal the plan's.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from scenefarm_contract.renderer import QUALITIES, TerminationMessage, scene_key
from scenefarm_renderer.storage.store import ArtifactStore

from .errors import EnvironmentProblem
from .media import MediaInfo, verify_scene
from .segments import join_exactly
from .termination import success_message


def stitch(chunks: Sequence[Path], output: Path, quality: str, expected_frames: int) -> MediaInfo:
    """Join `chunks` by stream copy into `output`; `EnvironmentProblem` if it is not the planned scene."""
    if not chunks:
        raise EnvironmentProblem("stitch needs at least one --input")
    result = join_exactly(chunks, output)
    problems = verify_scene(result.output, QUALITIES[quality])
    if result.output.frames != expected_frames:
        problems.append(f"{result.output.frames} frames, the scene's plan has {expected_frames}")
    if problems:
        raise EnvironmentProblem("the stitched scene failed verification: " + "; ".join(problems))
    return result.output


def stitch_into_store(
    store: ArtifactStore, keys: Sequence[str], scene_index: int, quality: str, expected_frames: int
) -> TerminationMessage:
    """Fetch the chunk keys, stitch, verify, store as `scene-NN.mp4`."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="scenefarm-stitch-") as tmp:
        work = Path(tmp)
        local = []
        for index, key in enumerate(keys):
            path = work / f"chunk-{index:03d}.mp4"
            store.get(key, path)
            local.append(path)
        output = work / "scene.mp4"
        try:
            info = stitch(local, output, quality, expected_frames)
        except EnvironmentProblem as exc:
            for key, path in zip(keys, local, strict=True):
                exc.message = exc.message.replace(path.name, key)
            raise
        message = success_message(info, output, started)
        message.artifact = store.put(output, scene_key(scene_index))
    return message
