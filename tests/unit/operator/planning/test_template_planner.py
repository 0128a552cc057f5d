import ast

import pytest

from scenefarm_operator.planning.errors import FixNotSupported
from scenefarm_operator.planning.template import TemplatePlanner, literal, plan_scenes
from scenefarm_operator.planning.validation import validate_plan

NEWTON = {
    "topic": "Newton's laws",
    "description": "A body stays at rest. Force is mass times acceleration. Every action has a reaction.",
}


async def test_plan_has_title_one_scene_per_sentence_and_closing():
    plan = await TemplatePlanner().plan(NEWTON)
    assert [s.name for s in plan.scenes] == ["title", "point-1", "point-2", "point-3", "closing"]
    assert [s.class_name for s in plan.scenes] == ["TitleCard", "Point1", "Point2", "Point3", "ClosingCard"]
    assert plan.scenes[2].narration == "Force is mass times acceleration."


def test_bullet_lines_become_points_without_their_markers():
    scenes = plan_scenes({"topic": "T", "description": "- one\n* two\n3) three\n\n• four"})
    assert [s.narration for s in scenes[1:-1]] == ["one", "two", "three", "four"]


def test_same_spec_gives_the_same_code():
    assert plan_scenes(NEWTON) == plan_scenes(dict(NEWTON))


@pytest.mark.parametrize(
    ("max_scenes", "names"),
    [
        (1, ["title"]),
        (2, ["title", "closing"]),
        (3, ["title", "point-1", "closing"]),
        (4, ["title", "point-1", "point-2", "closing"]),
        (50, ["title", "point-1", "point-2", "point-3", "closing"]),
    ],
)
def test_max_scenes_caps_the_plan_including_title_and_closing(max_scenes, names):
    scenes = plan_scenes({**NEWTON, "planner": {"maxScenes": max_scenes}})
    assert [s.name for s in scenes] == names


def test_points_beyond_the_cap_share_a_scene_instead_of_being_dropped():
    scenes = plan_scenes({"topic": "T", "description": "a\nb\nc\nd\ne", "planner": {"maxScenes": 4}})
    assert [s.narration for s in scenes[1:-1]] == ["a b c", "d e"]


def test_default_cap_is_six_scenes():
    description = "\n".join(f"point {i}" for i in range(20))
    assert len(plan_scenes({"topic": "T", "description": description})) == 6


def test_user_text_enters_the_code_only_as_string_literals():
    hostile = "x'); import os; os.system('rm -rf /') #"
    scene = plan_scenes({"topic": hostile, "description": hostile})[1]
    tree = ast.parse(scene.code)
    constants = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert any("os.system" in c for c in constants)
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [(type(n), getattr(n, "module", None)) for n in imports] == [(ast.ImportFrom, "manim")]


@pytest.mark.parametrize(
    "value", ["__init__", "a___b", "save", "os", "config", "_", "plain text", "__", "x__os__y"]
)
def test_literal_evaluates_back_to_the_text_without_a_forbidden_constant(value):
    expression = ast.parse(literal(value), mode="eval")
    constants = [n.value for n in ast.walk(expression) if isinstance(n, ast.Constant)]
    assert eval(compile(expression, "literal", "eval")) == value
    assert not [c for c in constants if "__" in c or c in {"save", "os", "config"}]


def test_empty_spec_still_gives_a_titled_plan():
    scenes = plan_scenes({"topic": "\u202e\x00", "description": "   \n\t"})
    assert [s.name for s in scenes] == ["title", "closing"]
    assert "Untitled" in scenes[0].code


async def test_template_planner_does_not_fix_code():
    scene = plan_scenes(NEWTON)[0]
    with pytest.raises(FixNotSupported, match="Template planner cannot rewrite"):
        await TemplatePlanner().fix(NEWTON, scene, "Traceback ...")


def test_template_plans_pass_validation_as_a_plan():
    from scenefarm_operator.planning.base import Plan

    assert validate_plan(Plan(plan_scenes(NEWTON)), max_scenes=6) == []
