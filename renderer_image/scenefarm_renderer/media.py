"""Probing and verifying MP4 files with PyAV (the ffmpeg command line may be absent)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from scenefarm_contract.renderer import Quality

from .errors import EnvironmentProblem


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    codec: str
    sample_rate: int
    channels: int
    layout: str
    extradata: bytes


@dataclasses.dataclass(frozen=True)
class MediaInfo:
    """What combine and verification need to know about one MP4."""

    path: Path
    codec: str
    width: int
    height: int
    fps: Fraction
    pix_fmt: str
    frames: int  # counted from the packets, not trusted from the header
    duration: float  # seconds, end of the last video frame
    extradata: bytes  # codec parameters (SPS/PPS): stream copy needs them equal
    audio: AudioInfo | None
    audio_duration: float

    def video_signature(self) -> tuple[object, ...]:
        return (self.codec, self.width, self.height, self.fps, self.pix_fmt, self.extradata)


def probe(path: Path, *, count_packets: bool = True) -> MediaInfo:
    """Read the streams of `path` and count its video frames; `EnvironmentProblem` names a bad file.

    Without `count_packets` frames and durations come from the container header
    (cheap, not verified): enough to decide how to combine.
    """
    if not path.is_file():
        raise EnvironmentProblem(f"{path.name}: file not found ({path})")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise EnvironmentProblem(f"{path.name}: no video stream")
            video = container.streams.video[0]
            audio_stream = container.streams.audio[0] if container.streams.audio else None
            frames, video_end = 0, 0.0
            audio_end = 0.0
            streams = [video] + ([audio_stream] if audio_stream else [])
            if not count_packets:
                frames = video.frames
                if video.duration and video.time_base:
                    video_end = float(video.duration * video.time_base)
                if audio_stream is not None and audio_stream.duration and audio_stream.time_base:
                    audio_end = float(audio_stream.duration * audio_stream.time_base)
            for packet in container.demux(streams) if count_packets else ():
                if packet.pts is None or packet.time_base is None:
                    continue  # the flush packet
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                if packet.stream is video:
                    frames += 1
                    video_end = max(video_end, end)
                else:
                    audio_end = max(audio_end, end)
            ctx = video.codec_context
            # The nominal rate (r_frame_rate): Manim joins its partial movies with
            # timestamps a few ticks off the grid, so the average rate is 15.0012, not 15.
            fps = Fraction(video.base_rate or video.average_rate or 0)
            audio = None
            if audio_stream is not None:
                actx = audio_stream.codec_context
                audio = AudioInfo(
                    codec=actx.name,
                    sample_rate=actx.sample_rate,
                    channels=actx.channels,
                    layout=actx.layout.name,
                    extradata=bytes(actx.extradata or b""),
                )
            return MediaInfo(
                path=path,
                codec=ctx.name,
                width=ctx.width,
                height=ctx.height,
                fps=fps,
                pix_fmt=ctx.pix_fmt or "",
                frames=frames,
                duration=video_end,
                extradata=bytes(ctx.extradata or b""),
                audio=audio,
                audio_duration=audio_end,
            )
    except av.FFmpegError as exc:
        raise EnvironmentProblem(f"{path.name}: not a decodable video: {exc}") from exc


def poster(video: Path, dest: Path, frames: int) -> Path:
    """The frame in the middle of `video` (of `frames` frames) as a PNG at `dest`: a still that
    shows what the clip is about (the first is often empty, the last often faded out).

    Decoded from the keyframe before it (a segment's first frame), not from the start."""
    wanted = max(0, frames // 2)
    try:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            packets = [(p.pts, p.is_keyframe) for p in container.demux(stream) if p.pts is not None]
            shown = sorted(pts for pts, _ in packets)  # presentation order: the i-th decoded frame
            if wanted >= len(shown):
                raise EnvironmentProblem(f"{video.name}: no poster frame: no frame {wanted}")
            target = shown[wanted]
            start = max((pts for pts, key in packets if key and pts <= target), default=shown[0])
            container.seek(start, stream=stream)  # back to that keyframe
            for frame in container.decode(stream):
                if frame.pts == target:
                    frame.to_image().save(dest, format="PNG")  # type: ignore[no-untyped-call]
                    return dest
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise EnvironmentProblem(f"{video.name}: no poster frame: {exc}") from exc
    raise EnvironmentProblem(f"{video.name}: no poster frame: no frame {wanted}")


def decodes(path: Path) -> bool:
    """True when every video packet of `path` decodes (a header can look fine over broken data)."""
    try:
        with av.open(str(path)) as container:
            for _ in container.decode(video=0):
                pass
    except av.FFmpegError:
        return False
    return True


def decodes_sample(path: Path) -> bool:
    """True when every keyframe of `path` decodes, and every frame from the last keyframe on.

    What verification decodes: each segment starts with a keyframe, so the sample holds every
    segment's first frame and the whole last segment, up to the video's last frame; the frames
    between are demuxed and counted (`probe`), not decoded again. A decoder that drops a frame
    of the sample fails it as an error does."""
    try:
        with av.open(str(path)) as container:
            keys = [i for i, p in enumerate(_packets(container)) if p.is_keyframe]
        if not keys:
            return False
        expected, decoded = len(keys) - 1, 0
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            codec = stream.codec_context
            codec.skip_frame = "NONKEY"
            for index, packet in enumerate(_packets(container)):
                if index == keys[-1]:
                    codec.skip_frame = "DEFAULT"  # the last segment: every frame
                expected += index >= keys[-1]
                decoded += len(codec.decode(packet))
            decoded += len(codec.decode(None))
    except av.FFmpegError:
        return False
    return decoded == expected


def _packets(container: Any) -> Iterator[Any]:
    """The video stream's packets in decode order, the flush packet left out."""
    return (p for p in container.demux(container.streams.video[0]) if p.pts is not None)


def verify_scene(info: MediaInfo, quality: Quality) -> list[str]:
    """Problems of a rendered scene against its quality; empty when it is good."""
    problems = []
    if info.frames <= 0 or info.duration <= 0:
        problems.append(f"empty video: {info.frames} frames, {info.duration:.3f}s")
    if (info.width, info.height) != (quality.width, quality.height):
        problems.append(f"resolution {info.width}x{info.height}, expected {quality.width}x{quality.height}")
    if info.fps != quality.fps:
        problems.append(f"{float(info.fps):g} fps, expected {quality.fps}")
    expected_frames = round(info.duration * quality.fps)
    if abs(info.frames - expected_frames) > 1:
        problems.append(f"{info.frames} frames for {info.duration:.3f}s at {quality.fps} fps")
    if not decodes_sample(info.path):
        problems.append("the video does not decode")
    return problems


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        for block in iter(lambda: src.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()
