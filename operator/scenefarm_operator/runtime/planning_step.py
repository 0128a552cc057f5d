"""Planning as one step of the reconcile: choose the mode, resolve inputs, plan, validate, fix.

The result is a `Plan` (or a `Fix`) that passed validation, or a `PlanningError` whose message
says what to fix (`PlannerBusy`: try again later).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scenefarm_operator.planning.base import Fix, Plan, PlannedScene, Planner
from scenefarm_operator.planning.explicit import code_refs
from scenefarm_operator.planning.factory import mode_of, planner_for
from scenefarm_operator.planning.validation import scene_limit, validate_plan
from scenefarm_operator.runtime import kube
from scenefarm_operator.support.errors import InvalidPlan
from scenefarm_operator.support.settings import Settings

__all__ = ["fix_scene", "make_plan", "mode_of"]


async def make_plan(namespace: str, spec: Mapping[str, Any], settings: Settings) -> Plan:
    planner = await _planner(namespace, spec, settings)
    plan = await planner.plan(spec)
    errors = validate_plan(plan, max_scenes=scene_limit(spec))
    if errors:
        raise InvalidPlan("the plan is not valid: " + "; ".join(errors[:5]))
    return plan


async def fix_scene(
    namespace: str, spec: Mapping[str, Any], settings: Settings, scene: PlannedScene, error_tail: str
) -> Fix:
    """New code for a scene whose code failed; the planner validates it before returning."""
    planner = await _planner(namespace, spec, settings)
    return await planner.fix(spec, scene, error_tail)


async def _planner(namespace: str, spec: Mapping[str, Any], settings: Settings) -> Planner:
    resolved = {}
    for ref in code_refs(spec):
        data = await kube.read_configmap(namespace, ref.configmap) or {}
        if ref.key in data:
            resolved[ref.scene] = data[ref.key]
    return planner_for(mode_of(spec), settings, resolved_code=resolved)
