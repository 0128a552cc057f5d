"""One VideoRequest's reconcile loop: plan, launch scene Jobs, heal, combine, publish status.

Each pass reads what exists (the plan ConfigMap, the Jobs and Pods from the watch-fed indexes),
decides, acts, and publishes the status derived from it. A pass can run any number of times
and at any moment (after a crash, a restart, an event storm) with the same result: children
have deterministic names, so "create" of something that exists is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx2
import kopf
from lightkube.core.exceptions import ApiError

from . import aggregation, conditions, kube, lifecycle, manifests, naming, plan_store
from .errors import PlanError, PlannerOutage
from .healing import FixLater, Healer, NextAttempt
from .planning.base import PlannedScene
from .planning.triage import FailedAttempt
from .planning_step import fix_scene, make_plan, mode_of
from .scheduling import Admission
from .settings import Settings
from .wakeups import Wakeups

if TYPE_CHECKING:
    from .appwrite import AppwriteMirror

Obj = Mapping[str, Any]
ERROR_BACKOFF = (0.5, 1, 2, 5, 10)
PLANNER_OUTAGE_BACKOFF = (15, 30, 60, 120, 240)  # seconds; then planning fails for good
REPLANNED_MODES = ("Explicit", "Template")  # deterministic: a spec edit re-renders what changed


@dataclasses.dataclass
class Shared:
    """Process-wide state, made at startup and shared by every request's loop."""

    settings: Settings
    admission: Admission
    wakeups: Wakeups
    jobs: Callable[[tuple[str, str]], Sequence[Obj]]  # (ns, request label) -> Jobs
    pods: Callable[[tuple[str, str]], Sequence[Obj]]  # (ns, job name) -> Pods
    mirror: AppwriteMirror | None = None  # the Appwrite mirror, when configured


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def now() -> str:
    return utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")


def request_key(body: Obj) -> tuple[str, str]:
    meta = body["metadata"]
    return meta["namespace"], naming.base_name(meta["name"], 63)


def event(body: Obj, reason: str, message: str, warning: bool = False) -> None:
    (kopf.warn if warning else kopf.info)(body, reason=reason, message=message)  # type: ignore[arg-type]


class RequestLoop:
    """The reconcile loop of one VideoRequest, run by its kopf daemon."""

    def __init__(self, shared: Shared, body: kopf.Body, logger: logging.Logger | logging.LoggerAdapter[Any]):
        self.shared = shared
        self.body = body  # kopf keeps it live: always the latest state of the resource
        self.logger = logger
        self.key = request_key(body)
        self.plan: plan_store.StoredPlan | None = None
        self.plan_data: dict[str, str] = {}
        self.planning_error: str | None = None
        self.launched: dict[str, Obj] = {}  # created by us, not yet seen by the watch
        self.combines: dict[str, Obj] = {}
        self.published: dict[str, Any] | None = None
        self.healer = Healer(shared.settings, self.wake_later)
        self.retry_generation = 0  # the spec.retryGeneration being served
        self.last_error: str | None = None  # the API error being reported, if any
        self.planning_outages = 0  # planner outages met so far (each retried after a backoff)
        self.planning_wait_until = 0.0  # loop time before which planning is not tried again

    # ---- the loop ----------------------------------------------------------------------

    async def run(self, stopped: kopf.DaemonStopped) -> None:
        failures = 0
        while not stopped:
            try:
                await self.reconcile()
                failures = 0
            except (ApiError, OSError, httpx2.HTTPError) as e:  # API hiccups: log, back off, go again
                delay = ERROR_BACKOFF[min(failures, len(ERROR_BACKOFF) - 1)]
                failures += 1
                self.logger.warning(f"reconcile failed, retrying in {delay}s: {e}")
                await self.report_error(e)
                await asyncio.sleep(delay)
                continue
            self.last_error = None
            await self.shared.wakeups.wait(self.key, self.shared.settings.resync_seconds)
            await asyncio.sleep(self.shared.settings.reconcile_debounce_seconds)
        self.shared.admission.forget(self.key)
        self.shared.wakeups.drop(self.key)

    def wake_later(self, delay: float) -> None:
        self.shared.wakeups.wake_later(self.key, delay)

    async def reconcile(self) -> None:
        body = self.snapshot()
        meta, spec, previous = body["metadata"], body["spec"], body["status"]
        if meta.get("deletionTimestamp"):
            return
        if lifecycle.is_settled(meta, previous):
            self.shared.admission.forget(self.key)
            await self.publish(body, self.mirrored(body, dict(previous)))  # re-sync after restarts
            await self.expire(body)
            return
        if self.plan is None and self.planning_error is None:
            if asyncio.get_running_loop().time() >= self.planning_wait_until:
                await self.ensure_plan(body)
        elif self.plan is not None and int(meta.get("generation", 1)) > self.plan.generation:
            await self.replan(body)
        if lifecycle.retry_requested(spec, previous) and self.retry_generation < int(spec["retryGeneration"]):
            self.retry_generation = int(spec["retryGeneration"])
            self.healer.forget_failures()
            if self.plan is None:  # planning failed: a retry plans again
                self.planning_error, self.planning_outages = None, 0
                await self.ensure_plan(body)
            event(body, "RetryRequested", f"retryGeneration {self.retry_generation}: failed scenes run again")
        observed = self.observe(body)
        left = lifecycle.seconds_left(spec, previous.get("startedAt"), utcnow())
        deadline_exceeded = left is not None and left <= 0
        queued: list[int] = []
        if spec.get("cancel") or deadline_exceeded:
            await self.stop_all(body, observed)
        elif self.plan is not None:
            await self.apply_suspend(body, observed)
            if not spec.get("suspend"):
                forced = self.retry_generation > int(previous.get("retryGeneration") or 0)
                due = await self.healer.due_attempts(self.plan, observed, spec, self.fix_code, force=forced)
                queued = await self.launch_scenes(body, observed, due)
                observed = self.observe(body)
                await self.combine(body, observed)
        if left is not None and left > 0:
            self.wake_later(left + 0.1)
        observed = self.with_combine(body, observed)
        status = self.mirrored(body, self.derive(body, observed, queued, deadline_exceeded))
        if status["phase"] in lifecycle.TERMINAL:
            self.shared.admission.forget(self.key)
        await self.publish(body, status)

    def snapshot(self) -> dict[str, Any]:
        return {
            "apiVersion": self.body.get("apiVersion", f"{naming.GROUP}/{naming.VERSION}"),
            "kind": self.body.get("kind", naming.KIND),
            "metadata": dict(self.body["metadata"]),
            "spec": dict(self.body.get("spec") or {}),
            "status": dict(self.body.get("status") or {}),
        }

    async def report_error(self, error: Exception) -> None:
        """Make an API failure visible on the resource (an Event, and Reconciling's message).

        Best effort: the failing call may be the status patch itself (e.g. RBAC refuses it).
        """
        text = str(error.status.message) if isinstance(error, ApiError) else str(error)
        message = f"the Kubernetes API refused a call, retrying: {text}"
        if message == self.last_error:
            return
        self.last_error = message
        body = self.snapshot()
        event(body, "ApiError", message, warning=True)
        generation = int(body["metadata"].get("generation", 1))
        phase = body["status"].get("phase") or "Pending"
        desired = conditions.for_phase(phase, "ApiError", message, generation)  # Ready=False, Reconciling
        merged = conditions.merge(body["status"].get("conditions") or (), desired, now())
        self.published = None  # the next publish compares with what the server has
        patch = {"phase": phase, "conditions": merged, "observedGeneration": generation}
        with contextlib.suppress(ApiError, OSError, httpx2.HTTPError):
            await kube.patch_status(body["metadata"]["namespace"], body["metadata"]["name"], patch)

    # ---- planning ----------------------------------------------------------------------

    async def ensure_plan(self, body: Obj) -> None:
        meta = body["metadata"]
        cm_name = naming.plan_configmap_name(meta["name"])
        data = await kube.read_configmap(meta["namespace"], cm_name)
        stored = plan_store.load(data) if data else None
        if stored is not None:
            self.plan, self.plan_data = stored, dict(data or {})
            return
        spec = body.get("spec") or {}
        if mode_of(spec) not in REPLANNED_MODES:  # a slow (LLM) planner: show Ready=False at once
            await self.publish(body, self.mirrored(body, self.derive(body, self.observe(body), [])))
        try:
            plan = await make_plan(meta["namespace"], spec, self.shared.settings)
        except PlannerOutage as e:
            if self.planning_outages < len(PLANNER_OUTAGE_BACKOFF):
                delay = PLANNER_OUTAGE_BACKOFF[self.planning_outages]
                self.planning_outages += 1
                event(body, "PlannerUnavailable", f"{e}; planning again in {delay}s", warning=True)
                self.wake_later(delay)
                self.planning_wait_until = asyncio.get_running_loop().time() + delay
                return
            self.planning_error = f"{e}; gave up after {self.planning_outages + 1} tries"
            event(body, "PlanningFailed", self.planning_error, warning=True)
            return
        except PlanError as e:
            self.planning_error = str(e)
            event(body, "PlanningFailed", str(e), warning=True)
            return
        stored, data = plan_store.from_plan(plan, mode_of(spec), int(meta.get("generation", 1)))
        if plan_store.size_of(data) > plan_store.CONFIGMAP_LIMIT:
            self.planning_error = "the plan's code is over 1 MiB in total; use fewer or shorter scenes"
            return
        if not await kube.create(manifests.plan_configmap(body, data)):
            existing = await kube.read_configmap(meta["namespace"], cm_name) or {}
            stored = plan_store.load(existing) or stored  # another pass planned first: keep it
            data = existing or data
        self.plan, self.plan_data = stored, dict(data)
        event(body, "Planned", f"{len(stored.scenes)} scenes ({stored.mode})")

    async def replan(self, body: Obj) -> None:
        """The spec changed: in deterministic modes, scenes whose code changed get a new revision."""
        assert self.plan is not None
        meta, spec = body["metadata"], body["spec"]
        generation = int(meta.get("generation", 1))
        if self.plan.mode not in REPLANNED_MODES or mode_of(spec) != self.plan.mode:
            self.plan = dataclasses.replace(self.plan, generation=generation)
            return
        try:
            plan = await make_plan(meta["namespace"], spec, self.shared.settings)
        except PlanError as e:
            event(
                body, "PlanningFailed", f"the edited spec cannot be planned, keeping the old plan: {e}", True
            )
            self.plan = dataclasses.replace(self.plan, generation=generation)
            return
        stored, data = plan_store.revise(self.plan, self.plan_data, plan, generation)
        changed = [s.name for s, old in zip(stored.scenes, self.plan.scenes, strict=False) if s != old]
        changed += [s.name for s in stored.scenes[len(self.plan.scenes) :]]
        if changed or len(stored.scenes) != len(self.plan.scenes):
            await self.store_plan(meta, data)
            event(body, "Replanned", f"spec changed: re-rendering {', '.join(changed) or 'nothing'}")
        self.plan, self.plan_data = stored, data

    async def store_plan(self, meta: Obj, data: dict[str, str]) -> None:
        patch: dict[str, str | None] = {k: None for k in self.plan_data if k not in data}
        patch |= {k: v for k, v in data.items() if self.plan_data.get(k) != v}
        await kube.patch_configmap_data(meta["namespace"], naming.plan_configmap_name(meta["name"]), patch)

    async def fix_code(self, scene: plan_store.SceneEntry, facts: FailedAttempt, reason: str) -> str | None:
        """Ask the planner for new code; store it as the scene's next revision. None when stored."""
        assert self.plan is not None
        body = self.snapshot()
        meta = body["metadata"]
        event(body, "Healing", f"scene {scene.name!r}: {reason}")
        await self.publish(body, self.derive(body, self.observe(body), []))
        code = self.plan_data.get(scene.key, "")
        planned = PlannedScene(scene.name, scene.class_name, code, scene.narration)
        try:
            fixed = await fix_scene(
                meta["namespace"], body["spec"], self.shared.settings, planned, facts.error_tail
            )
        except PlannerOutage as e:
            event(body, "PlannerUnavailable", f"scene {scene.name!r}: {e}", warning=True)
            raise FixLater(str(e)) from e
        except PlanError as e:
            event(body, "FixFailed", f"scene {scene.name!r}: {e}", warning=True)
            return f"the planner could not fix the code: {e}"
        record = {
            "scene": scene.index,
            "revision": scene.revision + 1,
            "exitClass": int(facts.exit_class) if facts.exit_class is not None else None,
            "error": facts.error_tail[-500:],
            "at": now(),
        }
        stored, data = plan_store.with_revision(self.plan, self.plan_data, scene.index, fixed.code, record)
        stored = plan_store.add_usage(stored, fixed.usage)
        data[plan_store.PLAN_KEY] = plan_store.dump(stored)
        await self.store_plan(meta, data)
        self.plan, self.plan_data = stored, data
        event(body, "Fixed", f"scene {scene.name!r}: revision {scene.revision + 1} stored")
        return None

    # ---- observing ---------------------------------------------------------------------

    def observe(self, body: Obj) -> aggregation.Observed:
        jobs = {j["metadata"]["name"]: j for j in self.shared.jobs(self.key)}
        for name in [n for n in self.launched if n in jobs]:
            del self.launched[name]  # the watch has caught up
        jobs = {**self.launched, **jobs}
        scene_jobs: dict[int, list[Obj]] = {}
        self.combines = {}
        for name, job in jobs.items():
            labels = job["metadata"].get("labels", {})
            if labels.get(naming.ROLE_LABEL) == "combine":
                self.combines[name] = job
            elif labels.get(naming.SCENE_LABEL, "").isdigit():
                scene_jobs.setdefault(int(labels[naming.SCENE_LABEL]), []).append(job)
        pods = {name: self.shared.pods((self.key[0], name)) for name in jobs}
        recorded = {
            int(s["index"]): s for s in (body["status"].get("scenes") or ()) if s.get("phase") == "Succeeded"
        }
        return aggregation.Observed(scene_jobs, None, pods, recorded)

    def with_combine(self, body: Obj, observed: aggregation.Observed) -> aggregation.Observed:
        """Pick the combine Job made for exactly the current inputs (if the scenes are done)."""
        desired = self.desired_combine(body, observed)
        name = naming.combine_job_name(body["metadata"]["name"], desired[0]) if desired else ""
        return dataclasses.replace(observed, combine_job=self.combines.get(name))

    def desired_combine(self, body: Obj, observed: aggregation.Observed) -> tuple[str, list[int]] | None:
        """The input digest and scene indexes of the combine the scenes call for now, if any."""
        if self.plan is None:
            return None
        h = self.healer
        scenes = aggregation.scene_statuses(
            self.plan, observed, (), h.healing, retrying=h.retrying, failures=h.failures
        )
        if aggregation.verdict(body["spec"], scenes, None).phase != "Combining":
            return None
        indexes, digest = lifecycle.combine_inputs(scenes, self.retry_generation)
        return digest, indexes

    # ---- acting ------------------------------------------------------------------------

    async def apply_suspend(self, body: Obj, observed: aggregation.Observed) -> None:
        want = bool(body["spec"].get("suspend"))
        for jobs in observed.scene_jobs.values():
            for job in jobs:
                finished = aggregation.outcome(job, ()).phase in ("Succeeded", "Failed")
                if not finished and bool(job.get("spec", {}).get("suspend")) != want:
                    await kube.set_job_suspended(body["metadata"]["namespace"], job["metadata"]["name"], want)
                    event(body, "Suspended" if want else "Resumed", f"job {job['metadata']['name']}")

    async def stop_all(self, body: Obj, observed: aggregation.Observed) -> None:
        """Cancel or deadline: delete every unfinished Job of this request."""
        jobs = [j for js in observed.scene_jobs.values() for j in js] + list(self.combines.values())
        for job in jobs:
            if aggregation.outcome(job, ()).phase not in ("Succeeded", "Failed"):
                await kube.delete_job(body["metadata"]["namespace"], job["metadata"]["name"])
        self.shared.admission.forget(self.key)

    async def launch_scenes(
        self, body: Obj, observed: aggregation.Observed, due: list[NextAttempt]
    ) -> list[int]:
        """Create the next scene Jobs allowed by parallelism and the cluster-wide cap.

        Retries go first (they are older work), then scenes that never ran, in scene order.
        Returns the scenes left waiting for a slot.
        """
        assert self.plan is not None
        spec, name = body["spec"], body["metadata"]["name"]
        done_before = set(observed.recorded)
        fresh = [
            NextAttempt(s.index, 1)
            for s in self.plan.scenes
            if observed.latest(s.index) is None
            and not (s.index in done_before and observed.recorded[s.index].get("revision") == s.revision)
        ]
        candidates = due + fresh
        busy = sum(
            1
            for jobs in observed.scene_jobs.values()
            for job in jobs
            if aggregation.outcome(job, ()).phase in ("Pending", "Running")
        )
        slots = max(0, int(spec.get("render", {}).get("parallelism", 4)) - busy)
        wanted = {naming.scene_job_name(name, c.index, c.attempt): c for c in candidates[:slots]}
        granted = self.shared.admission.acquire(self.key, self.order(body), list(wanted))
        for job_name in granted:
            next_ = wanted[job_name]
            scene = self.plan.scene(next_.index)
            job = manifests.scene_job(
                body, self.shared.settings, scene, next_.attempt, memory_limit=next_.memory_limit
            )
            await self.create_job(job)
            if next_.attempt > 1:
                why = f" ({next_.reason})" if next_.reason else ""
                event(body, "Retrying", f"scene {scene.name!r}: attempt {next_.attempt} started{why}")
        launched = {wanted[n].index for n in granted}
        return [c.index for c in fresh if c.index not in launched]

    async def combine(self, body: Obj, observed: aggregation.Observed) -> None:
        """Create the combine Job for the current inputs, once every scene is done."""
        desired = self.desired_combine(body, observed)
        if desired is None:
            return
        digest, indexes = desired
        if naming.combine_job_name(body["metadata"]["name"], digest) in self.combines:
            return
        job = manifests.combine_job(body, self.shared.settings, indexes, digest)
        await self.create_job(job)
        self.combines[job["metadata"]["name"]] = job

    async def create_job(self, job: dict[str, Any]) -> None:
        name = job["metadata"]["name"]
        try:
            await kube.create(job)
        except ApiError:
            self.shared.admission.observe(name, self.key, running=False)
            raise
        self.launched[name] = job

    def order(self, body: Obj) -> tuple[int, str, str]:
        meta = body["metadata"]
        priority = int(body["spec"].get("priority", 0) or 0)
        return (-priority, str(meta.get("creationTimestamp", "")), str(meta["name"]))

    async def expire(self, body: Obj) -> None:
        """spec.ttlSecondsAfterFinished: delete the request (its children go by ownerReference)."""
        left = lifecycle.seconds_until_deletion(body["spec"], body["status"].get("finishedAt"), utcnow())
        if left is None:
            return
        if left > 0:
            self.wake_later(left + 0.1)
            return
        meta = body["metadata"]
        await kube.delete_request(meta["namespace"], meta["name"])

    # ---- publishing --------------------------------------------------------------------

    def derive(
        self,
        body: Obj,
        observed: aggregation.Observed,
        queued: Sequence[int],
        deadline_exceeded: bool = False,
    ) -> dict[str, Any]:
        h = self.healer
        # What this loop published last, not kopf's copy of the body: that copy lags behind our
        # own writes, and timestamps derived from it would differ on every pass.
        previous = self.published or body.get("status") or {}
        retried = self.retry_generation if not h.retrying else int(previous.get("retryGeneration") or 0)
        return aggregation.status(
            spec=body.get("spec") or {},
            generation=int(body["metadata"].get("generation", 1)),
            previous=previous,
            plan=self.plan,
            observed=observed,
            now=now(),
            queued=queued,
            healing=h.healing,
            retrying=h.retrying,
            failures=h.failures,
            planning_error=self.planning_error,
            deadline_exceeded=deadline_exceeded,
            queue_position=self.shared.admission.position(self.key),
            retry_generation=retried,
        )

    def mirrored(self, body: Obj, status: dict[str, Any]) -> dict[str, Any]:
        """Hand the state to the Appwrite mirror (never blocks) and report how the mirror is doing."""
        mirror = self.shared.mirror
        if mirror is None:
            return status
        uid = str(body["metadata"]["uid"])
        mirror.publish({**body, "status": status})
        state = mirror.state_for(uid)
        healthy = state.synced or mirror.healthy(uid)
        message = "rows are up to date or on their way" if healthy else state.message
        status["appwrite"] = {"rowId": state.row_id, "synced": healthy, "message": message}
        if not healthy:  # look again soon: the condition turns True when Appwrite is back
            self.wake_later(2.0)
        generation = int(body["metadata"].get("generation", 1))
        synced = conditions.condition(
            "AppwriteSynced", healthy, "Synced" if healthy else "Unreachable", message, generation
        )
        status["conditions"] = conditions.merge(status.get("conditions") or (), [synced], now())
        return status

    async def publish(self, body: Obj, status: dict[str, Any]) -> None:
        current = dict(self.published or body.get("status") or {})
        if _same(current, status):
            return
        patch: dict[str, Any] = {k: None for k in current if k not in status and k not in KEEP_KEYS}
        patch |= status
        meta = body["metadata"]
        await kube.patch_status(meta["namespace"], meta["name"], patch)
        self.published = status
        if current.get("phase") != status["phase"]:
            event(body, status["phase"], status.get("message", ""), warning=status["phase"] == "Failed")


KEEP_KEYS: set[str] = set()  # status keys written by other parts of the operator


def _same(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    return all(current.get(k) == v for k, v in desired.items()) and not (
        set(current) - set(desired) - KEEP_KEYS
    )
