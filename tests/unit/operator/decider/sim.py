"""A small simulated cluster for one VideoRequest, driving the real reconcile loop.

`Sim` holds what a cluster holds (the VideoRequest with its status, the plan ConfigMap, Jobs,
Pods, Events) and a scripted world: which attempt of which scene ends how, what the planner
answers. `RequestLoop` runs unchanged with the `kube` functions pointed at the simulation; its
watch-fed indexes can lag one step behind, as a real watch does. `fresh_decision()` builds a
new loop from the cluster alone (what a restarted operator sees) and returns its decision, so a
test can compare it with the decision of the loop that lived through the history.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import json
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from scenefarm_contract.renderer import INPUT_MISMATCH, TerminationMessage
from scenefarm_operator.engine import decide as decide_mod
from scenefarm_operator.engine import scene_cache
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.planning.base import Fix, Plan, PlannedScene, TokenUsage
from scenefarm_operator.runtime import kube, planner_calls, reconcile
from scenefarm_operator.runtime.admission import Admission
from scenefarm_operator.runtime.wakeups import Wakeups
from scenefarm_operator.support.errors import InvalidPlan, PlannerBusy
from scenefarm_operator.support.settings import Settings

T0 = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)
NS, NAME, UID = "default", "newton", "0f3c9a1e-aaaa-bbbb-cccc-123456789abc"


def code(class_name: str) -> str:
    return f"from manim import *\n\n\nclass {class_name}(Scene):\n    def construct(self):\n        self.wait(1)\n"


def spec(*names: str, **extra: Any) -> dict[str, Any]:
    scenes = [{"name": n, "className": n.title().replace("-", ""), "code": code(n.title().replace("-", ""))}
              for n in names]  # fmt: skip
    return {"topic": "Newton", "scenes": scenes, "render": {"parallelism": 4}, **extra}


def merge_patch(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """RFC 7386 JSON merge patch, in place."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            merge_patch(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


@dataclasses.dataclass
class Outcome:
    """How one scene attempt ends: exit class (0 ok), or OOM."""

    exit_class: int = 0
    oom: bool = False
    tail: str = ""


class Sim:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, the_spec: dict[str, Any], *, lag: bool = True,
                 settings: Settings | None = None) -> None:  # fmt: skip
        self.now = T0
        self.vr: dict[str, Any] = {
            "apiVersion": naming.API_VERSION,
            "kind": naming.KIND,
            "metadata": {"name": NAME, "namespace": NS, "uid": UID, "generation": 1,
                         "creationTimestamp": "2026-01-01T11:59:00Z"},
            "spec": the_spec,
            "status": {},
        }  # fmt: skip
        self.configmap: dict[str, str] | None = None
        self.configmap_owners: list[dict[str, Any]] = []  # as the request that made it wrote them
        self.jobs: dict[str, dict[str, Any]] = {}
        self.pods: dict[str, list[dict[str, Any]]] = {}
        self.events: list[tuple[str, str]] = []
        self.created: list[str] = []  # every Job create that made a Job (duplicates would show here)
        self.outcomes: dict[tuple[int, int], Outcome] = {}  # (scene, attempt) -> end; default success
        self.replaced: set[str] = set()  # store files overwritten since their sha256 was recorded
        self.combine_failures = 0  # the next combines that fail (class 30: an input is missing)
        self.seconds: dict[int, float] = {}  # scene -> its length, as its plan Job reports it
        self.planner: deque[str] = deque()  # "busy" | "invalid": next plan calls; then success
        self.fixes: deque[str] = deque()  # "busy" | "invalid" | code: next fix calls
        self.plan_calls = 0
        self.fix_calls = 0
        self.kueue_pending: set[str] = set()  # Jobs Kueue holds until `admit()`
        self.workload_reads: list[list[str]] = []  # the Job uids of each Workload list call
        self.pod_gc = False  # the terminated-Pod collector of a busy cluster (see `tick`)
        self.unschedulable = ""  # the scheduler's message for every new Pod (they stay Pending)
        self.lag = lag
        self.neighbours: list[dict[str, Any]] = []  # other VideoRequests of the namespace (scene cache)
        self.watched: set[str] = set()  # Jobs the watch has delivered so far (creations lag a pass)
        self.settings = settings or Settings(retry_base_seconds=10.0)
        self.loop = self.new_loop()
        self._patch(monkeypatch)

    # ---- the cluster, as `kube` -------------------------------------------------------------

    def _patch(self, mp: pytest.MonkeyPatch) -> None:
        mp.setattr(kube, "read_configmap", self._read_configmap)
        mp.setattr(kube, "get_configmap", self._get_configmap)
        mp.setattr(kube, "get_job", self._get_job)
        mp.setattr(kube, "create", self._create)
        mp.setattr(kube, "create_child", self._create_child)
        mp.setattr(kube, "patch_configmap_data", self._patch_configmap)
        mp.setattr(kube, "patch_status", self._patch_status)
        mp.setattr(kube, "patch_job", self._patch_job)
        mp.setattr(kube, "delete_job", self._delete_job)
        mp.setattr(kube, "delete_request", self._delete_request)
        mp.setattr(kube, "failed_creates", self._failed_creates)
        mp.setattr(kube, "failed_mounts", self._failed_creates)  # nor fails to mount a volume
        mp.setattr(kube, "kueue_workloads", self._workloads)
        mp.setattr(
            reconcile,
            "event",
            lambda body, reason, message, warning=False: self.events.append((reason, message)),
        )
        mp.setattr(
            planner_calls,
            "_event",
            lambda body, reason, message, warning=False: self.events.append((reason, message)),
        )
        mp.setattr(reconcile, "utcnow", lambda: self.now)
        mp.setattr(planner_calls, "make_plan", self._make_plan)
        mp.setattr(planner_calls, "fix_scene", self._fix_scene)

    async def _read_configmap(self, namespace: str, name: str) -> dict[str, str] | None:
        return dict(self.configmap) if self.configmap is not None else None

    async def _get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        if self.configmap is None:
            return None
        return {"metadata": {"name": name, "ownerReferences": copy.deepcopy(self.configmap_owners)},
                "data": dict(self.configmap)}  # fmt: skip

    async def _get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.jobs.get(name))

    async def _create(self, obj: Mapping[str, Any]) -> bool:
        if obj["kind"] == "ConfigMap":
            if self.configmap is not None:
                return False
            self.configmap = dict(obj["data"])
            self.configmap_owners = copy.deepcopy(obj["metadata"].get("ownerReferences") or [])
            return True
        name = obj["metadata"]["name"]
        if name in self.jobs:
            return False
        job = copy.deepcopy(dict(obj))
        job["metadata"]["creationTimestamp"] = _iso(self.now)
        job["metadata"]["uid"] = f"uid-{name}"
        job["status"] = {}
        if (job["metadata"].get("labels") or {}).get(naming.KUEUE_QUEUE_LABEL):
            job["spec"]["suspend"] = True  # Kueue's Job webhook: created suspended until admitted
            self.kueue_pending.add(name)
        self.jobs[name] = job
        self.pods[name] = []
        self.created.append(name)
        return True

    async def _create_child(self, obj: Mapping[str, Any]) -> dict[str, Any] | None:
        created = await kube.create(obj)  # patched: whichever create the test installed
        return copy.deepcopy(self.jobs[obj["metadata"]["name"]]) if created else None

    async def _patch_configmap(self, namespace: str, name: str, data: Mapping[str, str | None]) -> None:
        assert self.configmap is not None
        merge_patch(self.configmap, data)  # type: ignore[arg-type]

    async def _patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        merge_patch(self.vr["status"], status)

    async def _patch_job(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        """A merge patch as the API server applies it; the Job controller then deletes the active
        Pods of a Job suspended meanwhile (as a real one does). Nothing else is written here:
        what records a hold is whatever the product put in the patch."""
        job = self.jobs.get(name)
        if job is None:
            return
        was = bool(job["spec"].get("suspend"))
        merge_patch(job, patch)
        if job["spec"].get("suspend") and not was:
            self.pods[name] = [p for p in self.pods[name] if p["status"]["phase"] != "Running"]
            job["status"].pop("active", None)

    async def _delete_job(self, namespace: str, name: str) -> None:
        self.jobs.pop(name, None)
        self.pods.pop(name, None)

    async def _failed_creates(self, namespace: str) -> list[dict[str, Any]]:
        return []  # the simulated Job controller never fails to create a Pod

    async def _workloads(self, namespace: str, job_uids: Any) -> list[dict[str, Any]]:
        """Kueue's Workload for each Job it has not admitted yet, owned by that Job, selected by
        the job-uid label as the API server selects them."""
        self.workload_reads.append(sorted(job_uids))
        waiting = {"type": "QuotaReserved", "status": "False", "message": "Waiting for resources"}
        return [
            {"metadata": {"name": f"job-{name}", "ownerReferences": [{"kind": "Job", "uid": f"uid-{name}"}],
                          "labels": {kube.KUEUE_JOB_UID_LABEL: f"uid-{name}"}},
             "status": {"conditions": [waiting]}}
            for name in sorted(self.kueue_pending) if name in self.jobs and f"uid-{name}" in set(job_uids)
        ]  # fmt: skip

    async def _delete_request(self, namespace: str, name: str) -> None:
        self.vr["metadata"]["deletionTimestamp"] = self.now.isoformat()

    async def _make_plan(self, namespace: str, the_spec: Mapping[str, Any], settings: Any) -> Plan:
        self.plan_calls += 1
        if self.planner:
            step = self.planner.popleft()
            if step == "busy":
                raise PlannerBusy("the planner answered 503")
            raise InvalidPlan("the plan is not valid: scene 'x' has no class")
        scenes = tuple(
            PlannedScene(s["name"], s["className"], s["code"], s.get("narration", ""))
            for s in the_spec["scenes"]
        )
        return Plan(scenes, TokenUsage(10, 5, 1))

    async def _fix_scene(
        self, namespace: str, the_spec: Any, settings: Any, scene: PlannedScene, tail: str
    ) -> Fix:
        self.fix_calls += 1
        step = self.fixes.popleft() if self.fixes else code(scene.class_name) + "# fixed\n"
        if step == "busy":
            raise PlannerBusy("the planner answered 429")
        if step == "invalid":
            raise InvalidPlan("the fixed code does not define the class")
        return Fix(step, TokenUsage(3, 2, 1))

    # ---- the loop ---------------------------------------------------------------------------

    def new_loop(self) -> reconcile.RequestLoop:
        shared = reconcile.Shared(
            settings=self.settings,
            admission=Admission(self.settings.max_running_scene_jobs),
            wakeups=Wakeups(),
            jobs=lambda key: [
                copy.deepcopy(j) for n, j in self.jobs.items() if n in self.watched or not self.lag
            ],
            pods=lambda key: copy.deepcopy(self.pods.get(key[1], [])),
            cache_offers=lambda namespace: [
                o for o in map(scene_cache.offer, copy.deepcopy([self.vr, *self.neighbours])) if o
            ],
        )
        return reconcile.RequestLoop(shared, self.vr, _Logger())  # type: ignore[arg-type]

    async def reconcile(self) -> None:
        """One pass of the long-lived loop; planner answers get their follow-up pass at once."""
        while await self.loop.reconcile():
            pass

    def catch_up(self) -> None:
        """The watch delivers the Jobs created so far."""
        self.watched = set(self.jobs)

    async def decision(self, loop: reconcile.RequestLoop) -> decide_mod.Decision:
        return decide_mod.decide(await loop.inputs(loop.snapshot()))

    async def restart_matches(self) -> None:
        """A loop built from the cluster alone decides what the long-lived loop decides now."""
        lived = await self.decision(self.loop)
        fresh_loop = self.new_loop()
        fresh_loop.shared.jobs = lambda key: [
            copy.deepcopy(j) for j in self.jobs.values()
        ]  # a new list+watch
        # The cluster-wide admission is rebuilt from every request's Jobs; with one request, it is
        # the same object after a restart (its equivalence is tested in test_admission.py).
        fresh_loop.shared.admission = copy.deepcopy(self.loop.shared.admission)
        fresh = await self.decision(fresh_loop)
        assert _comparable(fresh) == _comparable(lived), _difference(_comparable(fresh), _comparable(lived))

    def restart(self) -> None:
        """The operator process is killed and started again: every in-memory cache is gone."""
        self.catch_up()  # a new process lists everything
        self.loop = self.new_loop()

    # ---- the world ----------------------------------------------------------------------------

    def tick(self, seconds: float = 1.0) -> None:
        """Time passes; Pending Jobs start, Running Jobs finish as scripted. With `pod_gc`, the
        terminated-Pod collector removes the Pods of Jobs that finished before this tick."""
        self.now += datetime.timedelta(seconds=seconds)
        if self.pod_gc:
            for name, job in self.jobs.items():
                if _finished(job):
                    self.pods[name] = []
        for name, job in self.jobs.items():
            if job["spec"].get("suspend") or _finished(job):
                continue
            if self.unschedulable:
                condition = {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": self.unschedulable,
                    "lastTransitionTime": job["metadata"]["creationTimestamp"],
                }
                pod = {
                    "metadata": {
                        "creationTimestamp": job["metadata"]["creationTimestamp"],
                        "ownerReferences": [{"kind": "Job", "uid": job["metadata"]["uid"]}],
                    },
                    "status": {"phase": "Pending", "conditions": [condition]},
                }
                self.pods[name] = [pod]
                continue
            if not self.pods[name]:
                self.pods[name] = [_pod("Running", None, job)]
                job["status"] = {"startTime": _iso(self.now), "active": 1}
                continue
            self._finish(name, job)

    def admit(self) -> None:
        """Kueue admits every Job it holds (it knows nothing of scenefarm's annotations)."""
        for name in self.kueue_pending:
            if name in self.jobs:
                self.jobs[name]["spec"]["suspend"] = False
        self.kueue_pending.clear()

    def _finish(self, name: str, job: dict[str, Any]) -> None:
        labels = job["metadata"]["labels"]
        when = _iso(self.now)
        checked = _checked_inputs(job)
        replaced = [key for key in checked if key in self.replaced]
        if labels.get(naming.ROLE_LABEL) == "combine" and replaced:  # the renderer's sha256 check
            tail = f"{INPUT_MISMATCH}: {replaced[0]}: its sha256 is {'99' * 32}, not the {checked[replaced[0]]} recorded"
            self._end(name, job, 20, TerminationMessage(20, errorTail=tail).to_json(), "Error", when)
            return
        if labels.get(naming.ROLE_LABEL) == "combine" and self.combine_failures:
            self.combine_failures -= 1
            tail = "EnvironmentProblem: a combine input is missing from the store"
            self._end(name, job, 30, TerminationMessage(30, errorTail=tail).to_json(), "Error", when)
            return
        if labels.get(naming.ROLE_LABEL) == "combine":
            message = TerminationMessage(0, artifact=f"{NS}/{NAME}/video.mp4", durationSeconds=3.0, sizeBytes=100,
                                         sha256="ab" * 32, frames=45)  # fmt: skip
            self._end(name, job, 0, message.to_json(), "Completed", when)
            return
        key = (int(labels[naming.SCENE_LABEL]), int(labels[naming.ATTEMPT_LABEL]))
        role = labels.get(naming.ROLE_LABEL)
        if role == "plan":  # the scene lasts `self.seconds[scene]` (default 1 s) at 15 fps, 2 s segments
            frames = int(self.seconds.get(key[0], 1.0) * 15)
            units = [[30, 0, frames // 30]] + ([[frames % 30, 0, 1]] if frames % 30 else [])
            message = TerminationMessage(0, frames=frames, fps=15.0, units=[u for u in units if u[2]],
                                         cacheKey=f"key-{key[0]}")  # fmt: skip
            self._end(name, job, 0, message.to_json(), "Completed", when)
            return
        if role == "stitch":
            message = TerminationMessage(
                0, artifact=f"{NS}/{NAME}/scene-{key[0]:02d}.mp4", sha256=f"{key[0]:02d}" * 32
            )
            self._end(name, job, 0, message.to_json(), "Completed", when)
            return
        outcome = self.outcomes.get(key, Outcome())
        if outcome.oom:
            self._end(name, job, 137, "", "OOMKilled", when)
        elif outcome.exit_class:
            tail = outcome.tail or f"NameError: name 'oops' is not defined (scene {key[0]})"
            message = TerminationMessage(outcome.exit_class, errorTail=tail)
            self._end(name, job, outcome.exit_class, message.to_json(), "Error", when)
        else:
            message = TerminationMessage(
                0,
                artifact=f"{NS}/{NAME}/scene-{key[0]:02d}.mp4",
                durationSeconds=1.0,
                sha256=f"{key[0]:02d}" * 32,
            )
            self._end(name, job, 0, message.to_json(), "Completed", when)

    def _end(self, name: str, job: dict[str, Any], code_: int, message: str, reason: str, when: str) -> None:
        term = {"exitCode": code_, "reason": reason, "message": message, "finishedAt": when}
        phase = "Succeeded" if code_ == 0 else "Failed"
        self.pods[name] = [_pod(phase, term, job)]
        condition = {"type": "Complete" if code_ == 0 else "Failed", "status": "True", "lastTransitionTime": when,
                     "reason": "Completed" if code_ == 0 else "PodFailurePolicy"}  # fmt: skip
        job["status"] = {"startTime": job["status"].get("startTime", when), "conditions": [condition]}
        if code_ == 0:
            job["status"]["completionTime"] = when
            if job["spec"].get("completionMode") == "Indexed":  # the Job controller's record of each index
                job["status"]["completedIndexes"] = f"0-{int(job['spec']['completions']) - 1}"

    # ---- reading ------------------------------------------------------------------------------

    @property
    def status(self) -> dict[str, Any]:
        return self.vr["status"]

    def edit(self, **changes: Any) -> None:
        """A user changes the spec (the API server bumps the generation)."""
        merge_patch(self.vr["spec"], changes)
        self.vr["metadata"]["generation"] += 1

    def scene_phases(self) -> list[str]:
        return [s["phase"] for s in self.status.get("scenes", [])]

    def attempts(self, index: int) -> list[str]:
        prefix = f"{NAME}-s{index:02d}-a"
        return sorted(n for n in self.created if n.startswith(prefix))


async def run(sim: Sim, steps: int = 40, until: Callable[[Sim], bool] | None = None, check: bool = True,
              seconds: float = 1.0) -> None:  # fmt: skip
    """Alternate passes and time until `until` holds (default: a terminal phase), checking at every
    step that a restarted operator would decide the same."""
    for _ in range(steps):
        await sim.reconcile()
        if check:
            await sim.restart_matches()
        sim.catch_up()
        if (until or _terminal)(sim):
            return
        sim.tick(seconds)
    raise AssertionError(f"did not settle: {json.dumps(sim.status, indent=1)[:3000]}")


def _terminal(sim: Sim) -> bool:
    return sim.status.get("phase") in ("Succeeded", "Failed", "Cancelled") and (
        sim.status.get("observedGeneration") == sim.vr["metadata"]["generation"]
    )


def _checked_inputs(job: Mapping[str, Any]) -> dict[str, str]:
    """The combine's `--sha256 KEY=HEX` arguments: what the renderer verifies each input against."""
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    pairs = [args[i + 1] for i, a in enumerate(args) if a == "--sha256"]
    return dict(pair.partition("=")[::2] for pair in pairs)


def _finished(job: Mapping[str, Any]) -> bool:
    return any(c.get("type") in ("Complete", "Failed") for c in job.get("status", {}).get("conditions") or ())


def _pod(phase: str, terminated: Mapping[str, Any] | None, job: Mapping[str, Any]) -> dict[str, Any]:
    """A Pod as the Job controller makes it: owned by its Job."""
    state = {"terminated": dict(terminated)} if terminated else {"running": {}}
    meta = {"ownerReferences": [{"kind": "Job", "uid": job["metadata"]["uid"]}]}
    return {"metadata": meta, "status": {"phase": phase, "containerStatuses": [{"state": state}]}}


def _iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _comparable(decision: decide_mod.Decision) -> tuple[Any, ...]:
    effects = []
    for effect in decision.effects:
        if hasattr(effect, "job"):
            effects.append(
                ("CreateJob", effect.job["metadata"]["name"], json.dumps(effect.job, sort_keys=True))
            )
        else:
            effects.append((type(effect).__name__, repr(effect)))
    return (json.dumps(decision.status, sort_keys=True), effects, decision.wake_after, decision.started,
            decision.waiting)  # fmt: skip


def _difference(fresh: tuple[Any, ...], lived: tuple[Any, ...]) -> str:
    names = ("status", "effects", "wake_after", "started", "waiting")
    return "; ".join(
        f"{n}: fresh {a!r:.1500} != lived {b!r:.1500}"
        for n, a, b in zip(names, fresh, lived, strict=True)
        if a != b
    )


class _Logger:
    def warning(self, *args: Any, **kwargs: Any) -> None:
        pass

    def info(self, *args: Any, **kwargs: Any) -> None:
        pass
