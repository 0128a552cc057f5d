"""Re-encoding scenes whose streams differ into one normalised H.264 (+ AAC) video."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import av.audio.stream
import av.video.stream
import numpy as np

from .media import MediaInfo

AUDIO_RATE = 48_000
AUDIO_LAYOUT = "stereo"


def reencode(infos: Sequence[MediaInfo], output: Path) -> tuple[Fraction, list[int]]:
    """Write `output` at the largest input's size and fps; return the fps and frames per scene."""
    target = max(infos, key=lambda i: (i.width * i.height, i.fps))
    fps = target.fps
    frames_per_scene = []
    with av.open(str(output), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = target.width, target.height, "yuv420p"
        video.options = {"crf": "20", "preset": "veryfast"}
        video.codec_context.time_base = 1 / fps
        audio = None
        if any(i.audio for i in infos):
            audio = out.add_stream("aac", rate=AUDIO_RATE, layout=AUDIO_LAYOUT)
        pending = np.zeros((2, 0), dtype=np.float32)
        next_frame = 0
        next_sample = 0
        for info in infos:
            count = round(Fraction(info.duration) * fps)
            frames_per_scene.append(count)
            for frame in _resampled_video(info, fps, count, target):
                frame.pts = next_frame
                frame.time_base = 1 / fps
                next_frame += 1
                out.mux(video.encode(frame))
            if audio is not None:
                samples = round(Fraction(count) / fps * AUDIO_RATE)
                pending = np.concatenate([pending, _scene_audio(info, samples)], axis=1)
                pending, next_sample = _encode_audio(out, audio, pending, next_sample, final=False)
        out.mux(video.encode(None))
        if audio is not None:
            _encode_audio(out, audio, pending, next_sample, final=True)
            out.mux(audio.encode(None))
    return fps, frames_per_scene


def _resampled_video(
    info: MediaInfo, fps: Fraction, count: int, target: MediaInfo
) -> Iterator[av.VideoFrame]:
    """`count` frames at `fps`: for each output time, the last input frame shown at that time."""
    with av.open(str(info.path)) as source:
        decoded = source.decode(video=0)
        current = next(decoded, None)
        upcoming = next(decoded, None)
        for index in range(count):
            at = Fraction(index) / fps
            while upcoming is not None and upcoming.time is not None and upcoming.time <= at + 1e-6:
                current, upcoming = upcoming, next(decoded, None)
            if current is None:
                return
            yield current.reformat(width=target.width, height=target.height, format="yuv420p")


def _scene_audio(info: MediaInfo, samples: int) -> np.ndarray:
    """Exactly `samples` stereo float samples: the scene's audio, padded with silence or cut."""
    if info.audio is None:
        return np.zeros((2, samples), dtype=np.float32)
    resampler = av.AudioResampler(format="fltp", layout=AUDIO_LAYOUT, rate=AUDIO_RATE)
    chunks = []
    with av.open(str(info.path)) as source:
        for frame in source.decode(audio=0):
            chunks += [f.to_ndarray() for f in resampler.resample(frame)]
        chunks += [f.to_ndarray() for f in resampler.resample(None)]
    data = np.concatenate(chunks, axis=1) if chunks else np.zeros((2, 0), dtype=np.float32)
    if data.shape[1] < samples:
        data = np.pad(data, ((0, 0), (0, samples - data.shape[1])))
    return data[:, :samples].astype(np.float32)


def _encode_audio(
    out: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    pending: np.ndarray,
    next_sample: int,
    *,
    final: bool,
) -> tuple[np.ndarray, int]:
    size = stream.codec_context.frame_size or 1024
    while pending.shape[1] >= size or (final and pending.shape[1] > 0):
        chunk, pending = pending[:, :size], pending[:, size:]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout=AUDIO_LAYOUT)
        frame.sample_rate = AUDIO_RATE
        frame.pts = next_sample
        frame.time_base = Fraction(1, AUDIO_RATE)
        next_sample += chunk.shape[1]
        out.mux(stream.encode(frame))
    return pending, next_sample
