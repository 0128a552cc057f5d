"""dev up's wiring: Gemini scripts, the doubles' settings, and the user's SCENEFARM_* reaching the operator."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scenefarm_devkit import devenv
from scenefarm_devkit.dev_doubles import gemini_double, load_script
from scenefarm_devkit.gemini_double import Reply

FIX = "from manim import *\n\nclass Swing(Scene):\n    def construct(self):\n        self.wait(1)\n"


def test_a_script_turns_scenes_and_code_into_plan_and_fix_replies(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    scenes = [{"name": "swing", "className": "Swing", "narration": "n", "code": FIX}]
    script.write_text(json.dumps({"plan": [{"status": 429}, {"scenes": scenes}], "fix": [{"code": FIX}]}))
    replies = load_script(script)
    assert replies["plan"] == [Reply.error(429), Reply.plan(scenes)]
    assert replies["fix"] == [Reply.fix(FIX)]


def test_a_script_of_the_wrong_shape_is_refused_with_its_path(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"plans": []}))
    with pytest.raises(ValueError, match=r'script.json must be an object with "plan" and/or "fix" lists'):
        load_script(script)


def test_the_gemini_double_settings_point_at_it_with_its_key(tmp_path: Path) -> None:
    with gemini_double(None) as (double, settings):
        assert settings["SCENEFARM_GEMINI_BASE_URL"] == double.base_url
        assert settings["SCENEFARM_GEMINI_API_KEY"] == double.api_key


def test_the_users_scenefarm_settings_reach_the_operator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: dict[str, Any] = {}

    class Recorder:
        def __init__(self, cmd: list[str], env: dict[str, str], **_: Any) -> None:
            started["env"] = env

    monkeypatch.setenv("SCENEFARM_GEMINI_MODEL", "gemini-2.5-pro")
    monkeypatch.setattr(subprocess, "Popen", Recorder)
    env = devenv.DevEnv(tmp_path, operator_env={"SCENEFARM_GEMINI_BASE_URL": "http://double"})
    monkeypatch.setattr(env.cluster, "kubeconfig_for", lambda identity: tmp_path / "kubeconfig")
    env.start_operator()
    assert started["env"]["SCENEFARM_GEMINI_MODEL"] == "gemini-2.5-pro"  # the user's, passed through
    assert started["env"]["SCENEFARM_GEMINI_BASE_URL"] == "http://double"  # the wiring's
    assert started["env"]["KUBECONFIG"] == str(tmp_path / "kubeconfig")
