"""One VideoRequest's reconcile loop: plan, launch scene Jobs, combine, publish status.

Each pass reads what exists (the plan ConfigMap, the Jobs and Pods from the watch-fed indexes),
decides, acts, and publishes the status derived from it. A pass can run any number of times
and at any moment (after a crash, a restart, an event storm) with the same result: children
have deterministic names, so "create" of something that exists is a no-op.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import kopf
from lightkube.core.exceptions import ApiError

from . import aggregation, healing, kube, manifests, naming, plan_store
from .errors import PlanError
from .healing import NextAttempt
from .planning import triage
from .planning.base import PlannedScene
from .planning_step import fix_scene, make_plan, mode_of
from .scheduling import Admission
from .settings import Settings
from .wakeups import Wakeups

Obj = Mapping[str, Any]
TERMINAL = ("Succeeded", "Failed", "Cancelled")
ERROR_BACKOFF = (0.5, 1, 2, 5, 10)


@dataclasses.dataclass
class Shared:
    """Process-wide state, made at startup and shared by every request's loop."""

    settings: Settings
    admission: Admission
    wakeups: Wakeups
    jobs: Callable[[tuple[str, str]], Sequence[Obj]]  # (ns, request label) -> Jobs
    pods: Callable[[tuple[str, str]], Sequence[Obj]]  # (ns, job name) -> Pods


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_key(body: Obj) -> tuple[str, str]:
    meta = body["metadata"]
    return meta["namespace"], naming.base_name(meta["name"], 63)


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
        self.published: dict[str, Any] | None = None
        self.healing: dict[int, str] = {}  # scene -> why (an LLM fix is in flight)
        self.retrying: dict[int, str] = {}  # scene -> why (its next attempt is due or waits)
        self.failures: dict[int, str] = {}  # scene -> why it failed for good
        self.retry_at: dict[tuple[int, int], float] = {}  # (scene, attempt) -> loop time

    # ---- the loop ----------------------------------------------------------------------

    async def run(self, stopped: kopf.DaemonStopped) -> None:
        failures = 0
        while not stopped:
            try:
                await self.reconcile()
                failures = 0
            except (ApiError, OSError) as e:  # API hiccups: log, back off, go again
                delay = ERROR_BACKOFF[min(failures, len(ERROR_BACKOFF) - 1)]
                failures += 1
                self.logger.warning(f"reconcile failed, retrying in {delay}s: {e}")
                await asyncio.sleep(delay)
                continue
            await self.shared.wakeups.wait(self.key, self.shared.settings.resync_seconds)
            await asyncio.sleep(self.shared.settings.reconcile_debounce_seconds)
        self.shared.admission.forget(self.key)

    async def reconcile(self) -> None:
        body = self.snapshot()
        if body["metadata"].get("deletionTimestamp"):
            return
        if self.plan is None and self.planning_error is None:
            await self.ensure_plan(body)
        observed = self.observe(body)
        queued: list[int] = []
        previous_phase = (body.get("status") or {}).get("phase")
        if self.plan is not None and previous_phase not in TERMINAL:
            await self.apply_suspend(body, observed)
            due = [] if body["spec"].get("suspend") else await self.heal(body, observed)
            queued = await self.launch_scenes(body, observed, due)
            observed = self.observe(body)
            await self.maybe_combine(body, observed)
            observed = self.observe(body)
        status = self.derive(body, observed, queued)
        if status["phase"] in TERMINAL:
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

    # ---- planning ----------------------------------------------------------------------

    async def ensure_plan(self, body: Obj) -> None:
        meta = body["metadata"]
        cm_name = naming.plan_configmap_name(meta["name"])
        data = await kube.read_configmap(meta["namespace"], cm_name)
        stored = plan_store.load(data) if data else None
        if stored is not None:
            self.plan, self.plan_data = stored, dict(data or {})
            return
        await self.publish(body, self.derive(body, self.observe(body), []))  # Ready=False, early
        spec = body.get("spec") or {}
        try:
            plan = await make_plan(meta["namespace"], spec, self.shared.settings)
        except PlanError as e:
            self.planning_error = str(e)
            kopf.warn(body, reason="PlanningFailed", message=str(e))  # type: ignore[arg-type]
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
        kopf.info(body, reason="Planned", message=f"{len(stored.scenes)} scenes ({stored.mode})")  # type: ignore[arg-type]

    # ---- observing ---------------------------------------------------------------------

    def observe(self, body: Obj) -> aggregation.Observed:
        jobs = {j["metadata"]["name"]: j for j in self.shared.jobs(self.key)}
        for name in [n for n in self.launched if n in jobs]:
            del self.launched[name]  # the watch has caught up
        jobs = {**self.launched, **jobs}
        scene_jobs: dict[int, list[Obj]] = {}
        combine = None
        for job in jobs.values():
            labels = job["metadata"].get("labels", {})
            if labels.get(naming.ROLE_LABEL) == "combine":
                combine = job
            elif labels.get(naming.SCENE_LABEL, "").isdigit():
                scene_jobs.setdefault(int(labels[naming.SCENE_LABEL]), []).append(job)
        pods = {name: self.shared.pods((self.key[0], name)) for name in jobs}
        return aggregation.Observed(scene_jobs, combine, pods)

    # ---- acting ------------------------------------------------------------------------

    async def apply_suspend(self, body: Obj, observed: aggregation.Observed) -> None:
        want = bool(body["spec"].get("suspend"))
        for jobs in observed.scene_jobs.values():
            for job in jobs:
                finished = aggregation.outcome(job, ()).phase in ("Succeeded", "Failed")
                if not finished and bool(job.get("spec", {}).get("suspend")) != want:
                    await kube.set_job_suspended(body["metadata"]["namespace"], job["metadata"]["name"], want)

    async def launch_scenes(
        self, body: Obj, observed: aggregation.Observed, due: list[NextAttempt]
    ) -> list[int]:
        """Create the next scene Jobs allowed by parallelism and the cluster-wide cap.

        Retries go first (they are older work), then scenes that never ran, in scene order.
        Returns the scenes left waiting for a slot.
        """
        assert self.plan is not None
        spec, name = body["spec"], body["metadata"]["name"]
        if spec.get("suspend"):
            return []
        fresh = [NextAttempt(s.index, 1) for s in self.plan.scenes if observed.latest(s.index) is None]
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
                kopf.info(
                    body, reason="Retrying", message=f"scene {scene.name!r}: attempt {next_.attempt} started"
                )  # type: ignore[arg-type]
        launched = {wanted[n].index for n in granted}
        return [c.index for c in fresh if c.index not in launched]

    # ---- healing -----------------------------------------------------------------------

    async def heal(self, body: Obj, observed: aggregation.Observed) -> list[NextAttempt]:
        """Triage every scene whose latest attempt failed; return the attempts due now."""
        assert self.plan is not None
        due: list[NextAttempt] = []
        for scene in self.plan.scenes:
            latest = observed.latest(scene.index)
            if latest is None:
                continue
            out = aggregation.outcome(latest, observed.pods.get(latest["metadata"]["name"], ()))
            if out.phase != "Failed":
                self.retrying.pop(scene.index, None)
                continue
            attempt = aggregation.attempt_of(latest) + 1
            memory = healing.memory_limit_of(latest)
            if healing.fix_already_stored(scene, latest):
                self.retrying[scene.index] = (
                    f"attempt {attempt} runs the fixed code (revision {scene.revision})"
                )
                due.append(NextAttempt(scene.index, attempt, memory))
                continue
            if scene.index in self.failures:
                continue
            next_ = await self.decide(body, observed, scene.index, attempt, memory)
            if next_ is not None:
                due.append(next_)
        return due

    async def decide(
        self, body: Obj, observed: aggregation.Observed, index: int, attempt: int, memory: str | None
    ) -> NextAttempt | None:
        assert self.plan is not None
        scene = self.plan.scene(index)
        render = body["spec"].get("render", {})
        facts = healing.failed_attempt(
            scene,
            observed.scene_jobs[index],
            observed.pods,
            mode=self.plan.mode,
            fix_attempts_allowed=int(render.get("fixAttempts", 2)),
        )
        decision = triage.triage(facts, healing.limits_for(self.shared.settings))
        if isinstance(decision, triage.Fail):
            self.failures[index] = decision.message
            return None
        if isinstance(decision, triage.RetryWithMoreMemory):
            self.retrying[index] = decision.reason
            kopf.info(body, reason="Retrying", message=f"scene {scene.name!r}: {decision.reason}")  # type: ignore[arg-type]
            return NextAttempt(index, attempt, decision.new_limit)
        if isinstance(decision, triage.RetryAsIs):
            loop = asyncio.get_running_loop()
            at = self.retry_at.setdefault((index, attempt), loop.time() + decision.delay_seconds)
            if loop.time() >= at:
                return NextAttempt(index, attempt, memory)
            self.retrying[index] = f"{decision.reason}; next attempt in {at - loop.time():.0f}s"
            loop.call_at(at, self.shared.wakeups.wake, self.key)
            return None
        fixed = await self.fix(body, observed, scene, facts, decision.reason)
        return NextAttempt(index, attempt, memory) if fixed else None

    async def fix(
        self,
        body: Obj,
        observed: aggregation.Observed,
        scene: plan_store.SceneEntry,
        facts: triage.FailedAttempt,
        reason: str,
    ) -> bool:
        """Ask the planner for new code, store it as the scene's next revision."""
        assert self.plan is not None
        meta = body["metadata"]
        self.healing[scene.index] = reason
        kopf.info(body, reason="Healing", message=f"scene {scene.name!r}: {reason}")  # type: ignore[arg-type]
        await self.publish(body, self.derive(body, observed, []))
        planned = PlannedScene(
            scene.name, scene.class_name, self.plan_data.get(scene.key, ""), scene.narration
        )
        try:
            fixed = await fix_scene(
                meta["namespace"], body["spec"], self.shared.settings, planned, facts.error_tail
            )
        except PlanError as e:
            self.failures[scene.index] = f"the planner could not fix the code: {e}"
            return False
        finally:
            self.healing.pop(scene.index, None)
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
        patch: dict[str, str | None] = {k: None for k in self.plan_data if k not in data}
        patch |= {k: v for k, v in data.items() if self.plan_data.get(k) != v}
        await kube.patch_configmap_data(meta["namespace"], naming.plan_configmap_name(meta["name"]), patch)
        self.plan, self.plan_data = stored, data
        kopf.info(body, reason="Fixed", message=f"scene {scene.name!r}: revision {scene.revision + 1} stored")  # type: ignore[arg-type]
        return True

    async def maybe_combine(self, body: Obj, observed: aggregation.Observed) -> None:
        assert self.plan is not None
        if observed.combine_job is not None:
            return
        scenes = aggregation.scene_statuses(self.plan, observed, (), self.healing, self.retrying)
        verdict = aggregation.verdict(body["spec"], scenes, None)
        if verdict.phase != "Combining":
            return
        done = [s["index"] for s in scenes if s["phase"] == "Succeeded"]
        await self.create_job(manifests.combine_job(body, self.shared.settings, done))
        kopf.info(body, reason="Combining", message=f"combining {len(done)} scenes")  # type: ignore[arg-type]

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

    # ---- publishing --------------------------------------------------------------------

    def derive(self, body: Obj, observed: aggregation.Observed, queued: Sequence[int]) -> dict[str, Any]:
        return aggregation.status(
            spec=body.get("spec") or {},
            generation=int(body["metadata"].get("generation", 1)),
            previous=body.get("status") or {},
            plan=self.plan,
            observed=observed,
            now=now(),
            queued=queued,
            healing=self.healing,
            retrying=self.retrying,
            failures=self.failures,
            planning_error=self.planning_error,
        )

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
            kind = kopf.warn if status["phase"] == "Failed" else kopf.info
            kind(body, reason=status["phase"], message=status.get("message", ""))  # type: ignore[arg-type]


KEEP_KEYS = {"appwrite"}  # written by other parts of the operator


def _same(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    return all(current.get(k) == v for k, v in desired.items()) and not (
        set(current) - set(desired) - KEEP_KEYS
    )
