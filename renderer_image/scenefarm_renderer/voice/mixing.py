"""Putting the voice on the combined video: hold each scene's last frame while its narration
runs on, one AAC track (the scenes' own sound kept, shifted with them), a soft `mov_text`
subtitle track with one cue per sentence, and a check of the result.

The video is never re-encoded here: packets are copied and only their timestamps move (a held
frame is a frame shown longer), so a chunked scene and its whole render stay frame-identical.
All speech is PCM, joined sample-exactly, and encoded to AAC once.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import struct
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.audio.stream
import numpy as np
import numpy.typing as npt

from ..encoding import AUDIO_LAYOUT, AUDIO_RATE
from ..errors import EnvironmentProblem
from .speech import Clip
from .subtitles import Cue

PAUSE_SECONDS = 0.3  # between two sentences of one scene
SILENT_RMS = 1e-3  # float amplitude: quieter than this where a cue is spoken counts as silence
_MOV_TEXT_HEADER = (
    b"[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n[V4+ Styles]\n"
    b"Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
    b"Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, "
    b"MarginL, MarginR, MarginV, Encoding\n"
    b"Style: Default,Sans,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n"
    b"[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
)
_MS = Fraction(1, 1000)
_ISO_639_2 = {
    "en": "eng", "de": "deu", "fr": "fra", "es": "spa", "it": "ita", "pt": "por", "nl": "nld", "sv": "swe",
    "pl": "pol", "ru": "rus", "uk": "ukr", "tr": "tur", "ar": "ara", "hi": "hin", "ja": "jpn", "ko": "kor",
    "zh": "zho", "cs": "ces", "da": "dan", "fi": "fin", "el": "ell", "he": "heb", "hu": "hun", "nb": "nob",
}  # fmt: skip

Floats = npt.NDArray[np.float32]


@dataclasses.dataclass(frozen=True)
class SceneVoice:
    """One scene's spoken sentences, in order."""

    lines: tuple[tuple[str, Clip], ...] = ()


@dataclasses.dataclass(frozen=True)
class Narrated:
    cues: tuple[Cue, ...]
    holds: tuple[float, ...]  # seconds each scene's last frame is held
    duration: float  # of the narrated video


def _resample(clip: Clip) -> Floats:
    """The clip as float samples at AUDIO_RATE (linear interpolation: speech needs no better)."""
    data = clip.samples.astype(np.float32) / 32768.0
    if clip.rate == AUDIO_RATE or len(data) == 0:
        return data
    count = round(len(data) * AUDIO_RATE / clip.rate)
    positions = np.arange(count, dtype=np.float64) * clip.rate / AUDIO_RATE
    return np.asarray(np.interp(positions, np.arange(len(data)), data), dtype=np.float32)


def _scene_track(voice: SceneVoice) -> tuple[Floats, list[tuple[Fraction, Fraction, str]]]:
    """The scene's speech as one float array and each sentence's span (seconds from scene start)."""
    pieces: list[Floats] = []
    spans, at = [], 0
    pause = np.zeros(round(PAUSE_SECONDS * AUDIO_RATE), dtype=np.float32)
    for number, (text, clip) in enumerate(voice.lines):
        if number:
            pieces.append(pause)
            at += len(pause)
        samples = _resample(clip)
        spans.append((Fraction(at, AUDIO_RATE), Fraction(at + len(samples), AUDIO_RATE), text))
        pieces.append(samples)
        at += len(samples)
    return (np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)), spans


def narrate(
    video: Path,
    scene_frames: Sequence[int],
    voices: Sequence[SceneVoice],
    output: Path,
    *,
    language: str = "",
) -> Narrated:
    """Write `video` with the scenes' voices to `output` (the scenes have `scene_frames` frames)."""
    if len(scene_frames) != len(voices):
        raise EnvironmentProblem(f"{len(voices)} narrations for {len(scene_frames)} scenes")
    with av.open(str(video)) as source:
        vstream = source.streams.video[0]
        fps = Fraction(vstream.base_rate or vstream.average_rate or 0)
        if not fps:
            raise EnvironmentProblem(f"{video.name}: no frame rate")
        frame = 1 / fps
        tracks = [_scene_track(v) for v in voices]
        old_starts, new_starts, holds = [Fraction(0)], [Fraction(0)], []
        for frames, (speech, _) in zip(scene_frames, tracks, strict=True):
            length = frames * frame
            spoken = Fraction(len(speech), AUDIO_RATE)
            held = max(0, math.ceil((spoken - length) / frame)) * frame
            holds.append(held)
            old_starts.append(old_starts[-1] + length)
            new_starts.append(new_starts[-1] + length + held)
        edges = list(itertools_accumulate(scene_frames))
        # A first pass over the packet headers: how many, which is shown last (held at the end),
        # and where the video really ends (a stream copy may show a frame fewer than the inputs').
        final, shown = _last_shown(source.demux(vstream))
        total = new_starts[-1] if shown is None else shown + sum(holds, Fraction(0))
        own_audio = None
        if source.streams.audio:  # a second reader: the demux above consumed this one
            with av.open(str(video)) as again:
                own_audio = _decoded_audio(again)
        cues = tuple(
            Cue(float(new_starts[i] + a), float(new_starts[i] + b), text)
            for i, (_, spans) in enumerate(tracks)
            for a, b, text in spans
        )
        mixed = _mix(tracks, own_audio, starts=(old_starts, new_starts), total=total)
        with av.open(str(output), "w", format="mp4") as out:
            vout = out.add_stream_from_template(vstream)
            aout = out.add_stream("aac", rate=AUDIO_RATE, layout=AUDIO_LAYOUT)
            sout = out.add_stream("mov_text")
            sout.codec_context.subtitle_header = _MOV_TEXT_HEADER
            sout.codec_context.time_base = _MS
            sout.time_base = _MS
            for stream in (aout, sout):  # MP4 tags a track with an ISO 639-2 code
                stream.metadata["language"] = _ISO_639_2.get(
                    language.split("-", maxsplit=1)[0].lower(), "und"
                )
            shifts = [n - o for n, o in zip(new_starts, old_starts, strict=True)]
            with av.open(str(video)) as again:  # the second pass copies, one packet at a time
                packets = (
                    p for p in again.demux(again.streams.video[0]) if p.pts is not None and p.dts is not None
                )
                _copy_video(packets, out, vout, fps=fps, ends=edges, shifts=shifts, last=(final, holds[-1]))
            _encode(out, aout, mixed)
            for cue in cues:
                body = cue.text.encode()
                packet = av.Packet(struct.pack(">H", len(body)) + body)
                packet.pts = packet.dts = round(Fraction(cue.start) / _MS)
                packet.duration = max(1, round(Fraction(cue.end) / _MS) - packet.pts)
                packet.time_base = _MS
                packet.stream = sout
                out.mux(packet)
    return Narrated(cues, tuple(float(h) for h in holds), float(total))


def _last_shown(packets: Iterable[Any]) -> tuple[tuple[int, int], Fraction | None]:
    """(the last shown packet's pts, how many packets), and when the last frame's display ends."""
    last_pts, count, shown = 0, 0, None
    for packet in packets:
        if packet.pts is None or packet.dts is None or packet.time_base is None:
            continue  # the flush packet
        last_pts, count = max(last_pts, packet.pts), count + 1
        end = (packet.pts + (packet.duration or 0)) * Fraction(packet.time_base)
        shown = end if shown is None else max(shown, end)
    return (last_pts, count), shown


def itertools_accumulate(values: Sequence[int]) -> list[int]:
    """Frame numbers where each scene ends: [f0, f0+f1, ...]."""
    ends, at = [], 0
    for value in values:
        at += value
        ends.append(at)
    return ends


def _copy_video(
    packets: Iterable[Any],
    out: av.container.OutputContainer,
    target: av.stream.Stream,
    *,
    fps: Fraction,
    ends: list[int],
    shifts: list[Fraction],
    last: tuple[tuple[int, int], Fraction],
) -> None:
    """Each packet moves by its scene's accumulated holds; the last frame shown lasts its hold longer."""
    last_dts = None
    (final_pts, count), last_hold = last
    for index, packet in enumerate(packets):
        assert packet.pts is not None and packet.dts is not None and packet.time_base is not None
        base = Fraction(packet.time_base)
        frame_number = round(packet.pts * base * fps)
        scene = min(bisect.bisect_right(ends, frame_number), len(ends) - 1)
        shift = round(shifts[scene] / base)
        packet.pts += shift
        packet.dts += shift
        if last_dts is not None and packet.dts <= last_dts:
            packet.dts = last_dts + 1
        last_dts = packet.dts
        if last_hold and packet.pts - shift == final_pts:
            packet.duration = (packet.duration or round(1 / (fps * base))) + round(last_hold / base)
        if last_hold and index == count - 1:
            # MP4 keeps one duration per sample in decode order: the stream ends where the last
            # decoded packet ends, which with B-frames is not the frame shown last. It must end
            # where the last shown frame (held) ends.
            shown_end = final_pts + shift + round(1 / (fps * base)) + round(last_hold / base)
            packet.duration = max(packet.duration or 0, shown_end - packet.pts)
        packet.stream = target
        out.mux(packet)


def _decoded_audio(source: av.container.InputContainer) -> Floats:
    """The combined video's own sound as stereo floats at AUDIO_RATE."""
    resampler = av.AudioResampler(format="fltp", layout=AUDIO_LAYOUT, rate=AUDIO_RATE)
    chunks = []
    for decoded in source.decode(audio=0):
        chunks += [f.to_ndarray() for f in resampler.resample(decoded)]
    chunks += [f.to_ndarray() for f in resampler.resample(None)]
    return np.concatenate(chunks, axis=1).astype(np.float32) if chunks else np.zeros((2, 0), np.float32)


def _mix(
    tracks: Sequence[tuple[Floats, object]],
    own: Floats | None,
    *,
    starts: tuple[Sequence[Fraction], Sequence[Fraction]],
    total: Fraction,
) -> Floats:
    """Stereo floats for the whole narrated video: each scene's own sound at its new start, its
    speech from its start; silence in the holds."""
    old_starts, new_starts = starts
    samples = _audio_samples(total)
    mixed = np.zeros((2, samples), dtype=np.float32)
    for index, (speech, _) in enumerate(tracks):
        start = round(new_starts[index] * AUDIO_RATE)
        if own is not None:
            a, b = round(old_starts[index] * AUDIO_RATE), round(old_starts[index + 1] * AUDIO_RATE)
            piece = own[:, a:b][:, : max(0, samples - start)]
            mixed[:, start : start + piece.shape[1]] += piece
        piece1 = speech[: max(0, samples - start)]
        mixed[:, start : start + len(piece1)] += piece1
    return np.clip(mixed, -1.0, 1.0)


def _audio_samples(total: Fraction) -> int:
    """Samples of the track: the AAC frame multiple nearest the video's end, so the audio stream
    ends within half an AAC frame (10.7 ms) of the video, less than a frame at any quality."""
    exact = total * AUDIO_RATE
    return max(1024, round(exact / 1024) * 1024)


def _encode(out: av.container.OutputContainer, stream: av.audio.stream.AudioStream, mixed: Floats) -> None:
    size = stream.codec_context.frame_size or 1024
    for at in range(0, mixed.shape[1], size):
        chunk = np.ascontiguousarray(mixed[:, at : at + size])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=AUDIO_LAYOUT)
        frame.sample_rate = AUDIO_RATE
        frame.pts = at
        frame.time_base = Fraction(1, AUDIO_RATE)
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def verify_narrated(path: Path, cues: Sequence[Cue]) -> list[str]:
    """Problems of a narrated video: the audio stream, its length against the video (one frame),
    sound wherever a cue is spoken, and the subtitle track."""
    from ..media import probe

    info = probe(path)
    problems = []
    frame = 1 / float(info.fps) if info.fps else 1.0
    if info.audio is None:
        return ["the narrated video has no audio stream"]
    if abs(info.audio_duration - info.duration) > frame + 1e-6:
        problems.append(f"audio lasts {info.audio_duration:.3f}s, the video {info.duration:.3f}s")
    with av.open(str(path)) as container:
        subtitles = list(container.streams.subtitles)
        sound = _decoded_audio(container).mean(axis=0)
    if not subtitles or subtitles[0].codec_context.name != "mov_text":
        problems.append("no mov_text subtitle track")
    for cue in cues:
        span = sound[round(cue.start * AUDIO_RATE) : round(cue.end * AUDIO_RATE)]
        rms = float(np.sqrt(np.mean(span.astype(np.float64) ** 2))) if len(span) else 0.0
        if rms < SILENT_RMS:
            problems.append(f"silent where the cue {cue.text[:40]!r} is spoken ({cue.start:.2f}s)")
    return problems
