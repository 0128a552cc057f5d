"""Planner effects, performed: plan, re-plan and fix, each answer stored before anything uses it.

A plan or a fix is stored in the `<vr>-plan` ConfigMap (a new code revision). What a call that
gave no code leaves behind (an outage with its next try, or an error for good) is stored in the
status (`status.planning`, `status.healing`), so that the next pass, in this process or in a
restarted one, decides from it. The stored plan is cached here; only this loop writes it.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import kopf

from scenefarm_contract import phases
from scenefarm_contract.backoff import Backoff, after_outage, planner_outages
from scenefarm_contract.clock import iso
from scenefarm_operator.engine import effects as fx
from scenefarm_operator.engine import healing, plan_store
from scenefarm_operator.engine.manifests import jobs as manifests
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.engine.manifests.owner import owned_by
from scenefarm_operator.planning.base import PlannedScene
from scenefarm_operator.runtime import kube
from scenefarm_operator.runtime.planning_step import fix_scene, make_plan, mode_of
from scenefarm_operator.support.errors import PlannerBusy, PlanningError
from scenefarm_operator.support.settings import Settings

if TYPE_CHECKING:
    from scenefarm_operator.engine.decide import Inputs

Obj = Mapping[str, Any]
REPLANNED_MODES = ("Explicit", "Template")  # deterministic: a spec edit re-renders what changed


def _event(body: Obj, reason: str, message: str, warning: bool = False) -> None:
    (kopf.warn if warning else kopf.info)(body, reason=reason, message=message)  # type: ignore[arg-type]


class PlannerCalls:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.outages = planner_outages(settings.planner_retry_base_seconds)
        self.plan: plan_store.StoredPlan | None = None  # cache of the plan ConfigMap
        self.data: dict[str, str] = {}
        self.leftover: str | None = None  # the plan ConfigMap's name, while a namesake's holds it
        self.wrote_planning = False  # this process wrote status.planning (an outage, an error)

    async def stored_plan(self, meta: Obj) -> plan_store.StoredPlan | None:
        """The plan from this request's ConfigMap. A ConfigMap of that name owned by another uid
        (a deleted namesake's, not yet collected) is never read: `leftover` names it."""
        self.leftover = None
        if self.plan is None:
            data = await self._owned_plan_data(meta)
            stored = plan_store.load(data) if data else None
            if stored is not None:
                self.plan, self.data = stored, dict(data or {})
        return self.plan

    async def _owned_plan_data(self, meta: Obj) -> dict[str, str] | None:
        name = naming.plan_configmap_name(meta["name"])
        configmap = await kube.get_configmap(meta["namespace"], name)
        if configmap is None:
            return None
        if not owned_by(configmap, str(meta.get("uid", ""))):
            self.leftover = name
            return None
        return dict(configmap.get("data") or {})

    async def perform(self, body: Obj, inputs: Inputs, calls: tuple[fx.Effect, ...], status: Obj) -> None:
        for call in calls:
            if isinstance(call, fx.AskPlan):
                await self.ask_plan(body, call, inputs.now, status)
            elif isinstance(call, fx.Replan):
                await self.replan(body, call)
            elif isinstance(call, fx.AskFix):
                await self.ask_fix(body, call, inputs.now, status)

    # ---- plan --------------------------------------------------------------------------------

    async def ask_plan(self, body: Obj, call: fx.AskPlan, now: datetime.datetime, status: Obj) -> None:
        meta, spec = body["metadata"], body["spec"]
        served = {"retryGeneration": call.retry} if call.retry is not None else {}
        try:
            plan = await make_plan(meta["namespace"], spec, self.settings)
        except PlannerBusy as e:
            await self._patch(
                body, {"planning": _outage(status.get("planning") or {}, str(e), now, self.outages)} | served
            )
            _event(body, "PlannerUnavailable", str(e), warning=True)
            return
        except PlanningError as e:
            await self._patch(body, {"planning": {"error": str(e)}} | served)
            _event(body, "PlanningFailed", str(e), warning=True)
            return
        stored, data = plan_store.from_plan(plan, mode_of(spec), int(meta.get("generation", 1)))
        if plan_store.size_of(data) > plan_store.CONFIGMAP_LIMIT:
            error = "the plan's code is over 1 MiB in total; use fewer or shorter scenes"
            await self._patch(body, {"planning": {"error": error}} | served)
            return
        if not await kube.create(manifests.plan_configmap(body, data)):  # an earlier pass planned first
            existing = await self._owned_plan_data(meta)
            if existing is None:  # a deleted namesake's, made meanwhile: this answer cannot be stored
                _event(body, "WaitingForNamesake", f"configmap {self.leftover} belongs to another request")
                return
            stored, data = plan_store.load(existing) or stored, existing
        self.plan, self.data = stored, data
        if status.get("planning") is not None or served or self.wrote_planning:  # else it changes nothing
            await self._patch(body, {"planning": None} | served)
        _event(body, "Planned", f"{len(stored.scenes)} scenes ({stored.mode})")

    async def replan(self, body: Obj, call: fx.Replan) -> None:
        """The spec changed: in deterministic modes, scenes whose code changed get a new revision."""
        assert self.plan is not None
        meta, spec = body["metadata"], body["spec"]
        old = self.plan
        stored: plan_store.StoredPlan = dataclasses.replace(old, generation=call.generation)
        data = dict(self.data) | {plan_store.PLAN_KEY: plan_store.dump(stored)}
        if old.mode in REPLANNED_MODES and mode_of(spec) == old.mode:
            try:
                plan = await make_plan(meta["namespace"], spec, self.settings)
            except PlanningError as e:
                _event(
                    body, "PlanningFailed", f"the edited spec cannot be planned, keeping the plan: {e}", True
                )
            else:
                stored, data = plan_store.revise(old, self.data, plan, call.generation)
                if plan_store.size_of(data) > plan_store.CONFIGMAP_LIMIT:  # refused for this generation
                    text = plan_store.too_large(plan_store.size_of(data), "the edited plan")
                    _event(body, "Refused", text, warning=True)
                    object_ = f"configmap {naming.plan_configmap_name(meta['name'])}"
                    refusal = {"generation": call.generation, "object": object_, "message": text}
                    await self._patch(body, {"refusal": refusal})
                    return
                changed = [s.name for s in stored.scenes if s not in old.scenes]
                if changed or len(stored.scenes) != len(old.scenes):
                    _event(body, "Replanned", f"spec changed: re-rendering {', '.join(changed) or 'nothing'}")
        await self._store(meta, data)
        self.plan = stored

    # ---- fix ---------------------------------------------------------------------------------

    async def ask_fix(self, body: Obj, call: fx.AskFix, now: datetime.datetime, status: Obj) -> None:
        assert self.plan is not None
        meta = body["metadata"]
        scene = self.plan.scene(call.index)
        _event(body, phases.HEALING, f"scene {scene.name!r}: {call.reason}")
        planned = PlannedScene(scene.name, scene.class_name, self.data.get(scene.key, ""), scene.narration)
        record = healing.healing_record(status, call.index, call.attempt)
        no_room = plan_store.room_for_fix(self.plan, self.data, call.index)
        if no_room is not None:  # the answer could not be stored: do not pay for it
            await self._fix_failed(body, status, call, scene.name, no_room)
            return
        try:
            fixed = await fix_scene(
                meta["namespace"], body["spec"], self.settings, planned, call.facts.error_tail
            )
        except PlannerBusy as e:
            _event(body, "PlannerUnavailable", f"scene {scene.name!r}: {e}", warning=True)
            record = healing.fix_outage(record, call.index, call.attempt, str(e), now, policy=self.outages)
            await self._patch_healing(body, status, record)
            return
        except PlanningError as e:
            await self._fix_failed(body, status, call, scene.name, f"the planner could not fix the code: {e}")
            return
        history = {
            "scene": scene.index,
            "revision": scene.revision + 1,
            "exitClass": int(call.facts.exit_class) if call.facts.exit_class is not None else None,
            "error": call.facts.error_tail[-500:],
            "at": iso(now),
        }
        stored, data = plan_store.with_revision(self.plan, self.data, scene.index, fixed.code, history)
        stored = plan_store.add_usage(stored, fixed.usage)
        data[plan_store.PLAN_KEY] = plan_store.dump(stored)
        if plan_store.size_of(data) > plan_store.CONFIGMAP_LIMIT:  # longer than the estimate
            error = plan_store.too_large(plan_store.size_of(data), f"the fixed code of scene {scene.name!r}")
            await self._fix_failed(body, status, call, scene.name, error)
            return
        await self._store(meta, data)
        self.plan = stored
        await self._patch_healing(body, status, None, drop=(call.index, call.attempt))
        _event(body, "Fixed", f"scene {scene.name!r}: revision {scene.revision + 1} stored")

    async def _fix_failed(self, body: Obj, status: Obj, call: fx.AskFix, scene: str, error: str) -> None:
        """The fix ends for good (recorded in status.healing: the scene then fails with it)."""
        _event(body, "FixFailed", f"scene {scene!r}: {error}", warning=True)
        await self._patch_healing(
            body, status, {"index": call.index, "attempt": call.attempt, "error": error}
        )

    # ---- storing -----------------------------------------------------------------------------

    async def _store(self, meta: Obj, data: dict[str, str]) -> None:
        patch: dict[str, str | None] = {k: None for k in self.data if k not in data}
        patch |= {k: v for k, v in data.items() if self.data.get(k) != v}
        if patch:
            await kube.patch_configmap_data(
                meta["namespace"], naming.plan_configmap_name(meta["name"]), patch
            )
        self.data = data

    async def _patch_healing(
        self, body: Obj, status: Obj, record: dict[str, Any] | None, drop: tuple[int, int] | None = None
    ) -> None:
        key = drop if record is None else (int(record["index"]), int(record["attempt"]))
        kept = [r for r in status.get("healing") or () if (r.get("index"), r.get("attempt")) != key]
        await self._patch(body, {"healing": [*kept, record] if record else kept})

    async def _patch(self, body: Obj, patch: dict[str, Any]) -> None:
        self.wrote_planning = self.wrote_planning or patch.get("planning") is not None
        await kube.patch_status(body["metadata"]["namespace"], body["metadata"]["name"], patch)


def _outage(planning: Obj, error: str, now: datetime.datetime, policy: Backoff) -> dict[str, Any]:
    """status.planning after the planner was unreachable again: the next try, or the end."""
    tries = int(planning.get("outages") or 0) + 1
    return after_outage(planning, error, now, policy, gave_up=f"{error}; gave up after {tries} tries")
