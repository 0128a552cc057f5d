"""The `render` and `plan` commands: check, render in a limited child, verify, store.

`render` makes the whole scene (`scene-NN.mp4`) or, with a frame range, one chunk of it
(`scene-NN.chunk-KK.mp4`, see `replaying`); `plan` runs the scene without pixels and reports
its segments. Both seed `random`, numpy and the string hash with the scene's own seed.

Classification of the child's end (each maps to exactly one exit class):

- exit 0 and a verified MP4                    -> 0, stored as `scene-NN.mp4`
- the child's own class (10/11/20) + its tail  -> that class
- the deadline passed (process group killed)   -> 11 "deadline exceeded after Ns"
- MemoryError, or a crash by signal            -> 11 "memory limit exceeded ..." (the
  address-space limit makes allocations fail; a native library may abort instead)
- SIGXCPU / SIGXFSZ                            -> 11 CPU time / file size limit exceeded
- an MP4 that fails verification               -> 20 (the image renders wrong videos)
- the store cannot be written                  -> 30
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from scenefarm_contract.chunks import cache_key, chunk_key, scene_seed, segment_frames
from scenefarm_contract.policy import check_code
from scenefarm_contract.renderer import QUALITIES, ExitClass, TerminationMessage, scene_key
from scenefarm_renderer.storage.store import ArtifactStore

from .errors import CodeRaised, CodeRejected, EnvironmentProblem, RendererError
from .media import poster, probe, verify_scene
from .sandbox import Limits, Outcome, child_environment, run_limited
from .termination import LOG, say, success_message

PROGRESS_LOG = "progress.log"  # the child's copy of its progress lines, in its directory
REASON_CHARS = 160  # of a chunk's `replayStepReason` in the termination message


@dataclasses.dataclass(frozen=True)
class RenderRequest:
    code: Path
    class_name: str
    quality: str
    scene_index: int
    limits: Limits
    chunk_index: int | None = None  # with `frames`: render only these frames, as this chunk
    frames: tuple[int, int] | None = None
    last: bool = False  # the last chunk renders to the scene's end and checks it ends at frames[1]


def render_scene(request: RenderRequest, store: ArtifactStore) -> TerminationMessage:
    """Render one scene (or one chunk of it) into `store`; raise a `RendererError` for every failure."""
    started = time.monotonic()
    source = _checked_source(request)
    quality = QUALITIES[request.quality]
    options: dict[str, object] = {}
    if request.frames is not None:
        start, end = request.frames
        options = {"start": start, "end": None, "last": end} if request.last else {"start": start, "end": end}
    what = "" if request.frames is None else f", frames {request.frames[0]}:{request.frames[1]}"
    say(f"{_label(request)}: rendering at {request.quality} quality ({quality.fps} fps{what})")
    with tempfile.TemporaryDirectory(prefix="scenefarm-render-") as tmp:
        work = Path(tmp)
        report = _run_child(request, source, work, options)
        movie = work / "scene.mp4"
        info = probe(movie)
        problems = verify_scene(info, quality)
        if request.frames is not None and info.frames != request.frames[1] - request.frames[0]:
            problems.append(
                f"{info.frames} frames, the chunk is frames {request.frames[0]}:{request.frames[1]}"
            )
        if problems:
            raise EnvironmentProblem("the rendered video failed verification: " + "; ".join(problems))
        message = success_message(info, movie, started)
        key = scene_key(request.scene_index)
        if request.frames is not None:
            key = chunk_key(request.scene_index, request.chunk_index or 0)
            message.chunk, (message.startFrame, message.endFrame) = request.chunk_index or 0, request.frames
            message.replaySeconds = _number(report.get("replaySeconds"))
            replay = report.get("replay")
            if isinstance(replay, dict):
                message.replayFastForwarded = _integer(replay.get("fastForwarded"))
                message.replayStepped = _integer(replay.get("stepped"))
                reason = replay.get("stepReason")
                message.replayStepReason = str(reason)[:REASON_CHARS] if reason else None
        message.cacheKey = cache_key(source, request.class_name, request.quality)
        message.seed = scene_seed(source, request.class_name)
        message.artifact = store.put(movie, key)
        if request.frames is None:  # a chunk is no scene of its own: no poster
            message.poster = store_poster(store, movie, key, info.frames)
    seconds = time.monotonic() - started
    video = f"{info.duration:.1f} s of video, " if info.duration else ""
    took = f"rendered in {seconds:.1f} s"
    say(f"{_label(request)}: stored {message.artifact} ({info.frames} frames, {video}{took})")
    return message


def plan_scene(request: RenderRequest) -> TerminationMessage:
    """Count the scene's frames and segments without rasterizing (the `plan` command)."""
    started = time.monotonic()
    source = _checked_source(request)
    fps = QUALITIES[request.quality].fps
    with tempfile.TemporaryDirectory(prefix="scenefarm-plan-") as tmp:
        report = _run_child(request, source, Path(tmp), {"plan": True})
    frames = int(report.get("framesSeen", 0))  # type: ignore[call-overload]
    return TerminationMessage(
        exitClass=ExitClass.OK,
        frames=frames,
        durationSeconds=round(frames / fps, 3),
        fps=float(fps),
        units=report.get("units"),  # type: ignore[arg-type]
        cacheKey=cache_key(source, request.class_name, request.quality),
        seed=scene_seed(source, request.class_name),
        renderSeconds=round(time.monotonic() - started, 3),
    )


def _checked_source(request: RenderRequest) -> str:
    try:
        source = request.code.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvironmentProblem(f"cannot read the scene code {request.code}: {exc}") from exc
    violations = check_code(source, request.class_name)
    if violations:
        raise CodeRejected("the scene code was rejected:\n" + "\n".join(violations))
    return source


def _run_child(
    request: RenderRequest, source: str, work: Path, options: dict[str, object]
) -> dict[str, object]:
    """Run the limited child on `source` in `work`; its report, or the error its end means."""
    quality = QUALITIES[request.quality]
    seed = scene_seed(source, request.class_name)
    options = {**options, "seed": seed, "grid": segment_frames(quality.fps)}
    (work / "scene.py").write_text(source, encoding="utf-8")
    # -s -P is -I without -E: the environment is an allowlist we build, and PYTHONHASHSEED
    # must reach the child so every chunk hashes strings (orders sets) alike.
    argv = [
        sys.executable, "-s", "-P", "-m", "scenefarm_renderer._child",
        "scene.py", request.class_name, quality.manim_flag, "scene.mp4", "result.json", json.dumps(options),
    ]  # fmt: skip
    env = child_environment(os.environ, work) | {"PYTHONHASHSEED": str(seed)}
    # The child writes its progress lines straight into this process's stdout (the Pod's log),
    # and a copy into PROGRESS_LOG, whose tail goes into the termination message.
    sys.stdout.flush()
    progress = os.dup(sys.stdout.fileno())
    extra = {"progressFd": progress, "label": _label(request), "progressLog": PROGRESS_LOG}
    argv[-1] = json.dumps(options | extra)
    try:
        outcome = run_limited(argv, work, env, request.limits, pass_fds=(progress,))
    finally:
        os.close(progress)
        LOG.add(_last_lines(work / PROGRESS_LOG))
    _raise_for_child(outcome, work / "result.json", request.limits)
    try:
        report: dict[str, object] = json.loads((work / "result.json").read_text())
    except (OSError, ValueError) as exc:
        raise EnvironmentProblem(f"the renderer child left no readable result: {exc}") from exc
    return report


def store_poster(store: ArtifactStore, video: Path, key: str, frames: int) -> str | None:
    """A poster frame stored beside the video (`scene-02.mp4` -> `scene-02.png`); its URI.

    A nicety: when it cannot be made or stored, the render still succeeds, without one."""
    still = video.with_suffix(".png")
    try:
        return store.put(poster(video, still, frames), poster_key(key))
    except RendererError as exc:
        say(f"no poster for {key}: {exc.message}")
        return None


def poster_key(video_key: str) -> str:
    return video_key.rsplit(".", 1)[0] + ".png"


def _last_lines(path: Path, keep: int = 4096) -> list[str]:
    """The whole lines among the last `keep` bytes of the child's progress copy; none without one."""
    try:
        with path.open("rb") as log:
            size = log.seek(0, os.SEEK_END)
            log.seek(max(0, size - keep))
            lines = log.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    return lines[1:] if size > keep else lines  # the first may be cut


def _label(request: RenderRequest) -> str:
    label = f"scene {request.scene_index} ({request.class_name})"
    return label if request.chunk_index is None else f"{label} chunk {request.chunk_index}"


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _raise_for_child(outcome: Outcome, result_file: Path, limits: Limits) -> None:
    if outcome.timed_out:
        raise CodeRaised(
            f"deadline exceeded after {limits.deadline_seconds:g}s: the scene did not finish rendering "
            "(an endless loop, or far too many frames)"
        )
    reported = _read_result(result_file)
    if outcome.returncode == 0 and reported is not None and reported[0] == ExitClass.OK:
        return
    if reported is not None and reported[0] != ExitClass.OK:
        exit_class, tail = reported
        raise _error_for(exit_class, tail)
    raise _error_for_crash(outcome, limits)


def _read_result(path: Path) -> tuple[ExitClass, str] | None:
    try:
        data = json.loads(path.read_text())
        return ExitClass(data["exitClass"]), str(data.get("errorTail", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _error_for(exit_class: ExitClass, tail: str) -> RendererError:
    kinds: dict[ExitClass, type[RendererError]] = {
        ExitClass.CODE_REJECTED: CodeRejected,
        ExitClass.CODE_RAISED: CodeRaised,
    }
    return kinds.get(exit_class, EnvironmentProblem)(tail)


def _error_for_crash(outcome: Outcome, limits: Limits) -> RendererError:
    sig = outcome.signal
    log = outcome.log_tail[-1500:]
    if sig == signal.SIGXCPU:
        return CodeRaised(f"CPU time limit exceeded ({limits.cpu_seconds}s of CPU)")
    if sig == signal.SIGXFSZ:
        return CodeRaised(f"file size limit exceeded ({limits.file_mib} MiB)")
    if "MemoryError" in log or "Cannot allocate memory" in log or "std::bad_alloc" in log:
        return CodeRaised(f"memory limit exceeded ({limits.memory_mib} MiB)\n{log}")
    if sig in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS):
        # Under an address-space limit a native library that cannot allocate
        # usually aborts or faults: attribute it to the scene's memory use.
        return CodeRaised(
            f"memory limit exceeded ({limits.memory_mib} MiB): renderer died with {sig.name}\n{log}"
        )
    return EnvironmentProblem(f"the renderer child exited with {outcome.returncode} without a result\n{log}")
