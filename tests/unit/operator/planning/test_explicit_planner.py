import pytest

from scenefarm_operator.planning.explicit import CodeRef, ExplicitPlanner, code_refs
from scenefarm_operator.support.errors import FixNotSupported, InvalidPlan

CODE = "from manim import *\nclass Intro(Scene):\n    pass\n"
SPEC = {
    "topic": "t",
    "scenes": [
        {"name": "intro", "className": "Intro", "code": CODE},
        {
            "name": "outro",
            "className": "Outro",
            "codeFrom": {"configMapKeyRef": {"name": "snippets", "key": "outro.py"}},
        },
    ],
}


def test_code_refs_lists_the_configmap_keys_to_read():
    assert code_refs(SPEC) == [CodeRef(scene="outro", configmap="snippets", key="outro.py")]


async def test_explicit_scenes_keep_their_order_and_take_resolved_code():
    plan = await ExplicitPlanner({"outro": "resolved"}).plan(SPEC)
    assert [(s.name, s.class_name, s.code) for s in plan.scenes] == [
        ("intro", "Intro", CODE),
        ("outro", "Outro", "resolved"),
    ]


async def test_unresolved_configmap_code_is_an_invalid_plan_naming_the_scene_and_key():
    with pytest.raises(InvalidPlan, match=r"scene 'outro': no code.*'outro\.py'.*'snippets'") as caught:
        await ExplicitPlanner().plan(SPEC)
    assert len(caught.value.errors) == 1


async def test_explicit_mode_without_scenes_is_an_invalid_plan():
    with pytest.raises(InvalidPlan, match=r"needs spec\.scenes"):
        await ExplicitPlanner().plan({"topic": "t"})


async def test_explicit_planner_never_rewrites_user_code():
    plan = await ExplicitPlanner({"outro": "x"}).plan(SPEC)
    with pytest.raises(FixNotSupported, match="never rewritten"):
        await ExplicitPlanner().fix(SPEC, plan.scenes[0], "boom")


async def test_explicit_scenes_carry_their_narration():
    spec = {"scenes": [{"name": "intro", "className": "Intro", "code": CODE, "narration": "Hello. Welcome."}]}
    plan = await ExplicitPlanner().plan(spec)
    assert plan.scenes[0].narration == "Hello. Welcome."
