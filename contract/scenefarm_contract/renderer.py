"""The renderer contract, shared by the renderer and the operator.

It fixes the exit classes, the qualities, the artifact layout, the termination
message and the command lines of the `render` and `combine` commands.  It must
stay importable without Manim or PyAV: the operator imports it.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Sequence
from typing import Any

TERMINATION_LOG_ENV = "SCENEFARM_TERMINATION_LOG"
DEFAULT_TERMINATION_LOG = "/dev/termination-log"
TERMINATION_MESSAGE_LIMIT = 4096  # bytes; the kubelet truncates longer messages
VIDEO_KEY = "video.mp4"
# `logTail`: the last lines the renderer wrote to its log (progress, what it stored), bounded so
# the message keeps room for the rest (the status and the web row copy it as is).
LOG_TAIL_LINES = 8
LOG_TAIL_CHARS = 600


class ExitClass(enum.IntEnum):
    """How a renderer process ended; the process exit code."""

    OK = 0
    CODE_REJECTED = 10  # syntax or code policy: fixable by rewriting the code
    CODE_RAISED = 11  # the scene raised while rendering: fixable by rewriting the code
    ENVIRONMENT = 20  # missing LaTeX, fonts, a broken image: never sent to an LLM
    TRANSIENT = 30  # storage or network: retry as is
    OOM_KILLED = 137  # told apart from the Pod status (reason OOMKilled), not written by us

    @property
    def fixable(self) -> bool:
        return self in (ExitClass.CODE_REJECTED, ExitClass.CODE_RAISED)

    @classmethod
    def from_exit_code(cls, code: int | None) -> ExitClass | None:
        try:
            return cls(code) if code is not None else None
        except ValueError:
            return None


@dataclasses.dataclass(frozen=True)
class Quality:
    name: str
    width: int
    height: int
    fps: int
    manim_flag: str  # manim's own quality name


QUALITIES: dict[str, Quality] = {
    q.name: q
    for q in (
        Quality("low", 854, 480, 15, "low_quality"),
        Quality("medium", 1280, 720, 30, "medium_quality"),
        Quality("high", 1920, 1080, 60, "high_quality"),
        Quality("fourk", 3840, 2160, 60, "fourk_quality"),
    )
}


def artifact_prefix(namespace: str, name: str, uid: str) -> str:
    """`<namespace>/<name>-<uid prefix>`: unique per object, readable by people."""
    return f"{namespace}/{name}-{uid[:8]}"


def scene_key(index: int) -> str:
    return f"scene-{index:02d}.mp4"


def clip_log_tail(text: str) -> str:
    """`text` cut at the start to LOG_TAIL_CHARS characters (what the status's `logTail` allows)."""
    return text if len(text) <= LOG_TAIL_CHARS else "…" + text[len(text) - LOG_TAIL_CHARS + 1 :]


@dataclasses.dataclass
class TerminationMessage:
    """The JSON a renderer writes on exit; the operator reads it from Pod status."""

    exitClass: int
    artifact: str | None = None
    durationSeconds: float | None = None
    frames: int | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    sizeBytes: int | None = None
    sha256: str | None = None
    renderSeconds: float | None = None
    cpuSeconds: float | None = None  # CPU time of the renderer and the children it waited for
    errorTail: str | None = None
    logTail: str | None = None  # the last lines of the log (at most LOG_TAIL_LINES / LOG_TAIL_CHARS)
    # Chunks and the cache (see `chunks`); absent from messages of older renderers.
    cacheKey: str | None = None  # digest of the code, class, quality and versions actually rendered
    seed: int | None = None  # the scene's fixed seed of random, numpy and the string hash
    chunk: int | None = None  # chunk index, when this Pod rendered one chunk
    startFrame: int | None = None  # the chunk's frames [startFrame, endFrame) of the scene
    endFrame: int | None = None
    units: list[list[int]] | None = None  # `plan`: the scene's segments, run-length encoded
    replaySeconds: float | None = None  # time spent replaying frames before the chunk
    # A chunk's replayed plays: skipped to their end state (nothing observes their frames) or
    # stepped frame by frame, and why the first stepped one was (e.g. "TracedPath has updaters").
    replayFastForwarded: int | None = None
    replayStepped: int | None = None
    replayStepReason: str | None = None
    poster: str | None = None  # URI of a still (PNG) of the video, stored beside it
    subtitles: str | None = None  # URI of the WebVTT subtitles of a narrated video, stored beside it
    subtitlesSha256: str | None = None  # of that WebVTT file (`scenefarm download --subtitles` checks it)

    def to_json(self, limit: int = TERMINATION_MESSAGE_LIMIT) -> str:
        """Serialise, cutting the start of `errorTail`, then of `logTail` (first cut to
        LOG_TAIL_CHARS), so the whole fits in `limit` bytes."""
        fields = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        if self.logTail:
            fields["logTail"] = clip_log_tail(self.logTail)
        text = json.dumps(fields, separators=(",", ":"))
        for key in ("errorTail", "logTail"):
            tail = fields.get(key) or ""
            while len(text.encode()) > limit and tail:
                overflow = len(text.encode()) - limit
                rest = tail[max(overflow + 8, len(tail) // 8, 2) :]
                tail = "…" + rest if rest else ""
                fields[key] = tail
                text = json.dumps(fields, separators=(",", ":"))
        return text

    @classmethod
    def from_json(cls, text: str | None) -> TerminationMessage | None:
        """Parse a message; None for anything that is not ours (empty, truncated, foreign)."""
        try:
            data: Any = json.loads(text or "")
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("exitClass"), int):
            return None
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def render_argv(
    *,
    code_path: str,
    class_name: str,
    quality: str,
    scene_index: int,
    prefix: str,
    store: str,
    store_root: str,
    deadline_seconds: int | None = None,
) -> list[str]:
    """Arguments (after the entrypoint) of `python -m scenefarm_renderer render`.

    A chunk appends `chunks.chunk_argv(...)`; without it the whole scene is rendered.
    """
    argv = [
        "render",
        "--code", code_path,
        "--class-name", class_name,
        "--quality", quality,
        "--scene-index", str(scene_index),
        "--prefix", prefix,
        "--store", store,
        "--store-root", store_root,
    ]  # fmt: skip
    if deadline_seconds is not None:
        argv += ["--deadline", str(deadline_seconds)]
    return argv


def combine_argv(
    *,
    scene_keys: Sequence[str],
    prefix: str,
    store: str,
    store_root: str,
    sha256s: Sequence[str | None] = (),
) -> list[str]:
    """Arguments of `python -m scenefarm_renderer combine`: scene keys in order -> `video.mp4`.
    `sha256s` (in the same order): what the status recorded for each input; the combine refuses
    an input whose file no longer has it (`INPUT_MISMATCH`)."""
    argv = ["combine", "--prefix", prefix, "--store", store, "--store-root", store_root]
    argv += ["--output", VIDEO_KEY]
    for key in scene_keys:
        argv += ["--input", key]
    for key, digest in zip(scene_keys, sha256s, strict=False):
        if digest:
            argv += ["--sha256", f"{key}={digest}"]
    return argv


def clean_argv(
    *, prefix: str, store: str, store_root: str, keep: Sequence[str], also: Sequence[str], keys: Sequence[str]
) -> list[str]:
    """Arguments of `python -m scenefarm_renderer clean`: remove a deleted request's files but
    `keep`; remove each `also` (`<prefix>/<key>`) too; `keys`: the files a store that cannot be
    listed (Appwrite Storage) holds for the request."""
    argv = ["clean", "--prefix", prefix, "--store", store, "--store-root", store_root]
    for flag, values in (("--keep", keep), ("--also", also), ("--key", keys)):
        for value in values:
            argv += [flag, value]
    return argv


INPUT_MISMATCH = "InputMismatch"  # the errorTail's first word when a combine input is not what was recorded
