"""The combine Job speaks the plan's narration as spec.narration says; Off stays silent."""

from __future__ import annotations

from typing import Any

import kubernetes_validate

from scenefarm_contract.narration import GEMINI_KEY_ENV, GEMINI_URL_ENV, Narration
from scenefarm_operator.engine.manifests import jobs as manifests
from scenefarm_operator.support.settings import Settings

from .test_manifests import K8S_VERSION, container, env_of, owner

TEXTS = {0: "Hello there.", 2: "", 3: "Goodbye."}


def narration_in(job: dict[str, Any]) -> Narration | None:
    args = container(job)["args"]
    return Narration.from_json(args[args.index("--narration") + 1]) if "--narration" in args else None


def test_the_combine_speaks_each_scene_in_input_order_offline_by_default() -> None:
    job = manifests.combine_job(owner(), Settings(), [0, 2, 3], narrations=TEXTS)

    narration = narration_in(job)
    assert narration == Narration(texts=("Hello there.", "", "Goodbye."))
    assert GEMINI_KEY_ENV not in env_of(job)
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)


def test_narration_off_or_without_text_passes_nothing() -> None:
    silent = manifests.combine_job(owner(narration={"mode": "Off"}), Settings(), [0, 2, 3], narrations=TEXTS)
    empty = manifests.combine_job(owner(), Settings(), [0, 2, 3], narrations={0: " ", 2: ""})

    assert narration_in(silent) is None and narration_in(empty) is None


def test_gemini_narration_reads_its_key_from_an_optional_secret_and_the_operators_base_url() -> None:
    spec = {"mode": "Gemini", "voice": "Puck", "language": "de", "speed": 1.25, "fallbackToOffline": False}
    settings = Settings(gemini_base_url="http://127.0.0.1:9999")
    job = manifests.combine_job(owner(narration=spec), settings, [0, 2, 3], narrations=TEXTS)

    narration = narration_in(job)
    assert narration is not None
    assert (narration.mode, narration.voice, narration.language, narration.speed) == (
        "Gemini",
        "Puck",
        "de",
        1.25,
    )
    assert narration.fallback is False
    env = env_of(job)
    ref = env[GEMINI_KEY_ENV]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "scenefarm-gemini", "key": "apiKey", "optional": True}
    assert env[GEMINI_URL_ENV]["value"] == "http://127.0.0.1:9999"
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)


def test_the_status_and_the_row_name_the_subtitles() -> None:
    from scenefarm_contract.renderer import TerminationMessage
    from scenefarm_devkit.appwrite_double.scripted import file_url
    from scenefarm_operator.engine.status import _output
    from scenefarm_operator.web.rows import video_data

    vtt = file_url("f-1234-vtt")
    output = _output(TerminationMessage(exitClass=0, artifact=file_url("f-1234-video"), subtitles=vtt))
    assert output["subtitles"] == vtt
    body = {**owner(), "status": {"phase": "Succeeded", "output": output}}
    assert video_data(body)["subtitles_url"] == "f-1234-vtt"
    body["status"]["phase"] = "Combining"
    assert video_data(body)["subtitles_url"] is None


def test_a_missing_tts_engine_fails_the_combine_job_at_once_and_an_outage_is_retried() -> None:
    from scenefarm_contract.renderer import ExitClass

    job = manifests.combine_job(owner(), Settings(), [0, 2, 3], narrations=TEXTS)
    rules = job["spec"]["podFailurePolicy"]["rules"]
    fail_now = next(r for r in rules if r["action"] == "FailJob")["onExitCodes"]["values"]
    assert ExitClass.ENVIRONMENT in fail_now  # espeak-ng missing, malformed audio: no retry, no LLM
    assert ExitClass.TRANSIENT not in fail_now  # a Gemini speech outage after its backoff: retried
    assert job["spec"]["backoffLimit"] >= 1
