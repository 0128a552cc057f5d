"""The Job runner end to end against the dev cluster: real processes, real API writes."""

from __future__ import annotations

import json

from scenefarm_renderer.contract import TerminationMessage

from .conftest import Harness, condition, has_condition, python_job

WRITE_MESSAGE = (
    "import os, json; open(os.environ['SCENEFARM_TERMINATION_LOG'], 'w')"
    ".write(json.dumps({'exitClass': 0, 'artifact': 'ns/x/scene-00.mp4'}))"
)


async def test_a_job_whose_process_writes_a_termination_message_completes(harness: Harness) -> None:
    manifest = python_job("hello", WRITE_MESSAGE, container={
        "terminationMessagePath": "/tmp/term", "env": [{"name": "SCENEFARM_TERMINATION_LOG", "value": "/tmp/term"}]})
    await harness.create(manifest)
    job = await harness.wait_job("hello", "Complete")
    status = job["status"]
    assert status["succeeded"] == 1 and status.get("failed", 0) == 0 and status["active"] == 0
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert status["startTime"] <= status["completionTime"]
    [pod] = await harness.pods("hello")
    assert pod["metadata"]["name"].startswith("hello-") and len(pod["metadata"]["name"]) == len("hello-") + 5
    assert pod["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
    assert pod["metadata"]["labels"]["controller-uid"] == job["metadata"]["uid"]
    assert "batch.kubernetes.io/job-tracking" not in (pod["metadata"].get("finalizers") or [])
    assert pod["status"]["phase"] == "Succeeded"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0 and terminated["reason"] == "Completed"
    message = TerminationMessage.from_json(terminated["message"])
    assert message is not None and message.artifact == "ns/x/scene-00.mp4"
