"""Choose the planner for a VideoRequest's `spec.planner.mode`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from scenefarm_operator.planning.base import Planner
from scenefarm_operator.planning.explicit import ExplicitPlanner
from scenefarm_operator.planning.template import TemplatePlanner
from scenefarm_operator.support.errors import PlanningError

MODES = ("Explicit", "Template", "Gemini")


class GeminiSettings(Protocol):
    """The part of the operator's `Settings` the Gemini planner reads."""

    @property
    def gemini_api_key(self) -> str: ...
    @property
    def gemini_model(self) -> str: ...
    @property
    def gemini_base_url(self) -> str: ...


def mode_of(spec: Mapping[str, Any]) -> str:
    """`spec.planner.mode`, defaulting to Explicit with `spec.scenes` and to Template without."""
    mode = (spec.get("planner") or {}).get("mode")
    return str(mode) if mode else ("Explicit" if spec.get("scenes") else "Template")


def planner_for(
    mode: str,
    settings: GeminiSettings,
    *,
    resolved_code: Mapping[str, str] | None = None,
) -> Planner:
    """The planner for `mode`; `resolved_code` is the Explicit planner's ConfigMap code by scene."""
    if mode == "Explicit":
        return ExplicitPlanner(resolved_code)
    if mode == "Template":
        return TemplatePlanner()
    if mode == "Gemini":
        from scenefarm_operator.planning.gemini import GeminiOptions, GeminiPlanner  # google-genai is heavy

        return GeminiPlanner(GeminiOptions.from_settings(settings))
    raise PlanningError(f"unknown planner.mode {mode!r}: use one of {', '.join(MODES)}")
