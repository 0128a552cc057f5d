"""Chunks and the scene cache: the part of the renderer contract that chunked rendering adds.

A scene's frames are cut on a fixed **segment grid**: every `play` (or `wait`) starts a new
segment, and a play longer than `SEGMENT_SECONDS` is cut every `SEGMENT_SECONDS` of frames.
Each segment is encoded on its own (a fresh encoder, starting with a keyframe), whether the
scene is rendered whole or in chunks, so a chunk is a run of whole segments and the stitched
chunks hold the very packets of the whole render. A chunk boundary may fall on any segment
start, including inside a long `wait` or a long animation.

The `plan` command reports the segments (`units`) of a scene without rasterizing it; the
operator lays chunks out over them (a chunk is a frame range `[startFrame, endFrame)`).

The cache key is a digest of what decides a scene's pixels: its code, class name, quality and
the renderer and Manim versions. The operator computes it to look a scene up; the renderer
computes it from the code it actually rendered and reports it, so a status never claims a key
for code that was not rendered. This module imports neither Manim nor PyAV.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence

SEGMENT_SECONDS = 2  # a play longer than this is cut into segments of this many seconds
MANIM_VERSION = "0.22.0"  # pinned in renderer_image/requirements.txt; a test checks they agree
RENDERER_VERSION = "2"  # bump whenever the renderer's output for the same code can change
CACHE_KEY_LENGTH = 32  # hex characters of sha256 kept: 128 bits
UNITS_BUDGET = 2400  # bytes of the encoded units in a termination message (limit 4096)


def segment_frames(fps: int) -> int:
    """Frames per grid segment at `fps` (the last segment of a play may be shorter)."""
    return max(1, SEGMENT_SECONDS * fps)


def cache_key(
    code: str,
    class_name: str,
    quality: str,
    *,
    renderer_version: str = RENDERER_VERSION,
    manim_version: str = MANIM_VERSION,
) -> str:
    """The scene cache key: equal keys mean the same pixels (frame-identical videos)."""
    payload = json.dumps(
        {
            "code": code,
            "className": class_name,
            "quality": quality,
            "renderer": renderer_version,
            "manim": manim_version,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:CACHE_KEY_LENGTH]


def scene_seed(code: str, class_name: str) -> int:
    """The seed of `random`, numpy's global generator and the string hash of one scene.

    Fixed per scene (from its code), so every chunk and the whole render draw the same numbers.
    """
    digest = hashlib.sha256(f"{class_name}\0{code}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


@dataclasses.dataclass(frozen=True)
class Unit:
    """A run of frames that may start a chunk: one grid segment, or several merged ones."""

    frames: int
    static: bool = False  # a frozen frame repeated (a wait with nothing moving): cheap to render


def encode_units(units: Sequence[Unit]) -> list[list[int]]:
    """Run-length encode: `[[frames, static, repeat], ...]` (a 60-frame play cut in 2 s
    segments at 15 fps is `[[30, 0, 2]]`)."""
    runs: list[list[int]] = []
    for unit in units:
        key = [unit.frames, int(unit.static)]
        if runs and runs[-1][:2] == key:
            runs[-1][2] += 1
        else:
            runs.append([*key, 1])
    return runs


def decode_units(runs: Sequence[Sequence[int]]) -> list[Unit]:
    """Inverse of `encode_units`; `ValueError` on anything malformed."""
    units: list[Unit] = []
    for run in runs:
        if len(run) != 3 or any(not isinstance(v, int) for v in run) or run[0] < 1 or run[2] < 1:
            raise ValueError(f"malformed unit run {run!r}")
        units.extend([Unit(run[0], bool(run[1]))] * run[2])
    return units


def coarsen(units: Sequence[Unit], budget: int = UNITS_BUDGET) -> list[Unit]:
    """Merge neighbouring units until their encoding fits `budget` bytes of JSON.

    Merging only removes possible chunk boundaries, so a coarse plan stays exact.
    """
    current = list(units)
    while len(json.dumps(encode_units(current), separators=(",", ":"))) > budget and len(current) > 1:
        merged = []
        for i in range(0, len(current) - 1, 2):
            a, b = current[i], current[i + 1]
            merged.append(Unit(a.frames + b.frames, a.static and b.static))
        if len(current) % 2:
            merged.append(current[-1])
        current = merged
    return current


def chunk_key(scene_index: int, chunk_index: int) -> str:
    """Store key of one chunk of a scene: `scene-NN.chunk-KK.mp4`."""
    return f"scene-{scene_index:02d}.chunk-{chunk_index:02d}.mp4"


def source_key(prefix: str, key: str) -> str:
    """A combine input kept under another request's prefix (a cache hit): `<prefix>/<key>`."""
    return f"{prefix.strip('/')}/{key}"


def plan_argv(
    *, code_path: str, class_name: str, quality: str, deadline_seconds: int | None = None
) -> list[str]:
    """Arguments of `python -m scenefarm_renderer plan`: count a scene's segments, no pixels."""
    argv = ["plan", "--code", code_path, "--class-name", class_name, "--quality", quality]
    if deadline_seconds is not None:
        argv += ["--deadline", str(deadline_seconds)]
    return argv


def chunk_argv(*, chunk_index: int, start_frame: int, end_frame: int, last: bool = False) -> list[str]:
    """Arguments to append to `render_argv` so it renders frames `[start, end)` as chunk K.

    The `last` chunk runs to the scene's real end and fails unless that is `end`: a plan that
    undercounts the scene cannot cut its video short.
    """
    argv = ["--chunk-index", str(chunk_index), "--frames", f"{start_frame}:{end_frame}"]
    return [*argv, "--last-chunk"] if last else argv


COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"  # set by Kubernetes in each Pod of an Indexed Job


def indexed_chunk_argv(*, edges: Sequence[int]) -> list[str]:
    """Arguments to append to `render_argv` in an Indexed Job: chunk K (from the Pod's
    `JOB_COMPLETION_INDEX`) renders frames `[edges[K], edges[K+1])`."""
    return ["--chunk-layout", ",".join(str(e) for e in edges)]


def stitch_argv(
    *,
    scene_index: int,
    chunk_count: int,
    quality: str,
    expected_frames: int,
    prefix: str,
    store: str,
    store_root: str,
) -> list[str]:
    """Arguments of `python -m scenefarm_renderer stitch`: chunks -> verified `scene-NN.mp4`."""
    argv = ["stitch", "--prefix", prefix, "--store", store, "--store-root", store_root]
    argv += ["--scene-index", str(scene_index), "--quality", quality, "--frames", str(expected_frames)]
    for chunk in range(chunk_count):
        argv += ["--input", chunk_key(scene_index, chunk)]
    return argv
