"""Gemini planning and self-healing on the dev cluster, with the google-genai SDK against the double."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Event

from scenefarm_devkit.devenv import DevEnv
from scenefarm_devkit.gemini_double import GeminiDouble, Reply

from .conftest import create, jobs_of, tiny_scene, video_request, wait_terminal

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def genv(tmp_path_factory: pytest.TempPathFactory, gemini: GeminiDouble) -> Iterator[DevEnv]:
    settings = {"SCENEFARM_GEMINI_API_KEY": "test-key", "SCENEFARM_GEMINI_BASE_URL": gemini.base_url}
    with DevEnv(tmp_path_factory.mktemp("gemini"), operator_env=settings) as running:
        running.start_operator()
        yield running


@pytest.fixture(scope="module")
def gclient(genv: DevEnv) -> Client:
    return genv.client()


def scene(name: str, cls: str, body: str) -> dict[str, str]:
    return {"name": name, "className": cls, "narration": name, "code": tiny_scene(cls, body)}


def gemini_request(name: str, **render: Any) -> dict[str, Any]:
    return {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "topic": f"topic of {name}",
            "description": "Two short scenes.",
            "planner": {"mode": "Gemini"},
            "render": {"quality": "low"} | render,
        },
    }


def events_of(client: Client, name: str) -> list[tuple[str, str]]:
    events = client.list(Event, namespace="default", fields={"involvedObject.name": name})
    return [(e.reason or "", e.message or "") for e in events]


def test_failing_scene_heals_with_fixed_code_as_a_new_job_attempt(gclient, gemini):
    gemini.script(
        "plan",
        Reply.plan([scene("intro", "Intro", "self.wait(0.2)"), scene("cart", "Cart", "x = 1 / 0")]),
    )
    gemini.script("fix", Reply.fix(tiny_scene("Cart", "self.add(Square()); self.wait(0.3)")))
    fixes_before = len(gemini.calls("fix"))
    create(gclient, gemini_request("heals"))
    status = wait_terminal(gclient, "heals")

    assert status["phase"] == "Succeeded", status.get("message")
    cart = status["scenes"][1]
    assert (cart["name"], cart["phase"], cart["attempt"]) == ("cart", "Succeeded", 2)
    assert cart["history"][0]["exitClass"] == 11 and cart["history"][0]["phase"] == "Failed"
    fix_calls = gemini.calls("fix")[fixes_before:]
    assert len(fix_calls) == 1
    assert "ZeroDivisionError" in str(fix_calls[0].request)
    assert status["planner"]["calls"] >= 2 and status["planner"]["promptTokens"] > 0
    reasons = [reason for reason, _ in events_of(gclient, "heals")]
    assert "Healing" in reasons and "Fixed" in reasons and "Succeeded" in reasons


def test_environment_error_never_reaches_the_llm(gclient, gemini, monkeypatch, tmp_path):
    # The image "lacks LaTeX": render pods get a PATH without latex, so MathTex exits 20.
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    gemini.script("plan", Reply.plan([scene("formula", "Formula", "self.add(MathTex('x^2'))")]))
    fixes_before = len(gemini.calls("fix"))
    create(gclient, gemini_request("no-latex"))
    status = wait_terminal(gclient, "no-latex")
    monkeypatch.setenv("PATH", os.defpath)

    assert status["phase"] == "Failed"
    assert status["scenes"][0]["exitClass"] == 20
    assert "LaTeX" in status["message"]
    assert len(gemini.calls("fix")) == fixes_before


def test_exhausted_fix_attempts_fail_naming_the_scene_and_its_last_error(gclient, gemini):
    gemini.script("plan", Reply.plan([scene("stubborn", "Stubborn", "raise RuntimeError('first error')")]))
    gemini.script("fix", Reply.fix(tiny_scene("Stubborn", "raise RuntimeError('still broken')")))
    create(gclient, gemini_request("exhausted", fixAttempts=1))
    status = wait_terminal(gclient, "exhausted")

    assert status["phase"] == "Failed"
    assert "'stubborn'" in status["message"] and "still broken" in status["message"]
    assert status["scenes"][0]["attempt"] == 2


def test_rate_limit_then_success_and_malformed_then_reask_both_plan(gclient, gemini):
    gemini.script("plan", Reply.error(429), Reply.plan([scene("one", "One", "self.wait(0.2)")]))
    create(gclient, gemini_request("after-429"))
    gemini.script("plan", Reply.malformed(), Reply.plan([scene("two", "Two", "self.wait(0.2)")]))
    create(gclient, gemini_request("after-malformed"))

    assert wait_terminal(gclient, "after-429")["phase"] == "Succeeded"
    assert wait_terminal(gclient, "after-malformed")["phase"] == "Succeeded"


def test_plan_breaking_the_code_policy_twice_fails_with_the_policy_errors(gclient, gemini):
    bad = scene("evil", "Evil", "__import__('os').system('id')")
    gemini.script("plan", Reply.plan([bad]), Reply.plan([bad]))
    create(gclient, gemini_request("policy"))
    status = wait_terminal(gclient, "policy")

    assert status["phase"] == "Failed"
    stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True" and stalled["reason"] == "PlanningFailed"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")  # the message is said once, here
    assert "evil" in ready["message"] and "__import__" in ready["message"]


def test_gemini_mode_without_api_key_is_a_clear_condition_and_the_operator_keeps_working(tmp_path: Path):
    with DevEnv(tmp_path) as env:
        env.start_operator()
        client = env.client()
        create(client, gemini_request("no-key"))
        status = wait_terminal(client, "no-key", timeout=60)
        create(client, video_request("still-fine", [("ok", "self.wait(0.2)")]))
        after = wait_terminal(client, "still-fine")

    assert status["phase"] == "Failed"
    assert "SCENEFARM_GEMINI_API_KEY" in status["message"]
    assert after["phase"] == "Succeeded"


def test_oom_killed_scene_retries_once_with_doubled_memory_then_fails_at_the_cap(tmp_path: Path):
    with DevEnv(tmp_path, operator_env={"SCENEFARM_OOM_MEMORY_CAP": "1Gi"}) as env:
        env.start_operator()
        client = env.client()
        hog = "x = np.ones((1400, 1000, 1000), dtype=np.uint8); self.wait(0.2)"  # ~1.4 GB resident
        body = video_request("hungry", [("hog", hog)])
        body["spec"]["render"] |= {"resources": {"limits": {"cpu": "1", "memory": "512Mi"}}}
        create(client, body)
        status = wait_terminal(client, "hungry")
        jobs = sorted(jobs_of(client, "hungry"), key=lambda j: j.metadata.name)

    assert status["phase"] == "Failed"
    scene = status["scenes"][0]
    assert (scene["attempt"], scene["exitClass"]) == (2, 137)
    assert scene["history"][0]["exitClass"] == 137
    limits = [j.spec.template.spec.containers[0].resources.limits["memory"] for j in jobs]
    assert limits == ["512Mi", "1Gi"]
    assert "cap" in status["message"]


def test_a_fix_call_during_a_gemini_outage_is_asked_again_after_a_backoff(gclient, gemini):
    gemini.script("plan", Reply.plan([scene("later", "Later", "x = 1 / 0")]))
    gemini.script("fix", *[Reply.error(503)] * 6, Reply.fix(tiny_scene("Later", "self.wait(0.2)")))
    create(gclient, gemini_request("fix-later"))
    status = wait_terminal(gclient, "fix-later", timeout=120)

    assert status["phase"] == "Succeeded", status.get("message")
    assert status["scenes"][0]["attempt"] == 2
    reasons = [reason for reason, _ in events_of(gclient, "fix-later")]
    assert "PlannerUnavailable" in reasons and "Fixed" in reasons
