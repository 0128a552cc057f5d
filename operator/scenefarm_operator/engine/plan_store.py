"""The plan as stored in the `<vr>-plan` ConfigMap: one key per scene revision plus plan.json.

Scene code lives under `scene-NN.rR.py`; healing adds revision R+1 and keeps the older ones
(bounded). plan.json says which revision each scene renders now, so a restarted operator
resumes from the stored plan and never asks a planner twice for the same request.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from scenefarm_operator.planning.base import Plan, TokenUsage

PLAN_KEY = "plan.json"
MAX_REVISIONS_KEPT = 3
CONFIGMAP_LIMIT = 1_000_000  # bytes; the API server refuses ConfigMaps over 1 MiB


@dataclasses.dataclass(frozen=True)
class SceneEntry:
    index: int
    name: str
    class_name: str
    revision: int
    sha256: str
    narration: str = ""

    @property
    def key(self) -> str:
        return code_key(self.index, self.revision)


@dataclasses.dataclass(frozen=True)
class StoredPlan:
    mode: str
    generation: int
    scenes: tuple[SceneEntry, ...]
    usage: TokenUsage = dataclasses.field(default_factory=TokenUsage)
    history: tuple[Mapping[str, Any], ...] = ()  # healing steps, newest last

    def scene(self, index: int) -> SceneEntry:
        return self.scenes[index]


def code_key(index: int, revision: int) -> str:
    return f"scene-{index:02d}.r{revision}.py"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def from_plan(plan: Plan, mode: str, generation: int) -> tuple[StoredPlan, dict[str, str]]:
    """A fresh plan -> the stored plan and its ConfigMap data."""
    entries = []
    data: dict[str, str] = {}
    for index, scene in enumerate(plan.scenes):
        entry = SceneEntry(index, scene.name, scene.class_name, 1, sha256(scene.code), scene.narration)
        entries.append(entry)
        data[entry.key] = scene.code
    stored = StoredPlan(mode, generation, tuple(entries), plan.usage)
    data[PLAN_KEY] = dump(stored)
    return stored, data


def with_revision(
    stored: StoredPlan, data: Mapping[str, str], index: int, code: str, record: Mapping[str, Any]
) -> tuple[StoredPlan, dict[str, str]]:
    """Add revision R+1 of one scene's code; drop revisions older than MAX_REVISIONS_KEPT."""
    old = stored.scene(index)
    new = dataclasses.replace(old, revision=old.revision + 1, sha256=sha256(code))
    scenes = tuple(new if s.index == index else s for s in stored.scenes)
    updated = dict(data)
    updated[new.key] = code
    stale = code_key(index, new.revision - MAX_REVISIONS_KEPT)
    updated.pop(stale, None)
    result = dataclasses.replace(stored, scenes=scenes, history=(*stored.history, dict(record))[-20:])
    updated[PLAN_KEY] = dump(result)
    return result, updated


def revise(
    stored: StoredPlan, data: Mapping[str, str], plan: Plan, generation: int
) -> tuple[StoredPlan, dict[str, str]]:
    """A re-made plan over a stored one: scenes whose code or class changed get revision R+1.

    Scenes are matched by position; unchanged ones keep their revision (and so their video).
    """
    updated = {k: v for k, v in data.items() if k != PLAN_KEY}
    entries = []
    for index, scene in enumerate(plan.scenes):
        old = stored.scenes[index] if index < len(stored.scenes) else None
        digest = sha256(scene.code)
        if old is not None and old.sha256 == digest and old.class_name == scene.class_name:
            entries.append(dataclasses.replace(old, name=scene.name, narration=scene.narration))
            continue
        revision = old.revision + 1 if old is not None else 1
        entry = SceneEntry(index, scene.name, scene.class_name, revision, digest, scene.narration)
        updated[entry.key] = scene.code
        updated.pop(code_key(index, revision - MAX_REVISIONS_KEPT), None)
        entries.append(entry)
    result = dataclasses.replace(stored, generation=generation, scenes=tuple(entries))
    updated[PLAN_KEY] = dump(result)
    return result, updated


def add_usage(stored: StoredPlan, usage: TokenUsage) -> StoredPlan:
    return dataclasses.replace(stored, usage=stored.usage + usage)


def dump(stored: StoredPlan) -> str:
    return json.dumps(
        {
            "version": 1,
            "mode": stored.mode,
            "generation": stored.generation,
            "usage": dataclasses.asdict(stored.usage),
            "scenes": [dataclasses.asdict(s) for s in stored.scenes],
            "history": list(stored.history),
        },
        indent=1,
    )


def load(data: Mapping[str, str]) -> StoredPlan | None:
    """Parse plan.json; None when the ConfigMap holds no usable plan."""
    try:
        raw = json.loads(data[PLAN_KEY])
        scenes = tuple(SceneEntry(**s) for s in raw["scenes"])
        usage = TokenUsage(**raw.get("usage", {}))
        return StoredPlan(raw["mode"], int(raw["generation"]), scenes, usage, tuple(raw.get("history", ())))
    except (KeyError, TypeError, ValueError):
        return None


def size_of(data: Mapping[str, str]) -> int:
    return sum(len(k) + len(v.encode()) for k, v in data.items())


def room_for_fix(stored: StoredPlan, data: Mapping[str, str], index: int) -> str | None:
    """Why a fixed revision of scene `index` could not be stored, asked before the (paid) fix
    call: the stored plan with one more revision of the size of the current code (and a little
    history) would be over the ConfigMap limit. None when it fits."""
    scene = stored.scene(index)
    current = len(data.get(scene.key, "").encode())
    dropped = code_key(index, scene.revision + 1 - MAX_REVISIONS_KEPT)
    after = size_of(data) - len(dropped) - len(data.get(dropped, "").encode()) + 2 * current + 1024
    if after <= CONFIGMAP_LIMIT:
        return None
    return too_large(after, f"another revision of scene {scene.name!r}")


def too_large(size: int, what: str) -> str:
    return (
        f"{what} cannot be stored: the plan ConfigMap would hold {size} bytes, over the API "
        f"server's limit of {CONFIGMAP_LIMIT}; use fewer or shorter scenes"
    )
