"""The narrated track ends with the video it is laid on, also when the combined video shows a
frame fewer than its inputs counted (a stream copy may; the combine accepts one frame per scene)."""

from __future__ import annotations

from pathlib import Path

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
