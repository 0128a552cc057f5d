"""A dev cluster (API server, Job runner, background garbage collector) for the conformance suite.

The clients are ones this project did not write: the official `kubernetes` Python client and the
real kubectl. Every expectation is the real kube-apiserver's documented answer (the test says
which source states it).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from scenefarm_devkit.apiserver import DevClusterThread
from scenefarm_devkit.jobrunner import run_job_runner
from scenefarm_devkit.tools import ensure_tool

GC_DELAY = 0.5  # seconds: the asynchronous garbage collector's delay in this suite
COMPACTION_INTERVAL = 1.0  # seconds: etcd compaction, so that old resourceVersions expire quickly


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevClusterThread]:
    state = tmp_path_factory.mktemp("conformance")
    with DevClusterThread(
        state,
        extra_tasks=[run_job_runner],
        gc_delay=GC_DELAY,
        compaction_interval=COMPACTION_INTERVAL,
        tls=True,  # HTTPS with a generated CA, as dev up serves it
    ) as running:
        yield running


@pytest.fixture(scope="module")
def api(cluster: DevClusterThread) -> Iterator[kubernetes.client.ApiClient]:
    client = kubernetes.config.new_client_from_config(config_file=str(cluster.kubeconfig_path))
    yield client
    client.close()


@pytest.fixture(scope="module")
def kubectl(cluster: DevClusterThread) -> Any:
    binary = ensure_tool("kubectl")

    def run(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(binary), "--kubeconfig", str(cluster.kubeconfig_path), *args],
            capture_output=True,
            text=True,
            input=stdin,
            timeout=60,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr}")
        return done

    return run


def job_body(name: str, restart: str | None = "Never", **spec: Any) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["true"]}]}
    if restart is not None:
        pod_spec["restartPolicy"] = restart
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": {"spec": pod_spec}} | spec,
    }


def tool_path(name: str) -> Path:
    return Path(ensure_tool(name))
