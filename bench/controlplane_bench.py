"""Control-plane benchmark: the operator on the dev cluster in instant mode.

N Explicit VideoRequests x S tiny scenes; the Job runner's instant mode marks every Job
Complete at once with a synthetic termination message, so what is left is the control plane:
the operator's watches, reconciles and API writes. Prints wall time, operator writes per
VideoRequest (from the server's request log, broken down by verb/resource/subresource), the
latency from a Job's Complete status to the VideoRequest status showing that scene, the
operator's peak RSS, the largest status object, and the floor (the same writes made directly by
one client). Not a test: copy the figures into docs/benchmarks.md.

    .venv/bin/python bench/controlplane_bench.py [--requests 200 --scenes 10 | --quick]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import copy
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import yaml
from lightkube import AsyncClient, KubeConfig, codecs
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap, Event
from lightkube.types import PatchType

from devcluster_requests import NAMESPACE, status_of, video_request
from scenefarm_devkit.apiserver import DevClusterThread
from scenefarm_devkit.apiserver.requestlog import RequestRecord
from scenefarm_devkit.apiserver.store import Event as StoreEvent
from scenefarm_devkit.data import crd_path
from scenefarm_devkit.devenv import DevEnv
from scenefarm_operator.engine import lifecycle, plan_store
from scenefarm_operator.engine.decide import Inputs, decide
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.engine.observed import Observed, job_condition
from scenefarm_operator.planning.base import Plan, PlannedScene
from scenefarm_operator.runtime.kube import VideoRequest
from scenefarm_operator.support.settings import Settings

Obj = dict[str, Any]
WriteKey = tuple[str, str, str]  # (verb, resource, subresource)


def scene_code(index: int) -> str:
    return f"from manim import *\nclass S{index}(Scene):\n    def construct(self):\n        self.wait(0.1)\n"


def tiny_request(name: str, scenes: int) -> Obj:
    return video_request(name, [scene_code(i) for i in range(scenes)], parallelism=scenes)


# ---- recording: store events on the dev cluster's own loop, one clock with the request log ----


class Recorder:
    """(time, event) for every Job and VideoRequest write, taken on the dev cluster's loop."""

    def __init__(self, cluster: DevClusterThread) -> None:
        self.cluster = cluster
        self.events: list[tuple[float, StoreEvent]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        store = self.cluster.cluster.server.store

        async def subscribe() -> None:
            for group, plural in (("batch", "jobs"), (naming.GROUP, naming.PLURAL)):
                _, sub = store.subscribe(group, plural, None)
                self._tasks.append(asyncio.create_task(self._drain(sub.queue)))

        self.cluster.call(subscribe)

    async def _drain(self, queue: asyncio.Queue[StoreEvent | None]) -> None:
        while (event := await queue.get()) is not None:
            self.events.append((time.time(), event))


def latencies(
    events: list[tuple[float, StoreEvent]],
) -> tuple[list[float], list[float], dict[str, float], list[tuple[float, float]]]:
    """(scene latencies, combine latencies, VR name -> time it turned Succeeded, the slowest 1% of
    scenes as (latency, time the Job completed)), in seconds.

    A scene's latency runs from the Job write that adds its Complete=True condition to the first
    VideoRequest write whose status.scenes[index].phase is Succeeded; the combine's from its Job's
    Complete write to the first VideoRequest write with phase Succeeded.
    """
    done: dict[tuple[str, str], float] = {}  # (request, scene index or "combine") -> Job Complete
    shown: dict[tuple[str, str], float] = {}
    succeeded: dict[str, float] = {}
    for at, event in events:
        obj = event.obj
        if event.plural == "jobs":
            labels = obj["metadata"].get("labels") or {}
            part = "combine" if labels.get(naming.ROLE_LABEL) == "combine" else labels.get(naming.SCENE_LABEL)
            key = (labels.get(naming.REQUEST_LABEL, ""), str(part))
            if key not in done and job_condition(obj, "Complete"):
                done[key] = at
            continue
        name, status = obj["metadata"]["name"], obj.get("status") or {}
        for scene in status.get("scenes") or ():
            if scene.get("phase") == "Succeeded":
                shown.setdefault((name, str(scene["index"])), at)
        if status.get("phase") == "Succeeded":
            shown.setdefault((name, "combine"), at)
            succeeded.setdefault(name, at)
    scene_lat = [shown[k] - t for k, t in done.items() if k in shown and k[1] != "combine"]
    combine_lat = [shown[k] - t for k, t in done.items() if k in shown and k[1] == "combine"]
    pairs = sorted(
        ((shown[k] - t, t) for k, t in done.items() if k in shown and k[1] != "combine"), reverse=True
    )
    return scene_lat, combine_lat, succeeded, pairs[: max(1, len(pairs) // 100)]


def status_changes(events: list[tuple[float, StoreEvent]]) -> collections.Counter[str]:
    """What each VideoRequest status write changed: scene phase transitions, phase, or only other
    fields (progress, conditions, currentScene...)."""
    last: dict[str, Obj] = {}
    counts: collections.Counter[str] = collections.Counter()
    for _, event in events:
        if event.plural != naming.PLURAL:
            continue
        name, new = event.obj["metadata"]["name"], event.obj.get("status") or {}
        old = last.get(name, {})
        last[name] = new
        if new == old:
            continue
        counts["status writes"] += 1
        before = {sc["index"]: sc.get("phase") for sc in old.get("scenes") or ()}
        moved = [
            f"{before.get(sc['index'])}->{sc.get('phase')}"
            for sc in new.get("scenes") or ()
            if before.get(sc["index"]) != sc.get("phase")
        ]
        counts[f"moving {len(moved)} scene(s)" if moved else "moving no scene"] += 1
        if not moved:  # then what did it change?
            olds = {sc["index"]: sc for sc in old.get("scenes") or ()}
            fields = {
                k
                for sc in new.get("scenes") or ()
                for k, v in sc.items()
                if olds.get(sc["index"], {}).get(k) != v
            }
            top = {k for k in new.keys() | old.keys() if k != "scenes" and new.get(k) != old.get(k)}
            counts[
                "  which changed " + ",".join(sorted(top) + [f"scenes[].{f}" for f in sorted(fields)])
            ] += 1
        counts.update(f"scene {m}" for m in moved)
        if old.get("phase") != new.get("phase"):
            counts[f"phase {old.get('phase')}->{new.get('phase')}"] += 1
    return counts


# ---- the operator run -------------------------------------------------------------------------


class PeakRss(threading.Thread):
    def __init__(self, pid: int, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.process, self.every, self.peak, self._done = psutil.Process(pid), every, 0, threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.every):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.NoSuchProcess:
                return

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def run_operator(requests: int, scenes: int, state: Path, cap: int, timeout: float) -> dict[str, Any]:
    env = DevEnv(state, instant=True, operator_env={"SCENEFARM_MAX_RUNNING_SCENE_JOBS": str(cap)}).start()
    try:
        recorder = Recorder(env.cluster)
        recorder.start()
        log = env.cluster.request_log
        operator = env.start_operator()
        # Ready: kopf has listed all three kinds (its watches follow at once; a watch is logged
        # only when it ends).
        listed = ("jobs", "pods", naming.PLURAL)
        wait_for(
            lambda: all(log.matching(identity="operator", verb="list", resource=r) for r in listed),
            60,
            "kopf",
        )
        time.sleep(0.5)
        rss = PeakRss(operator.pid)
        rss.start()
        op_cpu, own_cpu = psutil.Process(operator.pid).cpu_times(), psutil.Process().cpu_times()
        client = env.client()
        names = [f"bench-{i:04d}" for i in range(requests)]
        started = time.time()
        for name in names:
            client.create(codecs.from_dict(tiny_request(name, scenes)))

        def all_succeeded() -> bool:
            return all(status_of(env, n).get("phase") == "Succeeded" for n in names)

        wait_for(all_succeeded, timeout, "every VideoRequest to succeed")
        time.sleep(1.0)  # trailing writes (events) belong to the run too
        peak = rss.stop()
        rss_now = psutil.Process(operator.pid).memory_info().rss
        op_end, own_end = psutil.Process(operator.pid).cpu_times(), psutil.Process().cpu_times()
        objects = snapshot(env)
        env.stop_operator()
        records = list(log)
    finally:
        env.stop()
    scene_lat, combine_lat, succeeded, slow = latencies(recorder.events)
    return {
        "wall": max(succeeded.values()) - started,
        "finished": sorted(t - started for t in succeeded.values()),
        "records": records,
        "dropped": len(records) >= log.records.maxlen if log.records.maxlen else False,
        "scene_latency": scene_lat,
        "slow": slow,
        "combine_latency": combine_lat,
        "rss_peak": peak,
        "cpu_operator": op_end.user + op_end.system - op_cpu.user - op_cpu.system,
        "cpu_cluster": own_end.user + own_end.system - own_cpu.user - own_cpu.system,
        "changes": status_changes(recorder.events),
        "started": started,
        "rss_end": rss_now,
        "objects": objects,
    }


def snapshot(env: DevEnv) -> dict[str, list[Obj]]:
    by_plural: dict[str, list[Obj]] = collections.defaultdict(list)
    for (_, plural, _, _), obj in list(env.cluster.objects.items()):
        by_plural[plural].append(copy.deepcopy(obj))
    return by_plural


def operator_writes(records: list[RequestRecord]) -> collections.Counter[WriteKey]:
    return collections.Counter(
        (r.verb, r.resource, r.subresource) for r in records if r.identity == "operator" and r.is_write
    )


# ---- the floor: the same writes, made directly by one client --------------------------------------


def floor_plan(writes: collections.Counter[WriteKey], objects: dict[str, list[Obj]]) -> Obj:
    """Templates copied from the run's objects, and the operator's write mix to replay."""

    def clean(obj: Obj) -> Obj:
        meta = obj["metadata"]
        kept = {k: meta[k] for k in ("namespace", "labels", "annotations") if k in meta}
        return {k: v for k, v in obj.items() if k not in ("metadata", "status")} | {"metadata": kept}

    scene_job = next(
        j for j in objects["jobs"] if (j["metadata"].get("labels") or {}).get(naming.ROLE_LABEL) == "scene"
    )
    statuses = [o["status"] for o in objects[naming.PLURAL]]
    return {
        "writes": [[list(k), n] for k, n in writes.items()],
        "templates": {
            "jobs": clean(scene_job),
            "configmaps": clean(objects["configmaps"][0]),
            "events": clean(objects["events"][0]) if objects.get("events") else None,
        },
        "status": statuses[0],
    }


async def replay(kubeconfig: Path, plan: Obj, requests: int, concurrency: int) -> float:
    """Make the plan's writes with one AsyncClient; seconds taken (VideoRequests made beforehand)."""
    client = AsyncClient(config=KubeConfig.from_file(kubeconfig), field_manager="floor")
    names = [f"floor-{i:04d}" for i in range(requests)]
    scenes = len(plan["status"].get("scenes") or ()) or 1
    for name in names:
        await client.create(codecs.from_dict(tiny_request(name, min(scenes, 50))))
    ops: list[tuple[str, str, str]] = []
    for (verb, resource, sub), count in plan["writes"]:
        ops += [(verb, resource, sub)] * count
    # the plan first, then children, like the operator; patches after the creates they target
    ops.sort(key=lambda op: (op[1] != "configmaps", op[0] != "create"))
    counter = iter(range(len(ops)))
    templates = plan["templates"]

    first: dict[str, str] = {}  # resource -> the name of its first create (what patches target)

    async def write(verb: str, resource: str, sub: str) -> None:
        i = next(counter)
        vr = names[i % requests]
        if verb == "create":
            body = copy.deepcopy(templates[resource] or templates["configmaps"])
            body["metadata"]["name"] = f"floor-{resource}-{i}"
            first.setdefault(resource, body["metadata"]["name"])
            await client.create(codecs.from_dict(body))
        elif resource == naming.PLURAL and sub == "status":
            status = plan["status"] | {"progress": i % 100}  # a real change each time
            await client.patch(
                VideoRequest.Status, vr, {"status": status}, namespace=NAMESPACE, patch_type=PatchType.MERGE
            )
        else:  # metadata patches (finalizers, annotations) and anything else: one merge patch
            kind: dict[str, Any] = {
                naming.PLURAL: VideoRequest,
                "jobs": Job,
                "configmaps": ConfigMap,
                "events": Event,
            }
            target = vr if resource == naming.PLURAL else first[resource]
            patch = {"metadata": {"annotations": {"bench.scenefarm.dev/write": str(i)}}}
            await client.patch(kind[resource], target, patch, namespace=NAMESPACE, patch_type=PatchType.MERGE)

    queue = collections.deque(ops)

    async def worker() -> None:
        while queue:
            await write(*queue.popleft())

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    taken = time.perf_counter() - began
    await client.close()
    return taken


def floor(plan: Obj, requests: int, concurrency: int, state: Path) -> float:
    """The replay in its own process (as the operator is), against a fresh dev cluster, no runner."""
    plan_file = state / f"floor-{concurrency}.json"
    plan_file.write_text(json.dumps(plan))
    with DevClusterThread(state_dir=state / f"floor-{concurrency}", crds=[crd_path()]) as cluster:
        cluster.kubeconfig_for("operator")
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--replay",
                str(plan_file),
                "--kubeconfig",
                str(cluster.state_dir / "kubeconfig-operator"),
                "--requests",
                str(requests),
                "--concurrency",
                str(concurrency),
            ],
            check=False,
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise RuntimeError(f"the floor replay failed:\n{out.stderr[-3000:]}")
        writes = sum(1 for r in cluster.request_log if r.identity == "operator" and r.is_write)
    return float(out.stdout.strip()) if writes else float("nan")


# ---- status size at 200 scenes (beyond the CRD's explicit-scenes limit: pure aggregation) ------


def status_at(scenes: int, objects: dict[str, list[Obj]]) -> int:
    """Bytes of the status `decide` derives for `scenes` succeeded scenes + combine."""
    jobs = objects["jobs"]
    pods_by_job: dict[str, list[Obj]] = collections.defaultdict(list)
    for pod in objects.get("pods", []):
        pods_by_job[(pod["metadata"].get("labels") or {}).get("job-name", "")].append(pod)
    scene_t = next(j for j in jobs if j["metadata"]["labels"].get(naming.ROLE_LABEL) == "scene")
    combine_t = next(j for j in jobs if j["metadata"]["labels"].get(naming.ROLE_LABEL) == "combine")
    name = "a-request-with-a-fairly-long-name-for-sizing"
    plan = Plan(tuple(PlannedScene(f"scene-{i:03d}", f"S{i}", scene_code(i)) for i in range(scenes)))
    stored, _ = plan_store.from_plan(plan, "Explicit", 1)
    scene_jobs: dict[int, list[Obj]] = {}
    pods: dict[str, list[Obj]] = {}
    for i in range(scenes):
        job = copy.deepcopy(scene_t)
        job["metadata"]["name"] = naming.scene_job_name(name, i, 1)
        job["metadata"]["labels"] |= naming.scene_labels(name, i, 1)
        job["metadata"]["annotations"] = {naming.CODE_KEY_ANNOTATION: stored.scene(i).key}
        scene_jobs[i] = [job]
        pods[job["metadata"]["name"]] = copy.deepcopy(pods_by_job[scene_t["metadata"]["name"]])
    combine_t_name = combine_t["metadata"]["name"]
    pods[combine_t_name] = pods_by_job[combine_t_name]
    spec = tiny_request(name, scenes)["spec"]
    combine_t = copy.deepcopy(combine_t)
    scenes_done = [{"index": i, "attempt": 1, "revision": 1, "phase": "Succeeded"} for i in range(scenes)]
    _, digest = lifecycle.combine_inputs(scenes_done)
    combine_t["metadata"]["name"] = naming.combine_job_name(name, digest)
    pods[combine_t["metadata"]["name"]] = pods.pop(combine_t_name, [])
    meta = {"name": name, "namespace": "default", "uid": "0" * 36, "generation": 1}
    observed = Observed(scene_jobs, {combine_t["metadata"]["name"]: combine_t}, pods)
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    decision = decide(Inputs(meta, spec, {}, stored, observed, now, Settings()))
    status = decision.status or {}
    assert status["phase"] == "Succeeded", status["phase"]
    return len(json.dumps(status))


def crd_scene_limit() -> int:
    crd = yaml.safe_load(crd_path().read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return int(schema["properties"]["spec"]["properties"]["scenes"]["maxItems"])


# ---- report -------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def report(args: argparse.Namespace, run: dict[str, Any], floors: dict[int, float]) -> None:
    n, s = args.requests, args.scenes
    writes = operator_writes(run["records"])
    total = sum(writes.values())
    other = collections.Counter(r.verb for r in run["records"] if r.identity == "operator" and not r.is_write)
    largest = max(len(json.dumps(o.get("status") or {})) for o in run["objects"][naming.PLURAL])
    at200 = status_at(200, run["objects"])
    floor_best = min(floors.values()) if floors else float("nan")
    sl, cl = run["scene_latency"], run["combine_latency"]
    mb = 1024 * 1024
    print(f"# control plane: {n} VideoRequests x {s} scenes, instant mode, cap {args.cap}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average at start {args.load:.1f}"
    )
    print(f"wall (first create -> last VideoRequest Succeeded): {run['wall']:.2f} s")
    done = run["finished"]
    median = pct(done, 50)
    print(f"  VideoRequests Succeeded: first {done[0]:.1f} s, median {median:.1f} s, last {done[-1]:.1f} s")
    for concurrency, taken in floors.items():
        print(f"floor ({total} writes, one client, {concurrency} at a time): {taken:.2f} s")
    print(f"wall / floor: {run['wall'] / floor_best:.2f}x (target <= 2x)")
    print(f"operator writes: {total}, per VideoRequest {total / n:.1f} (target <= {2 * s + 10})")
    for (verb, resource, sub), count in writes.most_common():
        print(f"  {verb:7} {resource + ('/' + sub if sub else ''):28} {count:6}  {count / n:6.2f}/VR")
    repeats = collections.Counter(
        (r.verb, r.resource, r.subresource, r.user_agent.split("/")[0], r.name)
        for r in run["records"]
        if r.identity == "operator" and r.is_write and r.verb != "create"
    )
    spread = collections.Counter((k[:4], n) for k, n in repeats.items())
    for (verb, resource, sub, agent), times in sorted(spread, key=str):
        objects = spread[(verb, resource, sub, agent), times]
        print(f"    {verb} {resource}{'/' + sub if sub else ''} by {agent}: {objects} objects x {times}")
    reasons = collections.Counter(e.get("reason", "") for e in run["objects"].get("events", []))
    print(f"  events by reason: {dict(reasons.most_common())}")
    print(f"operator reads: {dict(other)}")
    print("status writes, by what they changed (from the watch):")
    for what, count in sorted(run["changes"].items()):
        print(f"  {what:40} {count:6}  {count / n:6.2f}/VR")
    by_identity = collections.Counter(r.identity for r in run["records"] if r.is_write)
    print(f"all writes in the run, by identity: {dict(by_identity)}")
    print(
        f"CPU during the run: operator {run['cpu_operator']:.1f} s, "
        f"bench process (API server + Job runner) {run['cpu_cluster']:.1f} s, wall {run['wall']:.1f} s"
    )
    print(
        f"Job Complete -> VR status shows the scene: n={len(sl)} p50 {pct(sl, 50) * 1000:.0f} ms, "
        f"p99 {pct(sl, 99) * 1000:.0f} ms, max {max(sl, default=0) * 1000:.0f} ms (target p99 < 250 ms)"
    )
    slow = run["slow"]
    print(
        f"  slowest 1% ({len(slow)}): Jobs completed {min(t for _, t in slow) - run['started']:.1f}-"
        f"{max(t for _, t in slow) - run['started']:.1f} s into the run"
    )
    print(
        f"combine Job Complete -> VR Succeeded: p50 {pct(cl, 50) * 1000:.0f} ms, "
        f"p99 {pct(cl, 99) * 1000:.0f} ms, mean {statistics.fmean(cl or [0]) * 1000:.0f} ms"
    )
    print(
        f"operator RSS: peak {run['rss_peak'] / mb:.0f} MB, at end {run['rss_end'] / mb:.0f} MB"
        " (target < 200 MB)"
    )
    print(
        f"largest status: {largest} B at {s} scenes; {at200} B at 200 scenes (decide, "
        f"target < 100 KB); the CRD allows at most {crd_scene_limit()} explicit scenes"
    )
    if run["dropped"]:
        print("WARNING: the request log hit its bound; counts are low")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--scenes", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="20 x 10")
    parser.add_argument("--cap", type=int, default=10000, help="SCENEFARM_MAX_RUNNING_SCENE_JOBS")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--replay", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--kubeconfig", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replay:
        plan = json.loads(args.replay.read_text())
        print(asyncio.run(replay(args.kubeconfig, plan, args.requests, args.concurrency)))
        return
    if args.quick:
        args.requests, args.scenes = 20, 10
    args.load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="controlplane-bench-") as tmp:
        state = Path(tmp)
        run = run_operator(args.requests, args.scenes, state / "run", args.cap, args.timeout)
        plan = floor_plan(operator_writes(run["records"]), run["objects"])
        floors = {c: floor(plan, args.requests, c, state) for c in (1, args.requests)}
    report(args, run, floors)


if __name__ == "__main__":
    main()
