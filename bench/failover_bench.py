"""Failover of the chart's operator Deployment on the dev cluster (deployed mode), with real renders.

The chart is installed with `helm` (2 replicas) on a dev cluster whose Deployment node runs the
operator Pods as processes. For each way of losing the active replica, a few requests are
submitted, and once a scene is rendering the active Pod (the Lease holder) is
  delete   - deleted (kubectl delete pod: SIGTERM, the Lease released, grace period, SIGKILL),
  sigkill  - its process SIGKILLed (no clean-up; the Lease runs out; the kubelet restarts it),
  upgrade  - rolled by `helm upgrade` (a new Pod stands by, the old one gets SIGTERM),
  force    - force-deleted (grace 0, as after a node loss: the process is SIGKILLed, the Pod is
             gone at once, nothing restarts it; the Lease runs out and the standby takes it).
Figures: seconds from the loss until another process holds the Lease, until the operator's next
write, requests lost (not Succeeded), duplicate Jobs (creates answered 201 minus distinct names),
scene Jobs beyond attempt 1. Not a test: copy the figures into docs/reliability.md.

    .venv/bin/python bench/failover_bench.py [--modes delete,sigkill,force,upgrade] [--requests 3]
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lightkube import Client, KubeConfig, codecs
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Pod

from scenefarm_devkit.devenv import DevEnv
from scenefarm_devkit.tools import ensure_tool

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "charts" / "scenefarm"
NAMESPACE = "default"
OPERATOR = f"system:serviceaccount:{NAMESPACE}:scenefarm"
VideoRequest = create_namespaced_resource("scenefarm.dev", "v1alpha1", "VideoRequest", "videorequests")
SCENE = (
    "from manim import *\n\nclass S{i}(Scene):\n    def construct(self):\n"
    "        self.play(Create(Circle()), run_time=1)\n        self.wait({wait})\n"
)


def tool(env: DevEnv, name: str, *args: str) -> str:
    done = subprocess.run(
        [str(ensure_tool(name)), "--kubeconfig", str(env.kubeconfig), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{name} {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def request(name: str, scenes: int, wait: float) -> dict[str, Any]:
    items = [
        {"name": f"s{i}", "className": f"S{i}", "code": SCENE.format(i=i, wait=wait)} for i in range(scenes)
    ]
    return {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"topic": name, "scenes": items, "render": {"quality": "low", "cache": False}},
    }


def lease(client: Client) -> dict[str, Any]:
    return dict(client.get(Lease, "scenefarm", namespace=NAMESPACE).to_dict().get("spec") or {})  # type: ignore[no-untyped-call]


def rendering(client: Client) -> bool:
    pods = client.list(Pod, namespace=NAMESPACE, labels={"scenefarm.dev/role": "scene"})
    return any((p.status.phase if p.status else "") == "Running" for p in pods)


def lose(env: DevEnv, client: Client, mode: str, holder: str, round_no: int) -> None:
    if mode == "delete":
        tool(env, "kubectl", "delete", "pod", holder, "-n", NAMESPACE, "--wait=false")
    elif mode == "force":
        tool(
            env,
            "kubectl",
            "delete",
            "pod",
            holder,
            "-n",
            NAMESPACE,
            "--grace-period=0",
            "--force",
            "--wait=false",
        )
    elif mode == "sigkill":
        pod = client.get(Pod, holder, namespace=NAMESPACE)
        statuses = pod.status.containerStatuses if pod.status else None
        pid = int((statuses[0].containerID or "local://0").removeprefix("local://")) if statuses else 0
        os.killpg(pid, signal.SIGKILL)
    else:
        tool(env, "helm", "upgrade", "scenefarm", str(CHART), "-n", NAMESPACE, "--reuse-values",
             "--set-string", f"operator.podAnnotations.roll=r{round_no}")  # fmt: skip


def measure(
    env: DevEnv, client: Client, mode: str, round_no: int, args: argparse.Namespace
) -> dict[str, Any]:
    names = [f"{mode}-{round_no}-{i}" for i in range(args.requests)]
    for name in names:
        client.create(codecs.from_dict(request(name, args.scenes, args.wait)))
    deadline = time.monotonic() + 300
    while not rendering(client):
        if time.monotonic() > deadline:
            raise SystemExit("no scene started rendering")
        time.sleep(0.2)
    before = lease(client)
    holder = before["holderIdentity"]
    lost_at = time.time()
    lose(env, client, mode, holder, round_no)
    stopped_at = lost_at
    handed_over = None
    while handed_over is None and time.time() - lost_at < 120:
        now = lease(client)
        if mode == "upgrade" and stopped_at == lost_at:  # the old Pod gets SIGTERM once the new one is ready
            with_deletion = client.get(Pod, holder, namespace=NAMESPACE).metadata
            if with_deletion is not None and with_deletion.deletionTimestamp:
                stopped_at = time.time()
        moved = now.get("holderIdentity") not in ("", holder)
        renewed_by_new_process = (
            mode == "sigkill"
            and now.get("renewTime") != before.get("renewTime")
            and time.time() - lost_at > 0.5
        )
        if (moved or renewed_by_new_process) and now.get("holderIdentity"):
            handed_over = time.time()
        time.sleep(0.05)
    if handed_over is None:
        raise SystemExit(f"{mode}: nobody took the Lease over within 120 s")
    terminal: dict[str, str] = {}
    deadline = time.monotonic() + 900
    while len(terminal) < len(names) and time.monotonic() < deadline:
        for name in names:
            body = client.get(VideoRequest, name, namespace=NAMESPACE).to_dict()  # type: ignore[no-untyped-call]
            phase = (body.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed", "Cancelled"):
                terminal[name] = phase
        time.sleep(1)
    writes = [
        r for r in env.cluster.request_log
        if r.identity == OPERATOR and r.is_write and r.resource in ("videorequests", "jobs")
        and r.time > handed_over
    ]  # fmt: skip
    creates = collections.Counter(
        r.name for r in env.cluster.request_log
        if r.identity == OPERATOR and r.verb == "create" and r.resource == "jobs" and r.status == 201
        and any(r.name.startswith(n + "-") for n in names)
    )  # fmt: skip
    retried = [n for n in creates if "-a1" not in n and "-combine" not in n]
    for name in names:
        if terminal.get(name) != "Succeeded":
            status = client.get(VideoRequest, name, namespace=NAMESPACE).to_dict().get("status") or {}  # type: ignore[no-untyped-call]
            print(f"  lost {name}: {terminal.get(name, 'not finished')}: {status.get('message')}", flush=True)
    return {
        "mode": mode,
        "holder": f"{holder} -> {lease(client).get('holderIdentity')}",
        "stop_to_lease_s": round(handed_over - stopped_at, 1),
        "stop_to_next_write_s": round(min((r.time for r in writes), default=float("nan")) - stopped_at, 1),
        "lost": sum(1 for n in names if terminal.get(n) != "Succeeded"),
        "duplicate_jobs": sum(creates.values()) - len(creates),
        "retried_scene_jobs": len(retried),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--modes", default="delete,sigkill,force,upgrade")
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--scenes", type=int, default=2)
    parser.add_argument(
        "--wait", type=float, default=3.0, help="seconds each scene waits (renders last longer)"
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="failover-") as tmp,
        DevEnv(Path(tmp), render_account=False) as env,
    ):
        tool(env, "helm", "install", "scenefarm", str(CHART), "-n", NAMESPACE, "--set", "operator.replicas=2")
        tool(env, "kubectl", "rollout", "status", "deployment/scenefarm", "-n", NAMESPACE, "--timeout=180s")
        client = Client(config=KubeConfig.from_file(env.kubeconfig), field_manager="failover-bench")
        print(f"python {sys.version.split()[0]}, load {os.getloadavg()[0]:.1f}, cpus {os.cpu_count()}")
        for round_no, mode in enumerate(args.modes.split(",")):
            tool(
                env, "kubectl", "rollout", "status", "deployment/scenefarm", "-n", NAMESPACE, "--timeout=180s"
            )
            try:
                figures = measure(env, client, mode, round_no, args)
            except ApiError as e:
                raise SystemExit(f"{mode}: {e}") from e
            print(
                " ".join(f"{k}={v}" for k, v in figures.items()), f"load={os.getloadavg()[0]:.1f}", flush=True
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
