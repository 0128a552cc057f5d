"""Combining scenes: stream copy when they match, normalising re-encode otherwise."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from scenefarm_contract.renderer import INPUT_MISMATCH, ExitClass, combine_argv
from scenefarm_renderer.combining import combine, combine_into_store
from scenefarm_renderer.errors import EnvironmentProblem, TransientProblem
from scenefarm_renderer.media import decodes, probe
from scenefarm_renderer.storage.store import VolumeStore

from .conftest import PREFIX, RenderFn, make_clip, run_renderer

SCENE = """
    from manim import *

    class Intro(Scene):
        def construct(self):
            self.play(FadeIn({shape}()), run_time={seconds})
"""


def packet_bytes(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


def test_matching_rendered_scenes_are_stream_copied_packet_for_packet(
    render: RenderFn, tmp_path: Path
) -> None:
    for index, (shape, seconds) in enumerate([("Circle", 1), ("Square", 0.6), ("Triangle", 1.4)]):
        assert render(SCENE.format(shape=shape, seconds=seconds), index=index).returncode == 0
    scenes = sorted((tmp_path / "store" / PREFIX).glob("scene-*.mp4"))

    result = combine(scenes, tmp_path / "video.mp4")

    assert result.mode == "copy"
    assert packet_bytes(tmp_path / "video.mp4") == [b for s in scenes for b in packet_bytes(s)]
    inputs = [probe(s) for s in scenes]
    assert result.output.frames == sum(i.frames for i in inputs) == 15 + 9 + 21
    assert result.output.duration == pytest.approx(sum(i.duration for i in inputs), abs=1 / 15)
    assert decodes(tmp_path / "video.mp4")


def test_the_combine_command_stores_the_video_and_describes_it(tmp_path: Path) -> None:
    scenes = tmp_path / "store" / PREFIX
    scenes.mkdir(parents=True)
    for index in range(3):
        make_clip(scenes / f"scene-{index:02d}.mp4", frames=10 + index)
    keys = [f"scene-{index:02d}.mp4" for index in range(3)]

    run = run_renderer(
        combine_argv(scene_keys=keys, prefix=PREFIX, store="volume", store_root=str(tmp_path / "store")),
        tmp_path,
    )

    assert run.returncode == ExitClass.OK, run.stderr
    assert run.message.artifact == f"volume:{PREFIX}/video.mp4"
    assert run.message.frames == 33
    assert "combine: copy of 3 scenes" in run.stderr
    assert probe(scenes / "video.mp4").frames == 33


def test_mixed_qualities_are_reencoded_into_one_valid_video(tmp_path: Path) -> None:
    low = make_clip(tmp_path / "low.mp4", frames=15)  # 854x480 at 15 fps, 1 s
    medium = make_clip(tmp_path / "medium.mp4", width=1280, height=720, fps=30, frames=45)  # 1.5 s

    result = combine([low, medium, low], tmp_path / "video.mp4")

    assert result.mode == "reencode"
    out = result.output
    assert (out.width, out.height, out.fps) == (1280, 720, 30)
    assert out.frames == 30 + 45 + 30
    assert out.duration == pytest.approx(3.5, abs=1 / 30)
    assert decodes(tmp_path / "video.mp4")


def test_a_scene_with_audio_among_silent_ones_keeps_a_full_length_audio_track(tmp_path: Path) -> None:
    silent = make_clip(tmp_path / "silent.mp4", frames=15)
    tone = make_clip(tmp_path / "tone.mp4", frames=30, tone_hz=440)

    result = combine([silent, tone, silent], tmp_path / "video.mp4")

    assert result.mode == "reencode"
    out = result.output
    assert out.audio is not None
    assert out.duration == pytest.approx(4.0, abs=1 / 15)
    assert out.audio_duration == pytest.approx(out.duration, abs=0.05)
    loudness = audio_rms_per_second(tmp_path / "video.mp4")
    assert loudness[0] < 0.01 and loudness[3] < 0.01  # the silent scenes stay silent
    assert loudness[1] > 0.1 and loudness[2] > 0.1  # the tone lands where its scene is


def audio_rms_per_second(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
        rate = container.streams.audio[0].rate
    # Skip the encoder's priming and the edges between scenes.
    return [float(np.sqrt(np.mean(samples[s * rate + 4000 : (s + 1) * rate - 4000] ** 2))) for s in range(4)]


def test_matching_scenes_with_audio_are_copied_with_their_audio(tmp_path: Path) -> None:
    tone = make_clip(tmp_path / "tone.mp4", frames=15, tone_hz=330)

    result = combine([tone, tone], tmp_path / "video.mp4")

    assert result.mode == "copy"
    assert result.output.audio is not None
    assert result.output.audio_duration == pytest.approx(2.0, abs=0.05)


def test_an_empty_input_list_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="at least one --input"):
        combine_into_store(VolumeStore(tmp_path, PREFIX), [], "video.mp4")


def test_a_missing_input_is_named(tmp_path: Path) -> None:
    (tmp_path / PREFIX).mkdir(parents=True)
    make_clip(tmp_path / PREFIX / "scene-00.mp4")

    with pytest.raises(TransientProblem, match=r"scene-01\.mp4 is missing"):
        combine_into_store(VolumeStore(tmp_path, PREFIX), ["scene-00.mp4", "scene-01.mp4"], "video.mp4")


def test_an_undecodable_input_is_named(tmp_path: Path) -> None:
    (tmp_path / PREFIX).mkdir(parents=True)
    make_clip(tmp_path / PREFIX / "scene-00.mp4")
    (tmp_path / PREFIX / "scene-01.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")

    with pytest.raises(EnvironmentProblem, match=r"scene-01\.mp4: not a decodable video"):
        combine_into_store(VolumeStore(tmp_path, PREFIX), ["scene-00.mp4", "scene-01.mp4"], "video.mp4")
    assert not (tmp_path / PREFIX / "video.mp4").exists()


def test_an_input_that_is_not_the_recorded_file_fails_the_combine_clearly(tmp_path: Path) -> None:
    import hashlib

    scenes = tmp_path / "store" / PREFIX
    scenes.mkdir(parents=True)
    for index in range(2):
        make_clip(scenes / f"scene-{index:02d}.mp4", frames=10 + index)
    recorded = [hashlib.sha256((scenes / f"scene-{i:02d}.mp4").read_bytes()).hexdigest() for i in range(2)]
    make_clip(scenes / "scene-01.mp4", frames=20)  # overwritten since it was recorded
    keys = ["scene-00.mp4", "scene-01.mp4"]
    argv = combine_argv(
        scene_keys=keys, prefix=PREFIX, store="volume", store_root=str(tmp_path / "store"), sha256s=recorded
    )

    run = run_renderer(argv, tmp_path)

    assert run.returncode == ExitClass.ENVIRONMENT, run.stderr
    assert (run.message.errorTail or "").startswith(f"{INPUT_MISMATCH}: scene-01.mp4: its sha256 is ")
    assert recorded[1] in (run.message.errorTail or "")
    assert not (scenes / "video.mp4").exists()
    good = combine_argv(scene_keys=keys[:1], prefix=PREFIX, store="volume", store_root=str(tmp_path / "store"),
                        sha256s=recorded[:1])  # fmt: skip
    assert run_renderer(good, tmp_path).returncode == ExitClass.OK
