"""Narration: each engine (espeak-ng; Gemini through the double), the cache, the failure classes,
subtitles, held frames, and a chunked scene narrated exactly like its whole render."""

from __future__ import annotations

import hashlib
import itertools
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from appwrite.services.storage import Storage

from scenefarm_contract.narration import (
    GEMINI,
    NARRATION_INDEX,
    OFF,
    SUBTITLES_SRT,
    SUBTITLES_VTT,
    Narration,
    narration_argv,
)
from scenefarm_contract.renderer import ExitClass, combine_argv
from scenefarm_devkit.appwrite_double import AppwriteDoubleThread
from scenefarm_devkit.gemini_double import GeminiDoubleThread, Reply
from scenefarm_devkit.gemini_double.server import speech_voice
from scenefarm_operator.web import AppwriteConfig
from scenefarm_operator.web.calls import make_client
from scenefarm_renderer.combining import combine as combine_scenes
from scenefarm_renderer.storage.appwrite_store import AppwriteStore
from scenefarm_renderer.storage.store import VolumeStore, clean
from scenefarm_renderer.voice.speech import Espeak, GeminiSpeech, Voice
from scenefarm_renderer.voice.subtitles import parse_webvtt, sentences
from scenefarm_renderer.voice.voiceover import voice_over

from .chunking_helpers import decoded_frames, render_whole_and_chunked
from .conftest import PREFIX, Run, make_clip, run_renderer
from .test_renderer_appwrite_store import API_KEY, stored
from .test_renderer_appwrite_store import PREFIX as PREFIX_APPWRITE

TEXTS = (
    "Force is mass times acceleration. It holds for every body.",
    "",
    "A short one!",
)
KEY = "test-key"


def scenes(tmp_path: Path, frames: tuple[int, ...] = (15, 30, 12)) -> list[str]:
    folder = tmp_path / "store" / PREFIX
    folder.mkdir(parents=True, exist_ok=True)
    for index, count in enumerate(frames):
        make_clip(folder / f"scene-{index:02d}.mp4", frames=count)
    return [f"scene-{index:02d}.mp4" for index in range(len(frames))]


def combine(
    tmp_path: Path,
    keys: list[str],
    narration: Narration,
    env: dict[str, str] | None = None,
    output: str = "video.mp4",
) -> Run:
    argv = combine_argv(scene_keys=keys, prefix=PREFIX, store="volume", store_root=str(tmp_path / "store"))
    argv[argv.index("--output") + 1] = output
    return run_renderer([*argv, *narration_argv(narration)], tmp_path, env)


def streams(path: Path) -> dict[str, tuple[str, float]]:
    with av.open(str(path)) as container:
        return {
            s.type: (s.codec_context.name, float((s.duration or 0) * (s.time_base or 0)))
            for s in container.streams
        }


def audio(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)


def test_offline_narration_gives_audio_cues_in_order_and_a_subtitle_track(tmp_path: Path) -> None:
    run = combine(tmp_path, scenes(tmp_path), Narration(texts=TEXTS))

    assert run.returncode == ExitClass.OK, run.stderr
    folder = tmp_path / "store" / PREFIX
    assert run.message.subtitles == f"volume:{PREFIX}/video.vtt"
    assert run.message.subtitlesSha256 == hashlib.sha256((folder / "video.vtt").read_bytes()).hexdigest()
    found = streams(folder / "video.mp4")
    assert found["audio"][0] == "aac" and found["subtitle"][0] == "mov_text"
    assert abs(found["audio"][1] - run.message.durationSeconds) <= 1 / 15  # within one frame
    cues = parse_webvtt((folder / "video.vtt").read_text())
    assert [c.text for c in cues] == [s for t in TEXTS for s in sentences(t)]
    assert all(a.end <= b.start for a, b in itertools.pairwise(cues))
    assert cues[-1].end <= run.message.durationSeconds
    # The first scene (1 s of video) is held until its two sentences are spoken.
    assert cues[1].end > 1.0 and cues[2].start >= cues[1].end + 2.0  # scene 2 (2 s) follows the voice
    assert (
        "1 --> " not in (folder / "video.srt").read_text()
        and "00:00:00,000 --> " in (folder / "video.srt").read_text()
    )
    with av.open(str(folder / "video.mp4")) as container:
        assert container.streams.subtitles[0].language == container.streams.audio[0].language == "eng"
        texts = [bytes(p)[2:].decode() for p in container.demux(subtitles=0) if p.size > 2]
    assert texts == [c.text for c in cues]


def test_the_same_text_is_synthesised_once(tmp_path: Path) -> None:
    keys = scenes(tmp_path)
    first = combine(tmp_path, keys, Narration(texts=TEXTS))
    again = combine(tmp_path, keys, Narration(texts=TEXTS))

    assert first.returncode == again.returncode == ExitClass.OK
    assert "3 sentences, 3 synthesised" in first.stderr
    assert "3 sentences, 0 synthesised" in again.stderr
    assert first.message.sha256 == again.message.sha256


def test_narration_off_stays_silent(tmp_path: Path) -> None:
    run = combine(tmp_path, scenes(tmp_path), Narration(mode=OFF, texts=TEXTS))

    assert run.returncode == ExitClass.OK
    assert "--narration" not in narration_argv(Narration(mode=OFF, texts=TEXTS))
    assert set(streams(tmp_path / "store" / PREFIX / "video.mp4")) == {"video"}
    assert run.message.subtitles is None and not (tmp_path / "store" / PREFIX / "video.vtt").exists()


def test_a_missing_espeak_is_an_environment_error(tmp_path: Path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    run = combine(tmp_path, scenes(tmp_path), Narration(texts=TEXTS), env={"PATH": str(bare)})

    assert run.returncode == ExitClass.ENVIRONMENT
    assert "needs espeak-ng" in (run.message.errorTail or "")


def test_an_unknown_offline_voice_is_an_environment_error(tmp_path: Path) -> None:
    run = combine(tmp_path, scenes(tmp_path), Narration(voice="no-such-voice", texts=TEXTS))

    assert run.returncode == ExitClass.ENVIRONMENT
    assert "no-such-voice" in (run.message.errorTail or "")


def test_a_bad_narration_argument_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="control characters"):
        Narration.from_json(Narration(texts=("bell\x07",)).to_json())
    with pytest.raises(ValueError, match="mode"):
        Narration.from_json('{"mode": "Loud"}')


def gemini_env(double_url: str) -> dict[str, str]:
    return {"SCENEFARM_GEMINI_API_KEY": KEY, "SCENEFARM_GEMINI_BASE_URL": double_url}


def test_gemini_speech_through_the_double(tmp_path: Path) -> None:
    with GeminiDoubleThread(api_key=KEY) as double:
        run = combine(
            tmp_path,
            scenes(tmp_path),
            Narration(mode=GEMINI, voice="Puck", texts=TEXTS),
            gemini_env(double.base_url),
        )
        calls = double.calls("speech")

    assert run.returncode == ExitClass.OK, run.stderr
    assert len(calls) == 3 and all(c.status == 200 for c in calls)
    config = calls[0].body["generationConfig"]
    assert config["responseModalities"] == ["AUDIO"]
    assert speech_voice(calls[0].body) == "Puck"
    assert "spoken Offline" not in run.stderr
    assert "audio" in streams(tmp_path / "store" / PREFIX / "video.mp4")


def test_a_gemini_outage_is_retried_then_spoken_offline_when_allowed(tmp_path: Path) -> None:
    store = VolumeStore(tmp_path / "store", PREFIX)
    (tmp_path / "store" / PREFIX).mkdir(parents=True)
    narration = Narration(mode=GEMINI, texts=TEXTS)
    with GeminiDoubleThread(api_key=KEY) as double:
        double.script("speech", Reply.error(429), Reply.error(500))
        gemini = GeminiSpeech(narration, api_key=KEY, base_url=double.base_url)
        voice = Voice(store, gemini, Espeak(narration), sleep=lambda _: None)
        clip = voice.say("Hello there.")  # two outages, then the double answers
        assert [c.status for c in double.calls("speech")] == [429, 500, 200]
        assert clip.rate == 24_000 and voice.notes == []

        double.script("speech", *[Reply.error(503)] * 5)
        spoken = voice.say("Another sentence.")
    assert spoken.rate != 24_000  # espeak-ng's
    assert voice.notes and "spoken Offline" in voice.notes[0]


def test_a_gemini_outage_without_fallback_is_transient(tmp_path: Path) -> None:
    with GeminiDoubleThread(api_key=KEY) as double:
        double.script("speech", *[Reply.error(429)] * 5)
        narration = Narration(mode=GEMINI, fallback=False, texts=("Only one.",))
        run = combine(tmp_path, scenes(tmp_path, (15,)), narration, gemini_env(double.base_url))

    assert run.returncode == ExitClass.TRANSIENT, run.stderr
    assert "429" in (run.message.errorTail or "")


def test_malformed_gemini_audio_is_an_environment_error(tmp_path: Path) -> None:
    with GeminiDoubleThread(api_key=KEY) as double:
        double.script("speech", Reply.malformed_speech())
        narration = Narration(mode=GEMINI, texts=("Only one.",))
        run = combine(tmp_path, scenes(tmp_path, (15,)), narration, gemini_env(double.base_url))

    assert run.returncode == ExitClass.ENVIRONMENT
    assert "malformed audio" in (run.message.errorTail or "")


def test_scene_sound_is_kept_and_moves_with_its_scene(tmp_path: Path) -> None:
    folder = tmp_path / "store" / PREFIX
    folder.mkdir(parents=True)
    make_clip(folder / "scene-00.mp4", frames=15, tone_hz=440)
    make_clip(folder / "scene-01.mp4", frames=15, tone_hz=440)
    run = combine(
        tmp_path,
        ["scene-00.mp4", "scene-01.mp4"],
        Narration(texts=("A longer sentence than one second.", "")),
    )

    assert run.returncode == ExitClass.OK, run.stderr
    sound = audio(folder / "video.mp4").mean(axis=0)
    cues = parse_webvtt((folder / "video.vtt").read_text())
    second_scene = round((Fraction(cues[0].end).limit_denominator(1000) + Fraction(1, 2)) * 48000)
    assert np.sqrt(np.mean(sound[second_scene : second_scene + 4800] ** 2)) > 0.1  # its tone, shifted


def test_a_chunked_scene_is_narrated_exactly_like_its_whole_render(tmp_path: Path) -> None:
    source = """
        from manim import *

        class Intro(Scene):
            def construct(self):
                self.play(Create(Square()), run_time=1)
                self.play(FadeIn(Circle()), run_time=1)
    """
    result = render_whole_and_chunked(tmp_path, source, cuts=[15])
    narration = Narration(texts=("The square appears, then a circle fades in. Both stay a while.",))
    whole = combine(tmp_path, [result.whole_file.name], narration, output="whole.mp4")
    chunked = combine(tmp_path, [result.stitched_file.name], narration, output="chunked.mp4")

    assert whole.returncode == chunked.returncode == ExitClass.OK
    folder = tmp_path / "store" / PREFIX
    assert [f.tobytes() for f in decoded_frames(folder / "whole.mp4")] == [
        f.tobytes() for f in decoded_frames(folder / "chunked.mp4")
    ]
    assert np.array_equal(audio(folder / "whole.mp4"), audio(folder / "chunked.mp4"))
    assert whole.message.durationSeconds == chunked.message.durationSeconds > 2.0  # held for the voice


def test_gemini_without_a_key_speaks_offline_or_fails_clearly(tmp_path: Path) -> None:
    keys = scenes(tmp_path, (15,))
    spoken = combine(
        tmp_path, keys, Narration(mode=GEMINI, texts=("Only one.",)), {"SCENEFARM_GEMINI_API_KEY": ""}
    )
    refused = combine(
        tmp_path,
        keys,
        Narration(mode=GEMINI, fallback=False, texts=("Only one.",)),
        {"SCENEFARM_GEMINI_API_KEY": ""},
    )

    assert spoken.returncode == ExitClass.OK and "spoken Offline instead" in spoken.stderr
    assert refused.returncode == ExitClass.ENVIRONMENT
    assert "Secret scenefarm-gemini" in (refused.message.errorTail or "")


@pytest.fixture
def appwrite_store(double: AppwriteDoubleThread, config: AppwriteConfig) -> AppwriteStore:
    """An Appwrite store on the double, as the renderer builds it from its Pod's environment."""
    Storage(make_client(config)).create_bucket("videos", "videos", permissions=[], file_security=True)
    env = {
        "APPWRITE_ENDPOINT": double.endpoint,
        "APPWRITE_PROJECT_ID": config.project,
        "APPWRITE_API_KEY": API_KEY,
        "APPWRITE_BUCKET_ID": "videos",
    }
    return AppwriteStore.from_env(PREFIX_APPWRITE, env)


def test_on_appwrite_the_clean_up_finds_the_cached_speech_through_its_index(
    appwrite_store: AppwriteStore,
    double: AppwriteDoubleThread,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clips = [make_clip(tmp_path / f"scene-{i}.mp4", frames=15) for i in range(2)]
    combined = combine_scenes(clips, tmp_path / "combined.mp4")
    voiced = voice_over(
        appwrite_store,
        Narration(texts=TEXTS[:2]),
        tmp_path / "combined.mp4",
        combined.scene_frames,
        tmp_path / "n.mp4",
    )
    cached = sorted(
        Voice(appwrite_store, Espeak(Narration())).cache_key(Espeak(Narration()), s)
        for s in sentences(TEXTS[0])
    )
    assert voiced.synthesised == 2 and all(stored(double, key) for key in cached)
    monkeypatch.setenv("APPWRITE_ENDPOINT", appwrite_store.endpoint)
    monkeypatch.setenv("APPWRITE_PROJECT_ID", appwrite_store.project)
    monkeypatch.setenv("APPWRITE_API_KEY", API_KEY)
    monkeypatch.setenv("APPWRITE_BUCKET_ID", appwrite_store.bucket)

    clean(
        "appwrite",
        "",
        PREFIX_APPWRITE,
        keep=[],
        also=[],
        keys=[SUBTITLES_VTT, SUBTITLES_SRT, NARRATION_INDEX],
    )

    assert [stored(double, key) for key in [*cached, SUBTITLES_VTT, NARRATION_INDEX]] == [None] * 4


def test_re_encoded_scenes_are_narrated_with_the_last_scene_held_to_its_voice(tmp_path: Path) -> None:
    folder = tmp_path / "store" / PREFIX
    folder.mkdir(parents=True)
    make_clip(folder / "scene-00.mp4", frames=15)
    make_clip(folder / "scene-01.mp4", frames=30, width=1280, height=720, fps=30, tone_hz=300)
    keys = ["scene-00.mp4", "scene-01.mp4"]
    texts = ("Short.", "A long sentence for the last scene, which is held until it is spoken.")

    run = combine(tmp_path, keys, Narration(texts=texts))

    assert run.returncode == ExitClass.OK, run.stderr
    assert "combine: reencode of 2 scenes" in run.stderr
    cues = parse_webvtt((folder / "video.vtt").read_text())
    found = streams(folder / "video.mp4")
    assert found["video"][1] >= cues[-1].end > 2.0  # past the scenes' 1 s + 1 s: the last frame held
    assert abs(found["audio"][1] - found["video"][1]) <= 1 / 30
    assert decoded_frames(folder / "video.mp4")  # it decodes
