"""Fencing: an active replica that cannot renew its Lease stops acting before anyone may take over.

The chart's 2-replica Deployment runs on the dev cluster (installed with helm). The API server
then answers 503 to every Lease request of the operator's ServiceAccount (both replicas: nobody
can renew or acquire). The holder must end its process within the renew deadline (10 s) of its
last renewal, with exit code 3, and the operator must write nothing more; once the Lease answers
again, a replica takes it and requests finish.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from lightkube import Client, KubeConfig, codecs
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Pod

from scenefarm_devkit.apiserver.faults import FaultRule
from scenefarm_devkit.devenv import DevEnv
from scenefarm_devkit.tools import ensure_tool
from scenefarm_operator.runtime.kube import VideoRequest

from .conftest import CHART, EXAMPLES, wait_for

pytestmark = pytest.mark.integration

OPERATOR = "system:serviceaccount:default:scenefarm"
RENEW_DEADLINE = 10.0


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevEnv]:
    with DevEnv(tmp_path_factory.mktemp("fencing"), instant=True, render_account=False) as running:
        for tool, args in (
            ("helm", ["install", "scenefarm", str(CHART), "--set", "operator.replicas=2"]),
            ("kubectl", ["rollout", "status", "deployment/scenefarm", "--timeout=180s"]),
        ):
            command = [str(ensure_tool(tool)), "--kubeconfig", str(running.kubeconfig), *args]
            subprocess.run(command, check=True, capture_output=True, timeout=200)
        yield running


def holder(client: Client) -> str:
    lease: Any = client.get(Lease, "scenefarm", namespace="default")
    return str(lease.spec.holderIdentity or "")


def test_a_holder_cut_off_from_its_lease_stops_before_the_lease_runs_out(env: DevEnv) -> None:
    client = Client(config=KubeConfig.from_file(env.kubeconfig), field_manager="fencing-test")
    active = wait_for(lambda: holder(client), 60, "a Lease holder")
    rule = FaultRule(
        verbs={"get", "update", "create"}, status=503, identities={OPERATOR}, resources={"leases"}
    )
    env.cluster.faults.append(rule)
    cut_at = time.time()
    renewals = [
        r.time for r in env.cluster.request_log
        if r.identity == OPERATOR and r.resource == "leases" and r.verb == "update" and r.status == 200
    ]  # fmt: skip
    last_renewal = max(renewals)

    def fenced() -> Any:
        pod: Any = client.get(Pod, active, namespace="default")
        statuses = pod.status.containerStatuses or []
        ended = statuses[0].lastState.terminated if statuses and statuses[0].lastState else None
        return ended

    ended = wait_for(fenced, 40, "the cut-off holder to end its process")
    assert ended.exitCode == 3
    writes_after = [
        r for r in env.cluster.request_log
        if r.identity == OPERATOR and r.is_write and r.resource != "leases" and r.status < 300
        and r.time > last_renewal + RENEW_DEADLINE + 1.0
    ]  # fmt: skip
    assert writes_after == []  # nothing acted once the holder could no longer be sure it held the Lease
    log = (env.state_dir / "deployments" / "default" / active / "container.log").read_text(errors="replace")
    assert "Lost the Lease default/scenefarm: stopping at once" in log
    assert time.time() - cut_at < 40

    # While nobody can hold the Lease, a new request is left alone (no finalizer, no Job).
    body: Any = codecs.load_all_yaml((EXAMPLES / "explicit-scenes.yaml").read_text(encoding="utf-8"))[0]
    body.metadata.namespace = "default"
    client.create(body)
    time.sleep(3)  # a window for a replica that wrongly acts; not a measurement
    untouched: Any = client.get(VideoRequest, "shapes", namespace="default")
    assert not untouched.metadata.finalizers and not untouched.to_dict().get("status")

    env.cluster.faults.remove(rule)
    wait_for(lambda: holder(client) != "" and holder(client), 60, "a replica to hold the Lease again")

    def finished() -> str | None:
        vr: Any = client.get(VideoRequest, "shapes", namespace="default")
        phase = (vr.to_dict().get("status") or {}).get("phase")
        return phase if phase in ("Succeeded", "Failed") else None

    assert wait_for(finished, 120, "the request after the take-over") == "Succeeded"


def test_the_fenced_replica_restarts_as_a_pod_of_the_deployment(env: DevEnv) -> None:
    client = Client(config=KubeConfig.from_file(env.kubeconfig), field_manager="fencing-test")
    pods: list[Any] = list(
        client.list(Pod, namespace="default", labels={"app.kubernetes.io/component": "operator"})
    )
    assert len(pods) == 2
    assert max(p.status.containerStatuses[0].restartCount for p in pods) >= 1  # a standby now
