"""The narration contract and the CRD's narration fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from scenefarm_contract.narration import NARRATION_LIMIT, Narration, narration_argv, narration_of

CRD = Path(__file__).resolve().parents[3] / "crds" / "scenefarm.dev_videorequests.yaml"


def spec_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return schema


def valid(spec: dict[str, Any]) -> bool:
    try:
        jsonschema.Draft4Validator(spec_schema()).validate(spec)
    except jsonschema.ValidationError:
        return False
    return True


def scene(narration: str) -> dict[str, Any]:
    return {"name": "intro", "className": "Intro", "code": "x", "narration": narration}


def test_the_crd_takes_narration_text_with_line_breaks_but_no_control_characters() -> None:
    assert valid({"topic": "t", "scenes": [scene("One sentence.\nAnother one.\tTabbed.")]})
    assert not valid({"topic": "t", "scenes": [scene("a bell \x07")]})
    assert not valid({"topic": "t", "scenes": [scene("x" * (NARRATION_LIMIT + 1))]})


def test_the_crd_narration_modes_voice_and_speed() -> None:
    assert valid({"topic": "t", "narration": {"mode": "Off"}})
    assert valid(
        {"topic": "t", "narration": {"mode": "Gemini", "voice": "Kore", "language": "en-gb", "speed": 1.5}}
    )
    assert not valid({"topic": "t", "narration": {"mode": False}})  # a bare YAML Off
    assert not valid({"topic": "t", "narration": {"speed": 3}})
    assert not valid({"topic": "t", "narration": {"voice": "en; rm -rf /"}})


def test_the_narration_round_trips_and_refuses_what_the_crd_refuses() -> None:
    narration = narration_of({"narration": {"mode": "Gemini", "speed": 0.75}}, ["Hi.", ""])
    assert Narration.from_json(narration.to_json()) == narration
    with pytest.raises(ValueError, match="speed"):
        Narration.from_json('{"speed": 9}')
    with pytest.raises(ValueError, match="unknown fields"):
        Narration.from_json('{"volume": 11}')
    assert narration_argv(Narration(texts=("", " "))) == []


def test_planner_texts_are_made_speakable_whatever_they_hold() -> None:
    long = "word " * 1000
    narration = narration_of({}, ["a\x00b\x1bc\x7f\nd", long])
    assert narration.texts[0] == "abc\nd"
    assert len(narration.texts[1]) <= NARRATION_LIMIT and narration.texts[1].endswith("word…")
    assert Narration.from_json(narration.to_json()) == narration
