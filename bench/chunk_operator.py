"""chunk_bench.py --operator: the chunk benchmark's requests through the operator on one dev cluster.

One DevEnv with real renders (the Job runner runs every Pod as a local process) and the Job
runner's cap of running Pods set to 2 (the machine's cores: a 2-node cluster of 1 core each), the
operator started once. On it, in turn:

(b) the 6-scene request with `chunking.mode: Off` and `cache: true` (it fills the scene cache);
(c) the same request with chunking Auto (`minChunkSeconds: 8`, `maxChunks: 2`) and `cache: false`:
    the long scene runs as plan Job -> Indexed chunks Job -> stitch Job;
(d) (b) re-submitted with one scene edited, cache on: the Jobs it created are counted by role;
(e) the long scene alone as a 1-scene request, whole (Off) then chunked (Auto), `cache: false`;
(f) the 6-scene request on one slot (`parallelism: 1`), chunking Auto, `cache: false`.

Each request's time-to-video is printed beside the operator's cost model: its prediction for the
whole request on the request's slots (`estimates.on_paper`, chunking Off and Auto) and, for every
scene the model decided, `status.scenes[i].chunking.predicted` against the time measured from the
decision (the plan Pod's end, else the request's creation) to the video.

Time-to-video is the bench's wall time from `create` to phase Succeeded in the store (polled every
0.25 s); per-Pod times come from each container's terminated startedAt/finishedAt (1 s
resolution), per-chunk render/replay seconds from status.scenes[i].chunking.
"""

from __future__ import annotations

import datetime
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

from lightkube import Client, codecs
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Pod

from devcluster_requests import NAMESPACE, status_of
from scenefarm_contract.chunks import Unit
from scenefarm_devkit.devenv import DevEnv, machine_cost_model
from scenefarm_operator.engine import chunking
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.engine.scheduling import costmodel, estimates
from scenefarm_operator.runtime.kube import VideoRequest  # noqa: F401 - registers the kind with lightkube codecs

SLOTS = 2  # running Pods at once in the dev cluster, and each request's render.parallelism
CHUNKING = {"mode": "Auto", "minChunkSeconds": 8, "maxChunks": 2}
INDEX = "batch.kubernetes.io/job-completion-index"
RUNS = ("b", "c", "d", "e_whole", "e_chunked", "f")


def request(
    name: str, scenes: list[tuple[str, str]], *, chunked: bool, cache: bool, slots: int = SLOTS
) -> dict[str, Any]:
    """A 720p30 Explicit request; `scenes` are (class name, code) pairs."""
    items = [{"name": f"s{i}", "className": cls, "code": code} for i, (cls, code) in enumerate(scenes)]
    render = {
        "quality": "medium",
        "parallelism": slots,
        "cache": cache,
        "chunking": CHUNKING if chunked else {"mode": "Off"},
    }
    return {
        "apiVersion": f"{naming.GROUP}/{naming.VERSION}",
        "kind": naming.KIND,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"topic": name, "scenes": items, "planner": {"mode": "Explicit"}, "render": render},
    }


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    parse = datetime.datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def pods_of(client: Client, name: str) -> list[dict[str, Any]]:
    """Each finished Pod of the request: role, scene, chunk index, wall, the renderer's seconds."""
    rows = []
    for pod in client.list(Pod, namespace=NAMESPACE, labels={naming.REQUEST_LABEL: name}):
        raw = pod.to_dict()
        meta = raw["metadata"]
        labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
        statuses = (raw.get("status") or {}).get("containerStatuses") or [{}]
        ended = (statuses[0].get("state") or {}).get("terminated") or {}
        message = json.loads(ended.get("message") or "{}")
        rows.append(
            {
                "role": labels.get(naming.ROLE_LABEL, "scene"),
                "scene": labels.get(naming.SCENE_LABEL),
                "chunk": annotations.get(INDEX),
                "startedAt": str(ended.get("startedAt") or ""),
                "finishedAt": str(ended.get("finishedAt") or ""),
                "wall_s": _seconds(str(ended.get("startedAt") or ""), str(ended.get("finishedAt") or "")),
                "renderSeconds": message.get("renderSeconds"),
                "cpuSeconds": message.get("cpuSeconds"),  # what load bends least
            }
        )
    return sorted(rows, key=lambda r: r["startedAt"])


def scene_span(pods: list[dict[str, Any]], scene: int) -> float | None:
    """First Pod start to last Pod end of one scene (plan, chunks and stitch for a chunked one)."""
    mine = [p for p in pods if p["scene"] == str(scene)]
    if not mine:
        return None
    return _seconds(min(p["startedAt"] for p in mine), max(p["finishedAt"] for p in mine))


def run(env: DevEnv, body: dict[str, Any], timeout: float = 1500) -> dict[str, Any]:
    """Create the request, wait for Succeeded; its wall time, status, Jobs and Pods."""
    client, name = env.client(), body["metadata"]["name"]
    load = os.getloadavg()[0]
    pods_cpu, here_cpu = cpu_seconds(resource.RUSAGE_CHILDREN), cpu_seconds(resource.RUSAGE_SELF)
    started = time.perf_counter()
    client.create(codecs.from_dict(body))
    deadline = time.monotonic() + timeout
    while (status := status_of(env, name)).get("phase") not in ("Succeeded", "Failed", "Cancelled"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} not finished after {timeout}s: {status.get('phase')}")
        time.sleep(0.25)
    wall = time.perf_counter() - started
    pods_cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - pods_cpu
    here_cpu = cpu_seconds(resource.RUSAGE_SELF) - here_cpu
    if status["phase"] != "Succeeded":
        raise RuntimeError(f"{name} ended {status['phase']}: {status.get('message')}")
    created = env.cluster.get_object(naming.PLURAL, NAMESPACE, name, naming.GROUP) or {}
    jobs = client.list(Job, namespace=NAMESPACE, labels={naming.REQUEST_LABEL: name})
    labels = [(j.metadata.labels or {}) if j.metadata else {} for j in jobs]
    roles = sorted(f"{lab.get(naming.ROLE_LABEL)}:{lab.get(naming.SCENE_LABEL, '-')}" for lab in labels)
    created_at = created.get("metadata", {}).get("creationTimestamp")
    pods = pods_of(client, name)
    result = {
        "wall_s": round(wall, 1),
        "status_s": _seconds(created_at, status.get("finishedAt")),
        # the Pods that ended meanwhile (every Pod runs as a child of this process), and this
        # process (the API server, the Job runner, the bench); the operator's CPU is not counted
        "pods_cpu_s": round(pods_cpu, 1),
        "api_and_runner_cpu_s": round(here_cpu, 1),
        "load": [round(load, 2), round(os.getloadavg()[0], 2)],
        "jobs": roles,
        "pods": pods,
        "scenes": status.get("scenes") or [],
        "predictions": predictions(status, pods, created_at),
    }
    print(json.dumps({name: result}), flush=True)  # raw, so a later failure loses no figures
    return result


def cpu_seconds(who: int) -> float:
    """User + system CPU seconds of this process, or of its waited-for children (RUSAGE_CHILDREN)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def packing_bound(sequential_s: float, pods_cpu_s: float, cores: int) -> float:
    """The most a run could gain on the sequential time: its Pods' CPU spread perfectly over the
    cores, with no combine wait, no API server and no operator."""
    return round(sequential_s / (pods_cpu_s / cores), 2)


def predictions(
    status: dict[str, Any], pods: list[dict[str, Any]], created: str | None
) -> list[dict[str, Any]]:
    """Each scene's cost-model prediction (seconds from its decision to the video, whole and in its
    best chunk count) beside the measured seconds from that decision (its plan Pod's end, or the
    request's creation when the code's durations decided) to the video."""
    rows = []
    for scene in status.get("scenes") or []:
        chunking = scene.get("chunking") or {}
        predicted = chunking.get("predicted")
        if not predicted:
            continue
        plans = [p["finishedAt"] for p in pods if p["role"] == "plan" and p["scene"] == str(scene["index"])]
        measured = _seconds(plans[-1] if plans else created, status.get("finishedAt"))
        chosen = (
            predicted["chunkedSeconds"]
            if chunking.get("decision") == "Chunked"
            else predicted["wholeSeconds"]
        )
        error = round((chosen - measured) / measured, 3) if measured else None
        rows.append({"scene": scene["index"], "decision": chunking.get("decision"), "predicted": predicted,
                     "measured_s": measured, "error": error})  # fmt: skip
    return rows


def chunk_figures(scene: dict[str, Any]) -> list[dict[str, Any]]:
    """status.scenes[i].chunking.chunks with the replay fraction of each chunk's render."""
    rows = []
    for c in (scene.get("chunking") or {}).get("chunks") or []:
        render, replay = c.get("renderSeconds"), c.get("replaySeconds")
        fraction = round(replay / render, 3) if render and replay is not None else None
        rows.append({k: c.get(k) for k in ("index", "startFrame", "endFrame", "phase")} | {
            "renderSeconds": render,
            "replaySeconds": replay,
            "replay_fraction": fraction,
        })  # fmt: skip
    return rows


def on_paper(b: dict[str, Any], c: dict[str, Any], long: int, nodes: int) -> float:
    """Expected time-to-video on `nodes` 1-core nodes, the long scene split into `nodes` chunks.

    From the measured Pods: shorts and the whole long scene from (b) (so t0, a render's fixed
    cost: short = t0 + w, long = t0 + 4w), replay per frame from (c)'s chunks, plan, stitch and
    combine from (c). Chunk j = t0 + (long - t0)/k + j * (frames/k) * replay per frame; jobs go
    longest first to the least loaded node after the plan; stitch and combine follow.
    """

    def walls(run: dict[str, Any], role: str, scene: str | None) -> list[float]:
        return [p["wall_s"] for p in run["pods"] if p["role"] == role and scene in (None, p["scene"])]

    shorts = [p["wall_s"] for p in b["pods"] if p["role"] == "scene" and p["scene"] != str(long)]
    whole = walls(b, "scene", str(long))[0]
    short = sum(shorts) / len(shorts)
    fixed = max(0.0, short - (whole - short) / 3)
    chunks = c["scenes"][long]["chunking"]
    first, second = chunks["chunks"][0], chunks["chunks"][-1]
    per_frame = (second["replaySeconds"] - first["replaySeconds"]) / max(1, second["startFrame"])
    frames = chunks["frames"]
    parts = [fixed + (whole - fixed) / nodes + j * frames / nodes * per_frame for j in range(nodes)]
    slots = [walls(c, "plan", str(long))[0]] + [0.0] * (nodes - 1)
    for job in sorted(parts + shorts, reverse=True):
        slots[slots.index(min(slots))] += job
    return max(slots) + walls(c, "stitch", str(long))[0] + walls(c, "combine", None)[0]


def operator_bench(work: Path, scenes: list[tuple[str, str]], edited: str, long: int) -> dict[str, Any]:
    """(b) to (e) on one DevEnv; `edited` replaces scene 4's code in (d)."""
    with DevEnv(work / "devenv", rbac_from_chart=True, max_local_processes=SLOTS) as env:
        env.start_operator()
        b = run(env, request("whole", scenes, chunked=False, cache=True))
        c = run(env, request("chunked", scenes, chunked=True, cache=False))
        again = [*scenes[:4], (scenes[4][0], edited), *scenes[5:]]
        d = run(env, request("edited", again, chunked=False, cache=True))
        e_whole = run(env, request("long-whole", [scenes[long]], chunked=False, cache=False))
        e_chunked = run(env, request("long-chunked", [scenes[long]], chunked=True, cache=False))
        f = run(env, request("one-slot", scenes, chunked=True, cache=False, slots=1))
    renders = [r for r in d["jobs"] if not r.startswith("combine")]
    return {
        "b_unchunked_s": b["wall_s"],
        "c_chunked_s": c["wall_s"],
        "b_c_status_s": [b["status_s"], c["status_s"]],
        "long_in_b_s": scene_span(b["pods"], long),
        "long_in_c_s": scene_span(c["pods"], long),
        "long_alone_whole_s": e_whole["wall_s"],
        "long_alone_chunked_s": e_chunked["wall_s"],
        "long_alone_spans_s": [scene_span(e_whole["pods"], 0), scene_span(e_chunked["pods"], 0)],
        "chunks_in_c": chunk_figures(c["scenes"][long]),
        "chunks_alone": chunk_figures(e_chunked["scenes"][0]),
        "d_edited_s": d["wall_s"],
        "d_render_jobs": renders,
        "d_reused": [s["index"] for s in d["scenes"] if s.get("reused")],
        # from the Pods' times; needs (c) chunked (the cost model renders it whole on 2 slots)
        "paper_time_to_video_s": {k: round(on_paper(b, c, long, k), 1) for k in (2, 4, 8)}
        if (c["scenes"][long].get("chunking") or {}).get("chunks")
        else None,
        "f_one_slot_s": f["wall_s"],
        "pods_cpu_s": {
            n: r["pods_cpu_s"] for n, r in zip(RUNS, (b, c, d, e_whole, e_chunked, f), strict=True)
        },
        "api_and_runner_cpu_s": {
            n: r["api_and_runner_cpu_s"] for n, r in zip(RUNS, (b, c, d, e_whole, e_chunked, f), strict=True)
        },
        "model_vs_measured": model_vs_measured(scenes, long, b=b, c=c, e=e_chunked, f=f),
        "loads": {n: r["load"] for n, r in zip(RUNS, (b, c, d, e_whole, e_chunked, f), strict=True)},
        "pods": {"b": b["pods"], "c": c["pods"], "e_whole": e_whole["pods"], "e_chunked": e_chunked["pods"]},
    }


def model_vs_measured(scenes: list[tuple[str, str]], long: int, **runs: dict[str, Any]) -> dict[str, Any]:
    """The cost model's time-to-video for each run's request (the costs the operator decided with:
    the defaults and this machine's CPUs, as the dev cluster sets them) against the measured one,
    and the per-scene predictions in status."""
    costs = costmodel.Costs.parse(machine_cost_model())
    units = [[Unit(60)] * round((chunking.static_seconds(code) or 0) / 2) for _, code in scenes]
    shapes = {
        "b": (units, SLOTS, 0),
        "c": (units, SLOTS, 1),
        "e": ([units[long]], SLOTS, 1),
        "f": (units, 1, 1),
    }
    rows: dict[str, Any] = {}
    for name, result in runs.items():
        request_units, slots, auto = shapes[name]
        model = estimates.on_paper(costs, "medium", request_units, slots, CHUNKING["maxChunks"])[auto]
        rows[name] = {"slots": slots, "model_s": round(model, 1), "measured_s": result["wall_s"],
                      "error": round((model - result["wall_s"]) / result["wall_s"], 3),
                      "scenes": result["predictions"]}  # fmt: skip
    return rows
