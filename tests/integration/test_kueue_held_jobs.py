"""Jobs Kueue holds show as queued and are left to Kueue: the operator never un-suspends them.

The dev cluster plays Kueue's Job webhook (a Job with a queue-name label is created suspended);
the test plays Kueue's controller: it registers the Workload CRD, makes the Workload of the held
Job with the QuotaReserved=False condition Kueue writes while quota is short, and admits the
Jobs by un-suspending them itself.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from lightkube import codecs
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.batch_v1 import Job
from lightkube.types import PatchType

from scenefarm_devkit.devenv import DevEnv

from .conftest import create, jobs_of, status_of, video_request, wait_for, wait_terminal

pytestmark = pytest.mark.integration
QUEUE = "render-queue"
SHORT = "couldn't assign flavors to pod set main: insufficient unused quota for cpu in flavor default, 1 more needed"
WORKLOAD_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "workloads.kueue.x-k8s.io"},
    "spec": {
        "group": "kueue.x-k8s.io",
        "scope": "Namespaced",
        "names": {
            "plural": "workloads",
            "singular": "workload",
            "kind": "Workload",
            "listKind": "WorkloadList",
        },
        "versions": [  # as Kueue >= v0.15 installs it: v1beta2 stored, v1beta1 still served
            {
                "name": version,
                "served": True,
                "storage": version == "v1beta2",
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
            for version in ("v1beta2", "v1beta1")
        ],
    },
}
Workload = create_namespaced_resource("kueue.x-k8s.io", "v1beta2", "Workload", "workloads")


def kueue_workload(job: Job) -> dict[str, Any]:
    """The Workload Kueue makes for a Job, pending for lack of quota."""
    owner = {"apiVersion": "batch/v1", "kind": "Job", "name": job.metadata.name, "uid": job.metadata.uid}
    condition = {"type": "QuotaReserved", "status": "False", "reason": "Pending", "message": SHORT,
                 "lastTransitionTime": "2026-01-01T00:00:00Z"}  # fmt: skip
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "Workload",
        "metadata": {
            "name": f"job-{job.metadata.name}",
            "namespace": "default",
            "ownerReferences": [owner],
            "labels": {"kueue.x-k8s.io/job-uid": job.metadata.uid},
        },
        "spec": {"queueName": QUEUE},
        "status": {"conditions": [condition]},
    }


def test_a_kueue_held_job_shows_queued_and_only_kueue_releases_it(tmp_path: Path) -> None:
    with DevEnv(
        tmp_path,
        instant=True,
        operator_env={"SCENEFARM_KUEUE_QUEUE_NAME": QUEUE, "SCENEFARM_RESYNC_SECONDS": "2"},
    ) as env:
        env.cluster.cluster.server.api.admission.kueue = True
        env.start_operator()
        client = env.client()
        create(client, video_request("held", [("only", "self.wait(0.2)")]))

        def queued() -> dict[str, Any] | None:
            scenes = status_of(client, "held").get("scenes") or []
            return scenes[0] if scenes and scenes[0].get("phase") == "Queued" else None

        scene = wait_for(queued, 60, "the scene to show as queued")
        assert QUEUE in scene.get("message", ""), scene
        [job] = jobs_of(client, "held")
        client.create(codecs.from_dict(WORKLOAD_CRD))
        wait_for(lambda: _served(client), 30, "the Workload CRD to be served")
        client.create(Workload.from_dict(kueue_workload(job)))  # type: ignore[attr-defined]

        def with_kueues_reason() -> dict[str, Any] | None:
            found = queued()
            return found if found and SHORT in found.get("message", "") else None

        scene = wait_for(with_kueues_reason, 60, "the scene to show Kueue's reason")
        assert scene["message"] == f"held by Kueue queue {QUEUE!r} until it is admitted: {SHORT}"
        assert job.spec.suspend is True
        assert job.metadata.labels["kueue.x-k8s.io/queue-name"] == QUEUE
        time.sleep(3)  # several reconcile passes: none of them may release the Job
        patches = [
            r
            for r in env.cluster.request_log
            if (r.identity, r.verb, r.resource) == ("operator", "patch", "jobs")
        ]
        assert patches == [], "the operator un-suspended (or touched) a Job Kueue holds"
        reads = [r for r in env.cluster.request_log if (r.identity, r.resource) == ("operator", "workloads")]
        assert reads and all("v1beta2" in r.path and "job-uid" in r.query for r in reads[-3:]), reads[-3:]
        assert client.get(Job, job.metadata.name, namespace="default").spec.suspend is True

        def admit_all() -> bool:  # Kueue admits whatever it holds (scene, then combine)
            for held in jobs_of(client, "held"):
                if held.spec.suspend:
                    client.patch(Job, held.metadata.name, {"spec": {"suspend": False}}, namespace="default",
                                 patch_type=PatchType.MERGE)  # fmt: skip
            return status_of(client, "held").get("phase") in ("Succeeded", "Failed")

        wait_for(admit_all, 120, "the request to finish once Kueue admits its Jobs")
        assert wait_terminal(client, "held")["phase"] == "Succeeded"


def _served(client: Any) -> bool:
    try:
        list(client.list(Workload, namespace="default"))
    except ApiError:  # 404 until the CRD is established
        return False
    return True
