import json

import pytest

from scenefarm_operator.engine import plan_store
from scenefarm_operator.engine.plan_store import MAX_REVISIONS_KEPT, PLAN_KEY, StoredPlan
from scenefarm_operator.planning.base import Plan, PlannedScene, TokenUsage

PLAN = Plan(
    (
        PlannedScene("intro", "Intro", "from manim import *\nclass Intro(Scene): pass\n", "Hello"),
        PlannedScene("first-law", "FirstLaw", "from manim import *\nclass FirstLaw(Scene): pass\n"),
        PlannedScene("ünïcode", "Unicode", "# π ≈ 3.14159\n"),
    ),
    TokenUsage(100, 40, 1),
)


def stored() -> tuple[StoredPlan, dict[str, str]]:
    return plan_store.from_plan(PLAN, "Gemini", 3)


def test_a_fresh_plan_stores_revision_1_of_each_scene_and_plan_json() -> None:
    plan, data = stored()
    assert sorted(data) == ["plan.json", "scene-00.r1.py", "scene-01.r1.py", "scene-02.r1.py"]
    assert [data[s.key] for s in plan.scenes] == [s.code for s in PLAN.scenes]
    assert [(s.index, s.name, s.class_name, s.revision) for s in plan.scenes] == [
        (0, "intro", "Intro", 1),
        (1, "first-law", "FirstLaw", 1),
        (2, "ünïcode", "Unicode", 1),
    ]
    assert plan.scenes[0].narration == "Hello"
    assert plan.scenes[1].sha256 == plan_store.sha256(PLAN.scenes[1].code)
    assert (plan.mode, plan.generation, plan.usage, plan.history) == ("Gemini", 3, TokenUsage(100, 40, 1), ())


def test_load_gives_back_what_from_plan_stored() -> None:
    plan, data = stored()
    assert plan_store.load(data) == plan
    assert [data[s.key] for s in plan.scenes] == [s.code for s in PLAN.scenes]


def test_load_gives_back_a_healed_plan_with_its_history() -> None:
    plan, data = stored()
    plan, data = plan_store.with_revision(plan, data, 1, "fixed", {"attempt": 1, "error": "NameError"})
    plan = plan_store.add_usage(plan, TokenUsage(10, 5, 1))
    data[PLAN_KEY] = plan_store.dump(plan)
    assert plan_store.load(data) == plan
    assert plan.usage == TokenUsage(110, 45, 2)


def test_healing_adds_a_revision_and_points_the_scene_at_it() -> None:
    plan, data = stored()
    healed, new_data = plan_store.with_revision(plan, data, 1, "fixed code", {"attempt": 1})
    assert healed.scene(1).revision == 2
    assert healed.scene(1).key == "scene-01.r2.py"
    assert healed.scene(1).sha256 == plan_store.sha256("fixed code")
    assert new_data["scene-01.r2.py"] == "fixed code"
    assert new_data["scene-01.r1.py"] == data["scene-01.r1.py"], "the previous revision is kept"
    assert healed.scene(0) == plan.scene(0) and healed.scene(2) == plan.scene(2)
    assert json.loads(new_data[PLAN_KEY])["scenes"][1]["revision"] == 2


def test_healing_does_not_modify_the_old_plan_or_data() -> None:
    plan, data = stored()
    before = dict(data)
    plan_store.with_revision(plan, data, 0, "fixed", {})
    assert data == before
    assert plan.scene(0).revision == 1


@pytest.mark.parametrize("fixes", [1, 2, 3, 4, 7])
def test_at_most_the_newest_revisions_are_kept(fixes: int) -> None:
    plan, data = stored()
    for n in range(fixes):
        plan, data = plan_store.with_revision(plan, data, 2, f"rev {n + 2}", {"attempt": n + 1})
    latest = fixes + 1
    kept = sorted(int(k.split(".r")[1].removesuffix(".py")) for k in data if k.startswith("scene-02."))
    assert kept == list(range(max(1, latest - MAX_REVISIONS_KEPT + 1), latest + 1))
    assert data[plan.scene(2).key] == f"rev {latest}"
    assert "scene-00.r1.py" in data and "scene-01.r1.py" in data


def test_the_healing_history_stays_bounded_and_keeps_the_newest() -> None:
    plan, data = stored()
    for n in range(30):
        plan, data = plan_store.with_revision(plan, data, n % 3, f"fix {n}", {"step": n})
    assert len(plan.history) == 20
    assert [h["step"] for h in plan.history] == list(range(10, 30))
    assert plan_store.load(data) == plan


def test_a_heavily_healed_plan_stays_far_below_the_configmap_limit() -> None:
    plan, data = stored()
    code = "x = 1\n" * 2000  # 12 kB per revision
    for n in range(60):
        plan, data = plan_store.with_revision(plan, data, n % 3, code + str(n), {"error": "E" * 200})
    per_scene = sum(1 for k in data if k.endswith(".py"))
    assert per_scene == 3 * MAX_REVISIONS_KEPT
    assert plan_store.size_of(data) < plan_store.CONFIGMAP_LIMIT / 5


SIZES = [
    # (case, data, size in bytes)
    ("empty", {}, 0),
    ("ascii", {"plan.json": "{}"}, 9 + 2),
    ("multi-byte values count in UTF-8 bytes", {"k": "π≈"}, 1 + 5),
    ("several keys", {"a": "1", "bb": "22"}, 2 + 4),
]


@pytest.mark.parametrize(("case", "data", "size"), SIZES, ids=[s[0] for s in SIZES])
def test_size_of(case: str, data: dict[str, str], size: int) -> None:
    assert plan_store.size_of(data) == size


UNUSABLE = [
    # (case, ConfigMap data)
    ("no plan.json", {"scene-00.r1.py": "code"}),
    ("not JSON", {PLAN_KEY: "{not json"}),
    ("JSON but not an object", {PLAN_KEY: "[]"}),
    ("null", {PLAN_KEY: "null"}),
    ("no scenes", {PLAN_KEY: json.dumps({"mode": "Template", "generation": 1})}),
    ("no mode", {PLAN_KEY: json.dumps({"generation": 1, "scenes": []})}),
    ("a bad generation", {PLAN_KEY: json.dumps({"mode": "Template", "generation": "two", "scenes": []})}),
    (
        "a scene with unknown fields",
        {PLAN_KEY: json.dumps({"mode": "T", "generation": 1, "scenes": [{"x": 1}]})},
    ),
    (
        "unknown usage fields",
        {PLAN_KEY: json.dumps({"mode": "T", "generation": 1, "scenes": [], "usage": {"x": 1}})},
    ),
]


@pytest.mark.parametrize(("case", "data"), UNUSABLE, ids=[u[0] for u in UNUSABLE])
def test_load_returns_none_for_a_configmap_without_a_usable_plan(case: str, data: dict[str, str]) -> None:
    assert plan_store.load(data) is None


def test_code_keys_are_valid_configmap_keys() -> None:
    import re

    for index, revision in ((0, 1), (49, 3), (120, 42)):
        assert re.fullmatch(r"[-._a-zA-Z0-9]+", plan_store.code_key(index, revision))


def edited(index: int, code: str) -> Plan:
    scenes = list(PLAN.scenes)
    scenes[index] = PlannedScene(scenes[index].name, scenes[index].class_name, code)
    return Plan(tuple(scenes), PLAN.usage)


def test_revise_bumps_only_the_scenes_whose_code_changed() -> None:
    plan, data = stored()
    revised, new_data = plan_store.revise(plan, data, edited(1, "# new code\n"), generation=4)

    assert [s.revision for s in revised.scenes] == [1, 2, 1]
    assert revised.generation == 4
    assert new_data["scene-01.r2.py"] == "# new code\n"
    assert new_data["scene-00.r1.py"] == data["scene-00.r1.py"]  # unchanged scenes keep their code
    assert plan_store.load(new_data) == revised


def test_revise_with_the_same_plan_changes_nothing_but_the_generation() -> None:
    plan, data = stored()
    revised, new_data = plan_store.revise(plan, data, PLAN, generation=9)

    assert [s.revision for s in revised.scenes] == [1, 1, 1]
    assert {k: v for k, v in new_data.items() if k != PLAN_KEY} == {
        k: v for k, v in data.items() if k != PLAN_KEY
    }


def test_revise_adds_new_scenes_at_revision_1_and_drops_removed_ones() -> None:
    plan, data = stored()
    longer = Plan((*PLAN.scenes, PlannedScene("extra", "Extra", "# extra\n")))
    grown, grown_data = plan_store.revise(plan, data, longer, generation=4)
    assert [(s.name, s.revision) for s in grown.scenes][-1] == ("extra", 1)
    assert grown_data["scene-03.r1.py"] == "# extra\n"

    shorter = Plan(PLAN.scenes[:1])
    shrunk, _ = plan_store.revise(plan, data, shorter, generation=5)
    assert [s.name for s in shrunk.scenes] == ["intro"]
