"""Jobs Kueue holds show as queued and are left to Kueue: the operator never un-suspends them.

The dev cluster plays Kueue's Job webhook (a Job with a queue-name label is created suspended);
the test plays Kueue's admission by un-suspending the Jobs itself.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from lightkube.resources.batch_v1 import Job
from lightkube.types import PatchType

from scenefarm_devkit.devenv import DevEnv

from .conftest import create, jobs_of, status_of, video_request, wait_for, wait_terminal

pytestmark = pytest.mark.integration
QUEUE = "render-queue"


def test_a_kueue_held_job_shows_queued_and_only_kueue_releases_it(tmp_path: Path) -> None:
    with DevEnv(tmp_path, instant=True, operator_env={"SCENEFARM_KUEUE_QUEUE_NAME": QUEUE}) as env:
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
        assert job.spec.suspend is True
        assert job.metadata.labels["kueue.x-k8s.io/queue-name"] == QUEUE
        time.sleep(3)  # several reconcile passes: none of them may release the Job
        patches = [
            r
            for r in env.cluster.request_log
            if (r.identity, r.verb, r.resource) == ("operator", "patch", "jobs")
        ]
        assert patches == [], "the operator un-suspended (or touched) a Job Kueue holds"
        assert client.get(Job, job.metadata.name, namespace="default").spec.suspend is True

        def admit_all() -> bool:  # Kueue admits whatever it holds (scene, then combine)
            for held in jobs_of(client, "held"):
                if held.spec.suspend:
                    client.patch(Job, held.metadata.name, {"spec": {"suspend": False}}, namespace="default",
                                 patch_type=PatchType.MERGE)  # fmt: skip
            return status_of(client, "held").get("phase") in ("Succeeded", "Failed")

        wait_for(admit_all, 120, "the request to finish once Kueue admits its Jobs")
        assert wait_terminal(client, "held")["phase"] == "Succeeded"
