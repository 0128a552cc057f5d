"""Deployed mode: the chart installed with helm on `scenefarm dev up --no-operator`, driven only
through the clients a person uses (helm, kubectl, the scenefarm CLI).

The dev cluster runs the chart's operator Deployment (its Pods as local processes with their
ServiceAccount's token, authorized by the chart's Roles); nothing here starts an operator itself.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from scenefarm_devkit.tools import ensure_tool

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "scenefarm"
CI_VALUES = CHART / "ci"
EXAMPLES = REPO / "examples"
BIN = Path(sys.executable).parent
T = TypeVar("T")


def wait_for(fn: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value is not None and value is not False:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclasses.dataclass
class Farm:
    """A dev cluster with the chart installed as release `scenefarm` in `namespace`."""

    state_dir: Path
    kubeconfig: Path
    namespace: str
    up: subprocess.Popen[str]

    def run(self, tool: str, *args: str, timeout: float = 120, check: bool = True) -> str:
        binary = str(ensure_tool(tool)) if tool in ("helm", "kubectl") else str(BIN / tool)
        env = {
            "PATH": f"{BIN}:/usr/bin:/bin",
            "HOME": str(self.state_dir),
            "KUBECONFIG": str(self.kubeconfig),
        }
        done = subprocess.run(
            [binary, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{tool} {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
        return done.stdout + (done.stderr if not check else "")

    def kubectl(self, *args: str, timeout: float = 120) -> str:
        return self.run("kubectl", *args, timeout=timeout)

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def install(self, values: Sequence[str] = (), settings: Sequence[str] = (), rollout: bool = True) -> str:
        args = ["install", "scenefarm", str(CHART), "-n", self.namespace, "--create-namespace"]
        for name in values:
            args += ["-f", str(CI_VALUES / name)]
        for setting in settings:
            args += ["--set", setting]
        notes = self.run("helm", *args)
        if rollout:
            self.kubectl(
                "-n",
                self.namespace,
                "rollout",
                "status",
                "deployment/scenefarm",
                "--timeout=180s",
                timeout=200,
            )
        return notes

    def phase(self, name: str, namespace: str) -> str:
        return self.kubectl("get", "vr", name, "-n", namespace, "-o", "jsonpath={.status.phase}")

    def wait_terminal(self, name: str, namespace: str, timeout: float = 300) -> str:
        def finished() -> str | None:
            phase = self.phase(name, namespace)
            return phase if phase in ("Succeeded", "Failed", "Cancelled") else None

        return wait_for(finished, timeout, f"VideoRequest {namespace}/{name} to finish")

    def lease_holder(self) -> str:
        lease = self.json("lease", "scenefarm", "-n", self.namespace)
        return str(lease["spec"].get("holderIdentity") or "")

    def operator_pods(self) -> list[dict[str, Any]]:
        selector = "app.kubernetes.io/component=operator"
        pods = self.json("pods", "-n", self.namespace, "-l", selector)["items"]
        return [p for p in pods if not p["metadata"].get("deletionTimestamp")]

    def operator_log(self, pod: str) -> str:
        return (self.state_dir / "deployments" / self.namespace / pod / "container.log").read_text(
            errors="replace"
        )


def start_farm(
    state_dir: Path, namespace: str = "default", instant: bool = True, openshift: bool = False
) -> Farm:
    """`scenefarm dev up --no-operator` as a person starts it; its first line is the kubeconfig."""
    args = [
        str(BIN / "scenefarm"),
        "dev",
        "up",
        "--no-operator",
        "--no-switch-context",
        "--state-dir",
        str(state_dir),
    ]
    if instant:
        args.append("--instant")
    if openshift:
        args.append("--openshift")  # restricted-v2 and a UID range per namespace
    env = dict(os.environ) | {"HOME": str(state_dir)}
    up = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
    assert up.stdout is not None
    kubeconfig = Path(up.stdout.readline().strip())
    return Farm(state_dir, kubeconfig, namespace, up)


@dataclasses.dataclass
class Running:
    farm: Farm

    def __enter__(self) -> Farm:
        return self.farm

    def __exit__(self, *exc: object) -> None:
        self.farm.up.send_signal(signal.SIGTERM)
        try:
            self.farm.up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.farm.up.kill()
            self.farm.up.wait()


def farm(
    state_dir: Path, namespace: str = "default", instant: bool = True, openshift: bool = False
) -> Iterator[Farm]:
    with Running(start_farm(state_dir, namespace, instant, openshift)) as running:
        yield running
