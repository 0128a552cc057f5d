"""One VideoRequest's reconcile loop: snapshot -> observe -> decide -> act -> publish.

Each pass reads what exists (the plan ConfigMap, the Jobs and Pods from the watch-fed indexes,
the status), asks the pure `decide` what to do, performs the effects and publishes the status
the decision carries. Planner calls are performed alone and their answer is stored (the plan
ConfigMap, or the planner bookkeeping in the status) before the next pass decides from it. What
the loop keeps in memory is a cache (the plan, Jobs it created that the watch has not shown yet,
the last status it wrote): dropping it at any moment changes no decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import httpx2
import kopf
from lightkube.core.exceptions import ApiError

from scenefarm_contract import clock, k8s, phases
from scenefarm_contract.backoff import API_ERRORS
from scenefarm_contract.clock import iso
from scenefarm_operator.engine import admission_signals, conditions, kueue, scene_cache
from scenefarm_operator.engine import effects as fx
from scenefarm_operator.engine.decide import LEFTOVER_RECHECK_SECONDS, Decision, Inputs, decide
from scenefarm_operator.engine.manifests import jobs as manifests
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.engine.manifests.owner import owned_by
from scenefarm_operator.engine.observed import Observed, outcome, suspended_by_us
from scenefarm_operator.engine.scene_cache import CacheHit
from scenefarm_operator.engine.scheduling import estimates
from scenefarm_operator.engine.status import OWNED_KEYS
from scenefarm_operator.observe import metrics
from scenefarm_operator.runtime import kube
from scenefarm_operator.runtime.admission import Admission, Order
from scenefarm_operator.runtime.planner_calls import PlannerCalls
from scenefarm_operator.runtime.wakeups import Wakeups
from scenefarm_operator.support.settings import Settings

Obj = Mapping[str, Any]


class MirrorState(Protocol):
    """How the mirror is doing for one request (`status.appwrite`, the `AppwriteSynced` condition)."""

    @property
    def synced(self) -> bool: ...

    @property
    def message(self) -> str: ...

    @property
    def row_id(self) -> str: ...


class Mirror(Protocol):
    """What the runtime asks of the Appwrite mirror (the web room's `AppwriteMirror`), handed in."""

    def publish(self, body: Obj) -> None: ...

    def note_live(self, body: Obj) -> None: ...

    def state_for(self, uid: str) -> MirrorState: ...

    def healthy(self, uid: str) -> bool: ...


@dataclasses.dataclass
class Shared:
    """Process-wide state, made at startup and shared by every request's loop."""

    settings: Settings
    admission: Admission
    wakeups: Wakeups
    jobs: Callable[[naming.RequestKey], Sequence[Obj]]  # (ns, request label) -> Jobs
    pods: Callable[[naming.RequestKey], Sequence[Obj]]  # (ns, job name) -> Pods
    # namespace -> its requests' verified scenes (scene_cache.offer), from the watch
    cache_offers: Callable[[str], Sequence[Obj]] = lambda namespace: ()
    mirror: Mirror | None = None  # the Appwrite mirror, when configured
    # (the request with the status about to be written, what the server has) -> the ETA and cost
    # fields that changed (observe/accounting.py), written in the same patch
    accounting: Callable[[Obj, Obj], Awaitable[Mapping[str, Any]]] | None = None


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def request_key(body: Obj) -> naming.RequestKey:
    return naming.request_key(body["metadata"]["namespace"], body["metadata"]["name"])


def event(body: Obj, reason: str, message: str, warning: bool = False) -> None:
    (kopf.warn if warning else kopf.info)(body, reason=reason, message=message)  # type: ignore[arg-type]


class RequestLoop:
    """The reconcile loop of one VideoRequest, run by its kopf daemon."""

    def __init__(self, shared: Shared, body: kopf.Body, logger: logging.Logger | logging.LoggerAdapter[Any]):
        self.shared = shared
        self.body = body  # kopf keeps it live: always the latest state of the resource
        self.logger = logger
        self.key = request_key(body)
        self.planner = PlannerCalls(shared.settings)
        # Caches; none of them changes a decision (see the module docstring).
        self.launched: dict[str, Obj] = {}  # Jobs created by us, not yet seen by the watch
        self.published: dict[str, Any] | None = None  # the status we wrote last
        self.last_error: str | None = None  # the API error being reported, if any
        self.queue_order: Order = self.order(body)  # where the last pass queued for slots

    # ---- the loop ----------------------------------------------------------------------------

    async def run(self, stopped: kopf.DaemonStopped) -> None:
        failures = 0
        while not stopped:
            try:
                with metrics.RECONCILE_SECONDS.time():
                    again = await self.reconcile()
                failures = 0
            except (ApiError, OSError, httpx2.HTTPError) as e:  # API hiccups: log, back off, go again
                delay = API_ERRORS.delay(failures)
                failures += 1
                self.logger.warning(f"reconcile failed, retrying in {delay}s: {e}")
                await self.report_error(e)
                await asyncio.sleep(delay)
                continue
            self.last_error = None
            if not again:
                await self.shared.wakeups.wait(self.key, self.shared.settings.resync_seconds)
            await asyncio.sleep(self.shared.settings.reconcile_debounce_seconds)
        self.shared.admission.forget(self.key)
        self.shared.wakeups.drop(self.key)

    async def reconcile(self) -> bool:
        """One pass; True when a planner call was answered and the next pass should follow at once."""
        body = self.snapshot()
        if body["metadata"].get("deletionTimestamp"):
            return False
        inputs = await self.inputs(body)
        decision = decide(inputs)
        calls = fx.planner_calls(decision.effects)
        if calls:  # performed alone; their answers are stored before anything depends on them
            if decision.publish_first and decision.status is not None:
                await self.publish(body, self.mirrored(body, decision.status))
            await self.planner.perform(body, inputs, calls, self.current_status(body))
            self.published = None  # the planner bookkeeping may have changed the status
            return True
        if not await self.act(body, decision):
            return True  # the API server refused a child: the next pass decides from that record
        if decision.wake_after is not None:
            self.shared.wakeups.wake_later(self.key, decision.wake_after)
        # A finished request keeps its record: what we wrote last (kopf's copy of the body may
        # still lag behind our own last write and must not be written back over it).
        status = decision.status if decision.status is not None else self.current_status(body)
        if status.get("phase") in phases.TERMINAL:
            self.shared.admission.forget(self.key)
        await self.publish(body, self.mirrored(body, status))
        return False

    def snapshot(self) -> dict[str, Any]:
        return {
            "apiVersion": self.body.get("apiVersion", naming.API_VERSION),
            "kind": self.body.get("kind", naming.KIND),
            "metadata": dict(self.body["metadata"]),
            "spec": dict(self.body.get("spec") or {}),
            "status": dict(self.body.get("status") or {}),
        }

    def current_status(self, body: Obj) -> dict[str, Any]:
        """What this loop wrote last, else the server's copy (kopf's copy lags our own writes)."""
        return dict(self.published or body.get("status") or {})

    # ---- observe -----------------------------------------------------------------------------

    async def inputs(self, body: Obj) -> Inputs:
        meta, spec = body["metadata"], body["spec"]
        previous = self.current_status(body)
        plan = await self.planner.stored_plan(meta)
        uid = str(meta.get("uid", ""))
        listed = self.shared.jobs(self.key)
        # Children are matched by their owner's uid, never by name or label alone: a deleted
        # namesake's Jobs (same names, same labels) wait for the garbage collector, unread.
        jobs = {j["metadata"]["name"]: j for j in listed if owned_by(j, uid)}
        leftovers = {j["metadata"]["name"] for j in listed if not owned_by(j, uid)} - set(jobs)
        leftovers |= {self.planner.leftover} if self.planner.leftover else set()
        for name in [n for n in self.launched if n in jobs]:
            del self.launched[name]  # the watch has caught up
        jobs = {**self.launched, **jobs}
        pods = {name: _pods_of(job, self.shared.pods((self.key[0], name))) for name, job in jobs.items()}
        observed = Observed.of(list(jobs.values()), pods, previous, await self.kueue_reasons(jobs.values()))
        now = utcnow()
        blockers = await self.start_blockers(list(jobs.values()), pods, now)
        fps = estimates.fps_of(manifests.quality_of(spec, self.shared.settings))
        longest = estimates.longest_waiting(plan, observed, self.planner.data, fps)
        self.queue_order = order = self.order(body, longest)
        return Inputs(
            meta=meta,
            spec=spec,
            previous=previous,
            plan=plan,
            observed=observed,
            now=now,
            settings=self.shared.settings,
            capacity=self.shared.admission.capacity(self.key, order),
            queue_position=self.shared.admission.position(self.key),
            blockers=tuple(blockers),
            leftovers=frozenset(leftovers),
            estimate=clock.parse_time((body.get("status") or {}).get("estimatedCompletionTime")),
            code=dict(self.planner.data),
            cache_hits=self.cache_hits(body, observed),
        )

    def cache_hits(self, body: Obj, observed: Observed) -> dict[int, CacheHit]:
        """Verified scenes of this namespace with the cache key of a scene that never ran (from the
        watch-fed cache index: no API call)."""
        spec, plan, settings = body["spec"], self.planner.plan, self.shared.settings
        if plan is None or not scene_cache.cache_enabled(spec):
            return {}
        keys = scene_cache.wanted(plan, observed, self.planner.data, manifests.quality_of(spec, settings))
        if not keys:
            return {}
        return scene_cache.hits(
            keys,
            self.shared.cache_offers(self.key[0]),
            namespace=self.key[0],
            store=manifests.store_of(spec, settings),
            default_store=settings.artifact_store,
            owner=scene_cache.owner_of(spec),
        )

    async def kueue_reasons(self, jobs: Iterable[Obj]) -> dict[str, str]:
        """Kueue's words for each Job it holds suspended; the Workloads (a list call) are read only
        while such a Job exists."""
        held = [j for j in jobs if kueue.is_kueue_managed(j) and _held_by_another(j)]
        if not held:
            return {}
        uids = [str(j["metadata"]["uid"]) for j in held if j["metadata"].get("uid")]
        return kueue.held_reasons(held, await kube.kueue_workloads(self.key[0], uids))

    async def start_blockers(
        self, jobs: Sequence[Obj], pods: Mapping[str, Sequence[Obj]], now: datetime.datetime
    ) -> list[admission_signals.Blocker]:
        """Jobs whose Pod has not started past the grace period, and why. The Events (a list call)
        are read only when such a Job has no Pod at all."""
        grace = self.shared.settings.pod_start_grace_seconds
        suspects = [j for j in jobs if _waiting_longer(j, pods.get(j["metadata"]["name"], ()), now, grace)]
        if not suspects:
            return []
        events = (
            await kube.failed_creates(self.key[0])
            if any(not pods.get(j["metadata"]["name"]) for j in suspects)
            else []
        )
        if any(admission_signals.needs_pod_events(pods.get(j["metadata"]["name"], ())) for j in suspects):
            events += await kube.failed_mounts(self.key[0])
        return admission_signals.start_blockers(suspects, pods, events, now, grace)

    def order(self, body: Obj, longest: float = 0.0) -> Order:
        """Where the request queues for slots: by priority, then its longest waiting scene first
        (`estimates.longest_waiting`: render farms start the longest tasks first), then by age."""
        meta = body["metadata"]
        priority = int(body["spec"].get("priority", 0) or 0)
        return (-priority, -longest, str(meta.get("creationTimestamp", "")), str(meta["name"]))

    # ---- act ---------------------------------------------------------------------------------

    async def act(self, body: Obj, decision: Decision) -> bool:
        """Perform the effects; False when the API server refused a child for good (recorded)."""
        meta = body["metadata"]
        namespace = meta["namespace"]
        self.queue_order = self.order(body, decision.longest_waiting)  # what is left waiting
        self.shared.admission.reserve(self.key, self.queue_order, decision.started, decision.waiting)
        for effect in decision.effects:
            if isinstance(effect, fx.CreateJob):
                if not await self.create_job(body, effect):
                    return False
            elif isinstance(effect, fx.DeleteJob):
                await kube.delete_job(namespace, effect.name)
            elif isinstance(effect, fx.SuspendJob):
                await kube.set_job_suspended(namespace, effect.name, effect.suspend)
                event(body, phases.SUSPENDED if effect.suspend else "Resumed", f"job {effect.name}")
            elif isinstance(effect, fx.RecordResult):
                annotations = {naming.RESULT_ANNOTATION: effect.end}
                await kube.patch_job(namespace, effect.name, {"metadata": {"annotations": annotations}})
            elif isinstance(effect, fx.PostEvent):
                event(body, effect.reason, effect.message, warning=effect.warning)
            elif isinstance(effect, fx.DeleteRequest):
                await kube.delete_request(namespace, meta["name"])
        return True

    async def create_job(self, body: Obj, effect: fx.CreateJob) -> bool:
        """Create a Job; False when the server refuses it for good (the refusal is recorded)."""
        name = effect.job["metadata"]["name"]
        try:
            created = await kube.create_child(effect.job)
        except ApiError as e:
            self.shared.admission.observe(name, self.key, running=False)
            if kube.is_invalid(e):  # the server will refuse it every time: fail, don't loop
                await self.record_refusal(body, f"job {name}", str(e.status.message))
                return False
            raise
        if created is None:  # 409: made by an earlier pass, or a deleted namesake's leftover
            existing = await kube.get_job(body["metadata"]["namespace"], name)
            if existing is None or not owned_by(existing, str(body["metadata"].get("uid", ""))):
                self.shared.wakeups.wake_later(self.key, LEFTOVER_RECHECK_SECONDS)
                return True  # not ours: never adopted; made again once the collector removed it
            created = existing
        self.launched[name] = created  # as stored (admission may have changed it)
        if effect.event is not None:
            event(body, *effect.event)
        return True

    async def record_refusal(self, body: Obj, what: str, message: str) -> None:
        generation = int(body["metadata"].get("generation", 1))
        refusal = {"generation": generation, "object": what, "message": message[:1000]}
        event(body, "Refused", f"the API server refused {what}: {message}", warning=True)
        await kube.patch_status(body["metadata"]["namespace"], body["metadata"]["name"], {"refusal": refusal})
        self.published = None

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
        phase = body["status"].get("phase") or phases.PENDING
        desired = conditions.for_phase(phase, "ApiError", message, generation)  # Ready=False, Reconciling
        for cond in desired:  # what the reconciling is stuck on is the API's refusal
            if cond["type"] == "Reconciling":
                cond |= {"status": "True", "message": message}
        merged = conditions.merge(body["status"].get("conditions") or (), desired, iso(utcnow()))
        self.published = None  # the next publish compares with what the server has
        patch = {"phase": phase, "conditions": merged, "observedGeneration": generation}
        with contextlib.suppress(ApiError, OSError, httpx2.HTTPError):
            await kube.patch_status(body["metadata"]["namespace"], body["metadata"]["name"], patch)

    # ---- publish -----------------------------------------------------------------------------

    def mirrored(self, body: Obj, status: dict[str, Any]) -> dict[str, Any]:
        """Hand the state to the Appwrite mirror (never blocks) and report how the mirror is doing."""
        mirror = self.shared.mirror
        if mirror is None:
            return status
        status = dict(status)
        uid = str(body["metadata"]["uid"])
        mirror.publish({**body, "status": status})
        state = mirror.state_for(uid)
        healthy = state.synced or mirror.healthy(uid)
        message = "rows are up to date or on their way" if healthy else state.message
        status["appwrite"] = {"rowId": state.row_id, "synced": healthy, "message": message}
        if not healthy:  # look again soon: the condition turns True when Appwrite is back
            self.shared.wakeups.wake_later(self.key, 2.0)
        generation = int(body["metadata"].get("generation", 1))
        synced = conditions.condition(
            "AppwriteSynced", healthy, "Synced" if healthy else "Unreachable", message, generation
        )
        status["conditions"] = conditions.merge(status.get("conditions") or (), [synced], iso(utcnow()))
        return status

    async def publish(self, body: Obj, status: dict[str, Any]) -> None:
        current = self.current_status(body)
        if _same(current, status):
            return
        patch: dict[str, Any] = {k: None for k in current if k in OWNED_KEYS and k not in status}
        patch |= status
        extra = await self.accounting(body, status, current)
        patch |= extra
        status = {**status, **{k: v for k, v in extra.items() if v is not None}}
        meta = body["metadata"]
        await kube.patch_status(meta["namespace"], meta["name"], patch)
        self.published = status
        if current.get("phase") != status["phase"]:
            event(body, status["phase"], status.get("message", ""), warning=status["phase"] == phases.FAILED)

    async def accounting(self, body: Obj, status: Obj, current: Obj) -> Mapping[str, Any]:
        """The ETA and cost fields to write with `status` (best effort: without them the
        accountant writes them on its own)."""
        if self.shared.accounting is None:
            return {}
        server = {**(body.get("status") or {}), **current}
        try:
            return await self.shared.accounting({**body, "status": status}, server)
        except Exception as e:  # never hold the request's own status up
            self.logger.warning(f"ETA and cost not written with the status: {e}")
            return {}


def _pods_of(job: Obj, pods: Sequence[Obj]) -> list[Obj]:
    """The Pods of this Job (by its uid): a deleted namesake's Job of the same name may have
    left Pods behind, with its results in their termination messages."""
    uid = str(job["metadata"].get("uid", ""))
    return [p for p in pods if not uid or owned_by(p, uid)]


def _held_by_another(job: Obj) -> bool:
    return bool(job.get("spec", {}).get("suspend")) and not suspended_by_us(job)


def _waiting_longer(job: Obj, pods: Sequence[Obj], now: datetime.datetime, grace: float) -> bool:
    """An unfinished, unsuspended Job older than `grace` none of whose Pods has started."""
    if job.get("spec", {}).get("suspend") or outcome(job, pods).phase in phases.FINISHED:
        return False
    if any((p.get("status") or {}).get("phase", k8s.POD_PENDING) != k8s.POD_PENDING for p in pods):
        return False
    created = clock.parse_time(job["metadata"].get("creationTimestamp"))
    return created is not None and (now - created).total_seconds() >= grace


def _same(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    extra = (set(current) & OWNED_KEYS) - set(desired)
    return all(current.get(k) == v for k, v in desired.items()) and not extra
