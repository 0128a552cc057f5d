"""The Explicit planner: the user wrote the scenes; turn `spec.scenes` into a Plan.

Scenes may carry their code inline (`code`) or point at a ConfigMap key
(`codeFrom.configMapKeyRef`). This module does no I/O: the operator lists the references
with `code_refs(spec)`, reads those ConfigMaps, and passes the texts in as `resolved_code`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from scenefarm_operator.planning.base import Fix, Plan, PlannedScene
from scenefarm_operator.support.errors import FixNotSupported, InvalidPlan


@dataclasses.dataclass(frozen=True)
class CodeRef:
    """Scene `scene` takes its code from key `key` of ConfigMap `configmap` (same namespace)."""

    scene: str
    configmap: str
    key: str


def code_refs(spec: Mapping[str, Any]) -> list[CodeRef]:
    """The ConfigMap keys the operator must read before calling `ExplicitPlanner.plan`."""
    refs = []
    for scene in spec.get("scenes") or []:
        ref = ((scene.get("codeFrom") or {}).get("configMapKeyRef")) or None
        if ref and "code" not in scene:
            refs.append(CodeRef(scene=scene["name"], configmap=ref["name"], key=ref["key"]))
    return refs


class ExplicitPlanner:
    """`base.Planner` for `spec.scenes`; `resolved_code` maps a scene name to its ConfigMap code."""

    def __init__(self, resolved_code: Mapping[str, str] | None = None) -> None:
        self._resolved = dict(resolved_code or {})

    async def plan(self, spec: Mapping[str, Any]) -> Plan:
        scenes, missing = [], []
        for scene in spec.get("scenes") or []:
            name = str(scene.get("name", ""))
            code = scene.get("code")
            if code is None:
                code = self._resolved.get(name)
            if code is None:
                ref = (scene.get("codeFrom") or {}).get("configMapKeyRef") or {}
                missing.append(
                    f"scene {name!r}: no code: set spec.scenes[].code, or make key {ref.get('key')!r} "
                    f"exist in ConfigMap {ref.get('name')!r}"
                )
                continue
            class_name, narration = str(scene.get("className", "")), str(scene.get("narration") or "")
            scenes.append(PlannedScene(name=name, class_name=class_name, code=code, narration=narration))
        if missing:
            raise InvalidPlan("some explicit scenes have no code", missing)
        if not scenes:
            raise InvalidPlan("planner.mode Explicit needs spec.scenes with at least one scene")
        return Plan(scenes=tuple(scenes))

    async def fix(self, spec: Mapping[str, Any], scene: PlannedScene, error_tail: str) -> Fix:
        raise FixNotSupported(
            f"scene {scene.name!r}: Explicit scenes are the user's code and are never rewritten; "
            "fix the code in spec.scenes (the error is in the scene's status message)"
        )
