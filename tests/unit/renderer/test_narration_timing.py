"""The narrated track ends with the video it is laid on, also when the combined video shows a
frame fewer than its inputs counted (a stream copy may; the combine accepts one frame per scene)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from scenefarm_renderer.media import probe
from scenefarm_renderer.voice.mixing import SceneVoice, narrate, verify_narrated
from scenefarm_renderer.voice.speech import Clip

from .conftest import make_clip


def voice(seconds: float) -> SceneVoice:
    samples = (0.2 * 32767 * np.sin(np.arange(int(24000 * seconds)) / 7)).astype(np.int16)
    return SceneVoice(lines=(("Spoken.", Clip(samples, 24000)),))


def test_the_audio_ends_with_the_video_when_the_inputs_counted_a_frame_more(tmp_path: Path) -> None:
    video = make_clip(tmp_path / "combined.mp4", frames=22)  # the inputs counted 8 + 15 = 23
    narrated = narrate(video, (8, 15), (voice(0.2), voice(0.3)), tmp_path / "narrated.mp4")

    info = probe(tmp_path / "narrated.mp4")
    assert info.frames == 22
    assert abs(info.audio_duration - info.duration) <= 1 / 15
    assert abs(narrated.duration - info.duration) <= 1 / 15
    assert verify_narrated(tmp_path / "narrated.mp4", narrated.cues) == []


# Two Manim scenes (3 and 4 frames at 15 fps, `self.wait(0.2)` and `self.wait(0.3)`) joined by
# the combine's stream copy: its last packet in decode order is a B-frame shown before the last
# frame, as Manim's encoder writes short scenes.
MANIM_JOINED = Path(__file__).parent / "data" / "manim-3-plus-4-frames.mp4"


def test_a_held_last_frame_ends_the_stream_when_the_last_decoded_packet_is_not_the_last_shown(
    tmp_path: Path,
) -> None:
    with av.open(str(MANIM_JOINED)) as source:
        order = [p.pts for p in source.demux(video=0) if p.pts is not None]
    assert order[-1] != max(order)  # the case itself
    narrated = narrate(MANIM_JOINED, (3, 4), (voice(0.73), voice(0.665)), tmp_path / "narrated.mp4")

    info = probe(tmp_path / "narrated.mp4")
    assert info.frames == 7 and narrated.holds[-1] > 0
    assert abs(info.duration - narrated.duration) <= 1e-3  # the held frame lasts to the end
    assert verify_narrated(tmp_path / "narrated.mp4", narrated.cues) == []
