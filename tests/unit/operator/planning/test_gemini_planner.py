import json

import pytest

from scenefarm_devkit.doubles import gemini_double
from scenefarm_devkit.gemini_double import Reply
from scenefarm_operator.planning.base import TokenUsage
from scenefarm_operator.planning.gemini import GeminiOptions, GeminiPlanner
from scenefarm_operator.support.errors import InvalidPlan, PlannerUnavailable, PlanningError

from .conftest import FAST

SPEC = {
    "topic": "Newton's laws",
    "description": "Inertia. F = m a. Action and reaction.",
    "planner": {"mode": "Gemini"},
}
GOOD = "from manim import *\n\nclass {cls}(Scene):\n    def construct(self):\n        self.play(Create(Circle()))\n"
BAD = GOOD + "import os\n"


def scene(name, cls, code=None):
    return {
        "name": name,
        "className": cls,
        "narration": f"{name} narration",
        "code": code or GOOD.format(cls=cls),
    }


async def test_plan_comes_from_one_structured_generate_content_call(gemini, planner):
    plan = await planner.plan(SPEC)
    assert [s.name for s in plan.scenes] == ["title", "point-1", "point-2", "point-3", "closing"]
    (call,) = gemini.requests
    assert (call.kind, call.model, call.api_version, call.api_key) == (
        "plan",
        "gemini-2.5-flash",
        "v1beta",
        "test-key",
    )
    assert call.request["topic"] == "Newton's laws"
    assert call.request["maxScenes"] == 6
    config = call.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert set(config["responseSchema"]["properties"]["scenes"]["items"]["properties"]) == {
        "name",
        "className",
        "narration",
        "code",
    }
    system = call.body["systemInstruction"]["parts"][0]["text"]
    assert "scenefarm-prompt: plan.v1" in system
    assert "`subprocess`" in system  # the renderer's policy is spelled out in the prompt


async def test_spec_model_overrides_the_default_model(gemini, planner):
    await planner.plan({**SPEC, "planner": {"mode": "Gemini", "model": "gemini-2.5-pro"}})
    assert gemini.requests[0].model == "gemini-2.5-pro"


async def test_rate_limit_is_retried_by_the_sdk_then_succeeds(gemini, planner):
    gemini.script("plan", Reply.error(429), Reply.error(503))
    plan = await planner.plan(SPEC)
    assert [r.status for r in gemini.requests] == [429, 503, 200]
    assert plan.usage.calls == 1


async def test_a_service_that_stays_down_makes_the_planner_unavailable(gemini):
    gemini.script("plan", *[Reply.error(503)] * 3)
    options = GeminiOptions(api_key="k", base_url=gemini.base_url, **{**FAST, "retry_attempts": 3})
    planner = GeminiPlanner(options)
    with pytest.raises(PlannerUnavailable, match=r"503 UNAVAILABLE.*after retries"):
        await planner.plan(SPEC)
    assert len(gemini.requests) == 3


async def test_malformed_json_is_re_asked_once_with_the_errors(gemini, planner):
    gemini.script("plan", Reply.malformed())
    plan = await planner.plan(SPEC)
    assert len(plan.scenes) == 5
    first, second = gemini.requests
    assert (first.turns, second.turns) == (1, 3)
    reask = second.body["contents"][2]["parts"][0]["text"]
    assert "Your answer cannot be used" in reask
    assert "Invalid JSON" in reask or "EOF" in reask
    assert plan.usage.calls == 2


async def test_a_plan_breaking_the_code_policy_is_re_asked_then_accepted(gemini, planner):
    gemini.script(
        "plan",
        Reply.plan([scene("intro", "Intro", BAD.format(cls="Intro"))]),
        Reply.plan([scene("intro", "Intro")]),
    )
    plan = await planner.plan(SPEC)
    assert [s.name for s in plan.scenes] == ["intro"]
    assert (
        "scene 'intro': line 6: import of 'os' is not allowed"
        in gemini.requests[1].body["contents"][2]["parts"][0]["text"]
    )


async def test_a_plan_that_stays_invalid_fails_with_errors_naming_the_scene(gemini, planner):
    bad = Reply.plan([scene("intro", "Intro", BAD.format(cls="Intro")), scene("Bad_Name", "Outro")])
    gemini.script("plan", bad, bad)
    with pytest.raises(InvalidPlan) as caught:
        await planner.plan(SPEC)
    assert "gave an invalid plan twice" in str(caught.value)
    assert any(
        e.startswith("scene 'intro': line 6: import of 'os' is not allowed") for e in caught.value.errors
    )
    assert any(e.startswith("scene 'Bad_Name': name must be a DNS label") for e in caught.value.errors)
    assert len(gemini.requests) == 2


async def test_plans_longer_than_max_scenes_are_invalid(gemini, planner):
    many = Reply.plan([scene(f"s{i}", f"S{i}") for i in range(3)])
    gemini.script("plan", many, many)
    with pytest.raises(InvalidPlan, match="3 scenes, more than the 2 allowed"):
        await planner.plan({**SPEC, "planner": {"mode": "Gemini", "maxScenes": 2}})


async def test_fix_returns_new_validated_code(gemini, planner):
    plan = await planner.plan(SPEC)
    fixed = GOOD.format(cls="Point1").replace("Circle", "Square")
    gemini.script("fix", Reply.fix(fixed))
    result = await planner.fix(SPEC, plan.scenes[1], "NameError: name 'Cirle' is not defined")
    assert result.code == fixed
    call = gemini.calls("fix")[0]
    assert call.request["error"] == "NameError: name 'Cirle' is not defined"
    assert call.request["code"] == plan.scenes[1].code
    assert "scenefarm-prompt: fix.v1" in call.body["systemInstruction"]["parts"][0]["text"]


async def test_a_fix_without_the_scene_class_is_re_asked_then_fails(gemini, planner):
    plan = await planner.plan(SPEC)
    wrong = Reply.fix(GOOD.format(cls="Other"))
    gemini.script("fix", wrong, wrong)
    with pytest.raises(InvalidPlan, match="invalid fix of scene 'point-1' twice") as caught:
        await planner.fix(SPEC, plan.scenes[1], "boom")
    assert caught.value.errors == ("scene 'point-1': no top-level class named 'Point1' is defined",)


async def test_token_usage_is_summed_over_re_asks(gemini, planner):
    gemini.script(
        "plan",
        Reply(text="not json", prompt_tokens=100, candidate_tokens=10),
        Reply(text=json.dumps({"scenes": [scene("intro", "Intro")]}), prompt_tokens=200, candidate_tokens=20),
    )
    plan = await planner.plan(SPEC)
    assert plan.usage == TokenUsage(prompt_tokens=300, candidate_tokens=30, calls=2)


async def test_no_api_key_is_unavailable_without_any_request(gemini):
    planner = GeminiPlanner(GeminiOptions(api_key="", base_url=gemini.base_url))
    with pytest.raises(PlannerUnavailable, match="needs an API key: set SCENEFARM_GEMINI_API_KEY"):
        await planner.plan(SPEC)
    assert gemini.requests == []


async def test_a_rejected_api_key_is_reported_as_such():
    async with gemini_double(api_key="right") as gemini:
        planner = GeminiPlanner(GeminiOptions(api_key="wrong", base_url=gemini.base_url, **FAST))
        with pytest.raises(PlannerUnavailable, match=r"403 PERMISSION_DENIED.*check the API key"):
            await planner.plan(SPEC)


async def test_an_unknown_model_names_the_field_to_change(gemini, planner):
    gemini.script("plan", Reply.error(404))
    with pytest.raises(PlanningError, match=r"check the model name 'gemini-2\.5-flash'"):
        await planner.plan(SPEC)


async def test_a_slow_answer_past_the_timeout_makes_the_planner_unavailable(gemini):
    gemini.script("plan", Reply.slow(5.0))
    options = GeminiOptions(
        api_key="k", base_url=gemini.base_url, **{**FAST, "timeout_seconds": 0.3, "retry_attempts": 1}
    )
    planner = GeminiPlanner(options)
    with pytest.raises(PlannerUnavailable, match="cannot reach Gemini"):
        await planner.plan(SPEC)


async def test_the_models_narration_reaches_the_plan(gemini, planner):
    gemini.script("plan", Reply.plan([scene("intro", "Intro"), scene("cart", "Cart")]))
    plan = await planner.plan(SPEC)
    assert [s.narration for s in plan.scenes] == ["intro narration", "cart narration"]
