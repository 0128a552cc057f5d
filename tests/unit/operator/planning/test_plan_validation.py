import pytest

from scenefarm_operator.planning.base import Plan, PlannedScene
from scenefarm_operator.planning.template import plan_scenes
from scenefarm_operator.planning.validation import scene_limit, validate_plan

GOOD = "from manim import *\n\nclass Intro(Scene):\n    def construct(self):\n        self.play(Create(Circle()))\n"


def scene(name="intro", class_name="Intro", code=GOOD):
    return PlannedScene(name=name, class_name=class_name, code=code)


def test_a_good_plan_has_no_errors():
    assert validate_plan(Plan((scene(),))) == []


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (Plan(()), "no scenes"),
        (Plan((scene(), scene())), "scene 'intro': the name is used by more than one scene"),
        (Plan((scene(name="Intro"),)), "scene 'Intro': name must be a DNS label"),
        (Plan((scene(name="a" * 41),)), "must be a DNS label"),
        (Plan((scene(name="-x"),)), "must be a DNS label"),
        (Plan((scene(class_name="1Intro"),)), "className '1Intro' must be a Python identifier"),
        (Plan((scene(class_name="Ïntro"),)), "must be a Python identifier"),
        (Plan((scene(code="x" * (64 * 1024 + 1)),)), "more than the 65536 allowed"),
        (Plan((scene(code="  \n"),)), "code is empty"),
        (Plan((scene(code=GOOD + "import os\n"),)), "scene 'intro': line 6: import of 'os' is not allowed"),
        (Plan((scene(class_name="Outro"),)), "scene 'intro': no top-level class named 'Outro'"),
    ],
)
def test_bad_plans_are_reported_naming_the_scene(plan, expected):
    errors = validate_plan(plan)
    assert any(expected in e for e in errors), errors


def test_plans_longer_than_max_scenes_are_rejected():
    plan = Plan(tuple(scene(name=f"s{i}") for i in range(4)))
    assert validate_plan(plan, max_scenes=3) == ["the plan has 4 scenes, more than the 3 allowed"]
    assert validate_plan(plan, max_scenes=4) == []


def test_the_hard_cap_of_fifty_scenes_wins_over_a_larger_max():
    plan = Plan(tuple(scene(name=f"s{i}") for i in range(51)))
    assert validate_plan(plan, max_scenes=100) == ["the plan has 51 scenes, more than the 50 allowed"]


@pytest.mark.parametrize(
    ("spec", "limit"),
    [
        ({}, 6),
        ({"planner": {"maxScenes": 9}}, 9),
        ({"planner": {"maxScenes": 80}}, 50),
        ({"scenes": [{"name": "a"}], "planner": {"maxScenes": 2}}, 50),
    ],
)
def test_scene_limit_follows_the_spec(spec, limit):
    assert scene_limit(spec) == limit


HOSTILE = [
    "",
    'Newton\'s "laws"',
    "back\\slash \\n \\x00 \\u202e ''' \"\"\" `",
    "__import__('os').system('id')",
    "{__class__} %(x)s $HOME ${x} {0.__globals__}",
    "save\nload\nos\nconfig\nutils\nsystem\n__init__\n_\n__\nexec\neval",
    "\x00\x01\x1b[31mred\x1b[0m \ud800 \udfff \ufeff \u200d\u200c \u202e\u202d",
    "😀👩‍👩‍👧‍👦 🇩🇪 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ﷽ Z̴̡̪̈́a̷l̶g̸o̵",
    "עברית العربية 日本語の文。中文句子！한국어",
    "word " * 2000,
    "x" * 5000,
    "\n".join(f"- point {i} with 'quotes' and \\" for i in range(200)),
    "1. a\n2. b\n3. c",
    "\r\n\r\n  \t \r\n",
    "a" + "\u0301" * 500,
]


@pytest.mark.parametrize("topic", HOSTILE)
@pytest.mark.parametrize("description", HOSTILE[::-1])
def test_template_plans_always_pass_validation(topic, description):
    for max_scenes in (1, 2, 6, 50):
        spec = {"topic": topic, "description": description, "planner": {"maxScenes": max_scenes}}
        plan = Plan(plan_scenes(spec))
        assert validate_plan(plan, max_scenes=scene_limit(spec)) == []
        for s in plan.scenes:
            compile(s.code, s.name, "exec")
