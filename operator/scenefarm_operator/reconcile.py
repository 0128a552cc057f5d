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

from . import aggregation, kube, manifests, naming, plan_store
from .errors import PlanError
from .planning_step import make_plan, mode_of
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
            queued = await self.launch_scenes(body, observed)
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

    async def launch_scenes(self, body: Obj, observed: aggregation.Observed) -> list[int]:
        """Create the next scene Jobs allowed by parallelism and the cluster-wide cap."""
        assert self.plan is not None
        spec = body["spec"]
        if spec.get("suspend"):
            return []
        pending = [s for s in self.plan.scenes if observed.latest(s.index) is None]
        busy = sum(
            1
            for jobs in observed.scene_jobs.values()
            for job in jobs
            if aggregation.outcome(job, ()).phase in ("Pending", "Running")
        )
        slots = max(0, int(spec.get("render", {}).get("parallelism", 4)) - busy)
        wanted = {naming.scene_job_name(body["metadata"]["name"], s.index, 1): s for s in pending[:slots]}
        granted = self.shared.admission.acquire(self.key, self.order(body), list(wanted))
        for job_name in granted:
            scene = wanted[job_name]
            job = manifests.scene_job(body, self.shared.settings, scene, attempt=1)
            await self.create_job(job)
        launched = {wanted[n].index for n in granted}
        return [s.index for s in pending if s.index not in launched]

    async def maybe_combine(self, body: Obj, observed: aggregation.Observed) -> None:
        assert self.plan is not None
        if observed.combine_job is not None:
            return
        scenes = aggregation.scene_statuses(self.plan, observed, (), {})
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
