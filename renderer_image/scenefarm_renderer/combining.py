"""The `combine` command: concatenate scene MP4s in order into one verified video.

When every input has the same video parameters (codec, size, fps, pixel format,
codec extradata) and the same audio layout, packets are copied as they are
(`copy`): no decoding, so combining costs about as much as reading the bytes.
Otherwise every scene is decoded and re-encoded (`reencode`) to the largest
input's size and frame rate; if any scene has audio, scenes without it get
silence of their own length, so no audio is dropped or shifted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import av.container
import av.stream

from scenefarm_contract.narration import Narration
from scenefarm_contract.renderer import INPUT_MISMATCH, TerminationMessage
from scenefarm_renderer.storage.store import ArtifactStore

from .encoding import reencode
from .errors import EnvironmentProblem
from .media import MediaInfo, probe
from .termination import success_message

Mode = Literal["copy", "reencode"]


@dataclasses.dataclass(frozen=True)
class CombineResult:
    mode: Mode
    output: MediaInfo
    expected_frames: int
    expected_duration: float
    scene_frames: tuple[int, ...] = ()  # each input's frames in the output (where narration goes)


def combine(inputs: Sequence[Path], output: Path) -> CombineResult:
    """Concatenate `inputs` into `output` and verify it; raise `EnvironmentProblem` naming a bad input."""
    if not inputs:
        raise EnvironmentProblem("combine needs at least one --input")
    headers = [probe(path, count_packets=False) for path in inputs]
    if streams_match(headers):
        # One pass: the copy itself counts each input's frames and duration.
        infos = _copy(headers, output)
        mode: Mode = "copy"
        expected_frames = sum(i.frames for i in infos)
        expected_duration = sum(i.duration for i in infos)
        scene_frames = tuple(i.frames for i in infos)
    else:
        infos = [probe(path) for path in inputs]
        fps, frames_per_scene = reencode(infos, output)
        mode = "reencode"
        expected_frames = sum(frames_per_scene)
        scene_frames = tuple(frames_per_scene)
        expected_duration = float(sum(Fraction(n) / fps for n in frames_per_scene))
    result = CombineResult(mode, probe(output), expected_frames, expected_duration, scene_frames)
    problems = verify_combined(result, infos)
    if problems:
        raise EnvironmentProblem(f"the combined video failed verification ({mode}): " + "; ".join(problems))
    return result


def streams_match(infos: Sequence[MediaInfo]) -> bool:
    first = infos[0]
    return all(
        info.video_signature() == first.video_signature() and info.audio == first.audio for info in infos
    )


def verify_combined(result: CombineResult, infos: Sequence[MediaInfo]) -> list[str]:
    """Duration and frames equal the sums of the inputs, within one frame per scene."""
    out = result.output
    problems = []
    if abs(out.frames - result.expected_frames) > len(infos):
        problems.append(f"{out.frames} frames, expected {result.expected_frames}")
    frame = 1 / float(out.fps) if out.fps else 1.0
    tolerance = frame * len(infos) + 1e-6
    if abs(out.duration - result.expected_duration) > tolerance:
        problems.append(f"{out.duration:.3f}s, expected {result.expected_duration:.3f}s")
    if abs(out.duration - sum(i.duration for i in infos)) > tolerance:
        problems.append(f"{out.duration:.3f}s, the scenes last {sum(i.duration for i in infos):.3f}s")
    if any(i.audio for i in infos):
        if out.audio is None:
            problems.append("the audio track was lost")
        elif out.audio_duration < out.duration - tolerance:
            problems.append(f"audio lasts {out.audio_duration:.3f}s of {out.duration:.3f}s")
    return problems


def _copy(infos: Sequence[MediaInfo], output: Path) -> list[MediaInfo]:
    """Remux packets in order, shifting each scene's timestamps to start where the last ended.

    Returns the inputs with frames and durations as counted while copying.
    """
    counted = []
    with av.open(str(infos[0].path)) as template, av.open(str(output), "w", format="mp4") as out:
        targets: list[av.stream.Stream] = [out.add_stream_from_template(template.streams.video[0])]
        if template.streams.audio:
            targets.append(out.add_stream_from_template(template.streams.audio[0]))
        offset = Fraction(0)  # seconds: one timeline for all streams keeps audio in sync
        last_dts: dict[int, int] = {}
        for info in infos:
            seen = _copy_one(info.path, out, targets, offset, last_dts)
            counted.append(
                dataclasses.replace(
                    info, frames=seen.frames, duration=float(seen.ends[0]), audio_duration=float(seen.ends[1])
                )
            )
            offset += max(seen.ends)
    return counted


@dataclasses.dataclass
class _Seen:
    frames: int = 0
    ends: list[Fraction] = dataclasses.field(default_factory=lambda: [Fraction(0), Fraction(0)])


def _copy_one(
    path: Path,
    out: av.container.OutputContainer,
    targets: list[av.stream.Stream],
    offset: Fraction,
    last_dts: dict[int, int],
) -> _Seen:
    seen = _Seen()
    with av.open(str(path)) as source:
        streams: list[av.stream.Stream] = [source.streams.video[0]]
        if len(targets) > 1:
            streams.append(source.streams.audio[0])
        for packet in source.demux(streams):
            if packet.dts is None or packet.pts is None or packet.time_base is None:
                continue
            index = streams.index(packet.stream)
            time_base = Fraction(packet.time_base)
            seen.frames += index == 0
            seen.ends[index] = max(seen.ends[index], (packet.pts + (packet.duration or 0)) * time_base)
            shift = round(offset / time_base)
            # Decode order must stay strictly increasing across the seam.
            previous = last_dts.get(index)
            if previous is not None and packet.dts + shift <= previous:
                shift = previous + 1 - packet.dts
            packet.pts += shift
            packet.dts += shift
            last_dts[index] = packet.dts
            packet.stream = targets[index]
            out.mux(packet)
    return seen


def combine_into_store(
    store: ArtifactStore,
    keys: Sequence[str],
    output_key: str,
    sources: Callable[[str], tuple[ArtifactStore, str]] | None = None,
    expected: Mapping[str, str] | None = None,
    *,
    narration: Narration | None = None,
) -> TerminationMessage:
    """Fetch the scene keys from the store, verify each against the sha256 the status recorded
    (`expected`, by key), combine, verify and store the result.

    `sources` resolves an input to the store and key it lives under (another request's
    prefix, for a scene reused from the cache); without it every input is in `store`.
    `narration` (when it speaks): the voice and subtitles go on the combined video (voice/).
    """
    from .rendering import store_poster  # here: the render child joins segments with `combine`

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="scenefarm-combine-") as tmp:
        work = Path(tmp)
        local = []
        for index, key in enumerate(keys):
            path = work / f"in-{index:03d}-{Path(key).name}"
            source, source_key = sources(key) if sources else (store, key)
            source.get(source_key, path)
            _verify(key, path, (expected or {}).get(key))
            local.append(path)
        output = work / "combined.mp4"
        try:
            result = combine(local, output)
        except EnvironmentProblem as exc:
            # Name the store key, not the local copy.
            for key, path in zip(keys, local, strict=True):
                exc.message = exc.message.replace(path.name, key)
            raise
        print(f"combine: {result.mode} of {len(keys)} scenes", file=sys.stderr)
        voiced = None
        if narration is not None and narration.speaks:
            from .voice.voiceover import voice_over

            narrated = work / "narrated.mp4"
            voiced = voice_over(store, narration, output, result.scene_frames, narrated)
            output, result = narrated, dataclasses.replace(result, output=probe(narrated))
        message = success_message(result.output, output, started)
        if voiced is not None:
            message.subtitles, message.subtitlesSha256 = voiced.subtitles, voiced.subtitles_sha256
        message.artifact = store.put(output, output_key)
        message.poster = store_poster(store, output, output_key, result.output.frames)
    return message


def _verify(key: str, path: Path, expected: str | None) -> None:
    """The input is the file the status recorded, or the combine stops (class 20, no retry)."""
    if not expected:
        return
    digest = hashlib.sha256()
    with path.open("rb") as src:
        for block in iter(lambda: src.read(1024 * 1024), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise EnvironmentProblem(
            f"{INPUT_MISMATCH}: {key}: its sha256 is {digest.hexdigest()}, not the {expected} recorded "
            f"when it was rendered (the file was replaced since); it is not combined"
        )
