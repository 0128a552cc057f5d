"""Planning as one step of the reconcile: choose the mode, resolve inputs, plan, validate.

The result is a `Plan` that passed validation, or a `PlanError` whose message says what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import kube
from .errors import PlanError
from .planning.base import Plan, Planner
from .planning.errors import PlanningError
from .planning.explicit import ExplicitPlanner, code_refs
from .planning.template import TemplatePlanner
from .planning.validation import scene_limit, validate_plan
from .settings import Settings


def mode_of(spec: Mapping[str, Any]) -> str:
    mode = (spec.get("planner") or {}).get("mode")
    return str(mode) if mode else ("Explicit" if spec.get("scenes") else "Template")


async def make_plan(namespace: str, spec: Mapping[str, Any], settings: Settings) -> Plan:
    try:
        planner = await planner_for(namespace, spec, settings)
        plan = await planner.plan(spec)
    except PlanningError as e:
        raise PlanError(str(e)) from e
    errors = validate_plan(plan, max_scenes=scene_limit(spec))
    if errors:
        raise PlanError("the plan is not valid: " + "; ".join(errors[:5]))
    return plan


async def planner_for(namespace: str, spec: Mapping[str, Any], settings: Settings) -> Planner:
    mode = mode_of(spec)
    if mode == "Explicit":
        resolved = {}
        for ref in code_refs(spec):
            data = await kube.read_configmap(namespace, ref.configmap) or {}
            if ref.key in data:
                resolved[ref.scene] = data[ref.key]
        return ExplicitPlanner(resolved)
    if mode == "Template":
        return TemplatePlanner()
    from .planning import gemini  # imported on use: google-genai is heavy

    return gemini.planner_from_settings(settings)
