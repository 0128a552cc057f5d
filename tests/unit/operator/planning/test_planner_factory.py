import dataclasses

import pytest

from scenefarm_operator.planning.explicit import ExplicitPlanner
from scenefarm_operator.planning.factory import mode_of, planner_for
from scenefarm_operator.planning.gemini import GeminiPlanner
from scenefarm_operator.planning.template import TemplatePlanner
from scenefarm_operator.support.errors import PlanningError


@dataclasses.dataclass(frozen=True)
class Settings:
    gemini_api_key: str = "key"
    gemini_model: str = "gemini-2.5-flash-lite"
    gemini_base_url: str = "http://127.0.0.1:1"


@pytest.mark.parametrize(
    ("spec", "mode"),
    [
        ({}, "Template"),
        ({"scenes": [{"name": "a"}]}, "Explicit"),
        ({"planner": {"mode": "Gemini"}}, "Gemini"),
        ({"planner": {"maxScenes": 3}}, "Template"),
    ],
)
def test_mode_defaults_to_explicit_with_scenes_and_template_without(spec, mode):
    assert mode_of(spec) == mode


def test_each_mode_gets_its_planner():
    assert isinstance(planner_for("Explicit", Settings()), ExplicitPlanner)
    assert isinstance(planner_for("Template", Settings()), TemplatePlanner)
    gemini = planner_for("Gemini", Settings())
    assert isinstance(gemini, GeminiPlanner)
    assert (gemini.options.api_key, gemini.options.model, gemini.options.base_url) == (
        "key",
        "gemini-2.5-flash-lite",
        "http://127.0.0.1:1",
    )


def test_unknown_modes_are_a_planning_error():
    with pytest.raises(PlanningError, match=r"unknown planner\.mode 'Claude'"):
        planner_for("Claude", Settings())
