"""Check a plan before any Job starts: shape, names, sizes, and the renderer's code policy.

The renderer applies the same code policy again inside the Pod (exit class 10); checking here
turns a doomed Job into an immediate, named error (or a re-ask of the LLM) instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from scenefarm_contract.policy import check_code as renderer_check_code
from scenefarm_operator.planning.base import Plan, PlannedScene
from scenefarm_operator.planning.template import DEFAULT_MAX_SCENES

HARD_MAX_SCENES = 50  # the CRD's maxItems for spec.scenes and maximum of planner.maxScenes
MAX_CODE_BYTES = 64 * 1024  # the CRD's maxLength of a scene's code; ConfigMaps hold 1 MiB in all
MAX_NAME_LENGTH = 40  # the CRD's maxLength of a scene name; leaves room in Job names
MAX_CLASS_NAME_LENGTH = 100

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # ASCII only: the renderer passes it on argv

CodeCheck = Callable[[str, str], list[str]]


def scene_limit(spec: Mapping[str, Any]) -> int:
    """How many scenes a plan for `spec` may have: explicit scenes up to 50, planned up to maxScenes."""
    if spec.get("scenes"):
        return HARD_MAX_SCENES
    value = (spec.get("planner") or {}).get("maxScenes", DEFAULT_MAX_SCENES)
    return min(value, HARD_MAX_SCENES) if isinstance(value, int) and value > 0 else DEFAULT_MAX_SCENES


def scene_errors(scene: PlannedScene, check_code: CodeCheck = renderer_check_code) -> list[str]:
    """What is wrong with one scene, each message naming it."""
    label = f"scene {scene.name!r}"
    errors = []
    if not _DNS_LABEL.match(scene.name) or len(scene.name) > MAX_NAME_LENGTH:
        errors.append(
            f"{label}: name must be a DNS label (lowercase letters, digits and '-', "
            f"starting and ending alphanumeric, at most {MAX_NAME_LENGTH} characters)"
        )
    if not _IDENTIFIER.match(scene.class_name) or len(scene.class_name) > MAX_CLASS_NAME_LENGTH:
        errors.append(f"{label}: className {scene.class_name!r} must be a Python identifier (ASCII)")
    size = len(scene.code.encode("utf-8", errors="surrogatepass"))
    if size > MAX_CODE_BYTES:
        errors.append(f"{label}: code is {size} bytes, more than the {MAX_CODE_BYTES} allowed")
    elif not scene.code.strip():
        errors.append(f"{label}: code is empty")
    elif _IDENTIFIER.match(scene.class_name):
        errors += [f"{label}: {violation}" for violation in check_code(scene.code, scene.class_name)]
    return errors


def validate_plan(
    plan: Plan, *, max_scenes: int = HARD_MAX_SCENES, check_code: CodeCheck = renderer_check_code
) -> list[str]:
    """Human-readable errors, empty when the plan may be rendered."""
    errors = []
    if not plan.scenes:
        errors.append("the plan has no scenes: at least one is needed")
    limit = min(max_scenes, HARD_MAX_SCENES)
    if len(plan.scenes) > limit:
        errors.append(f"the plan has {len(plan.scenes)} scenes, more than the {limit} allowed")
    seen: set[str] = set()
    for scene in plan.scenes:
        if scene.name in seen:
            errors.append(f"scene {scene.name!r}: the name is used by more than one scene")
        seen.add(scene.name)
        errors += scene_errors(scene, check_code)
    return errors
