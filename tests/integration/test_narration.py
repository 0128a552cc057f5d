"""Narrated requests on the dev cluster: a scene held for its voice with subtitles beside the video,
Gemini's voice through the double with the key from the request namespace's Secret, and `Off`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import av
import pytest
from lightkube import Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Secret

from scenefarm_devkit.devenv import DevEnv
from scenefarm_devkit.gemini_double import GeminiDouble

from .conftest import create, video_request, wait_terminal

pytestmark = pytest.mark.integration
LONG = "This sentence takes far longer to say than the scene lasts. So the last frame is held."


@pytest.fixture(scope="module")
def nenv(tmp_path_factory: pytest.TempPathFactory, gemini: GeminiDouble) -> Iterator[DevEnv]:
    settings = {"SCENEFARM_GEMINI_API_KEY": "test-key", "SCENEFARM_GEMINI_BASE_URL": gemini.base_url}
    with DevEnv(tmp_path_factory.mktemp("narration"), operator_env=settings) as running:
        running.start_operator()
        yield running


@pytest.fixture(scope="module")
def nclient(nenv: DevEnv) -> Client:
    return nenv.client()


def narrated(name: str, narration: dict[str, Any] | None = None) -> dict[str, Any]:
    body = video_request(name, [("short", "self.add(Circle()); self.wait(0.5)"), ("next", "self.wait(0.4)")])
    body["spec"]["scenes"][0]["narration"] = LONG
    body["spec"]["scenes"][1]["narration"] = "Done."
    if narration is not None:
        body["spec"]["narration"] = narration
    return body


def streams(path: Any) -> dict[str, float]:
    with av.open(str(path)) as container:
        return {s.type: float((s.duration or 0) * (s.time_base or 0)) for s in container.streams}


def test_a_scene_is_held_for_its_voice_and_its_subtitles_sit_beside_the_video(nenv, nclient):
    create(nclient, narrated("spoken"))
    status = wait_terminal(nclient, "spoken")

    assert status["phase"] == "Succeeded", status.get("message")
    output = status["output"]
    video = nenv.artifact_path("default", output["uri"])
    vtt = nenv.artifact_path("default", output["subtitles"])
    assert hashlib.sha256(vtt.read_bytes()).hexdigest() == output["subtitlesSha256"]
    found = streams(video)
    assert set(found) == {"video", "audio", "subtitle"}
    assert abs(found["audio"] - found["video"]) <= 1 / 15
    assert found["video"] > 0.9 + 2.0  # 0.5 s + 0.4 s of scenes, held while the long line is spoken
    text = vtt.read_text()
    assert text.index("This sentence") < text.index("So the last frame") < text.index("Done.")


def test_gemini_speaks_with_the_key_from_the_namespaces_secret(nenv, nclient, gemini):
    nclient.create(Secret(metadata=ObjectMeta(name="scenefarm-gemini"), stringData={"apiKey": "test-key"}))
    before = len(gemini.calls("speech"))
    create(nclient, narrated("gemini-voice", {"mode": "Gemini", "voice": "Puck", "fallbackToOffline": False}))
    status = wait_terminal(nclient, "gemini-voice")

    assert status["phase"] == "Succeeded", status.get("message")
    calls = gemini.calls("speech")[before:]
    assert len(calls) == 3 and {c.api_key for c in calls} == {"test-key"}
    assert "audio" in streams(nenv.artifact_path("default", status["output"]["uri"]))


def test_narration_off_stays_silent(nenv, nclient):
    create(nclient, narrated("silent", {"mode": "Off"}))
    status = wait_terminal(nclient, "silent")

    assert status["phase"] == "Succeeded", status.get("message")
    assert "subtitles" not in status["output"]
    assert set(streams(nenv.artifact_path("default", status["output"]["uri"]))) == {"video"}
