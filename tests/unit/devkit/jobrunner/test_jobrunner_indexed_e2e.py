"""Indexed Jobs end to end on the dev cluster: real processes, one per index, retried per index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightkube.resources.batch_v1 import Job
from lightkube.types import PatchType

from .conftest import Harness, condition, python_job

MERGE = PatchType.MERGE
# Each Pod writes its index under <out>/<index>.<pod hostname>; index 1 fails on its first try.
WRITE_INDEX = """
import os, pathlib, sys
out = pathlib.Path({out!r})
index = os.environ["JOB_COMPLETION_INDEX"]
(out / f"{{index}}.{{os.environ['HOSTNAME']}}").write_text(index)
if index in {failing!r} and not (out / f"tried-{{index}}").exists():
    (out / f"tried-{{index}}").write_text("once")
    sys.exit(3)
if index in {always!r}:
    sys.exit(3)
"""


def indexed_job(name: str, out: Path, failing: str = "", always: str = "", **spec: Any) -> dict[str, Any]:
    code = WRITE_INDEX.format(out=str(out), failing=failing, always=always)
    manifest = python_job(
        name, code, completionMode="Indexed", completions=3, parallelism=3, backoffLimitPerIndex=1, **spec
    )
    del manifest["spec"]["backoffLimit"]  # unset: no Job-wide limit next to the per-index one
    return manifest


async def test_each_index_runs_once_with_its_index_and_a_failed_index_is_retried(
    harness: Harness, tmp_path: Path
) -> None:
    await harness.create(indexed_job("chunks", tmp_path, failing="1"))
    job = await harness.wait_job("chunks", "Complete", timeout=60)
    status = job["status"]
    assert status["completedIndexes"] == "0-2" and status["succeeded"] == 3 and status["failed"] == 1
    assert status["failedIndexes"] == "" and status["active"] == 0
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    pods = await harness.pods("chunks")
    by_index: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        meta = pod["metadata"]
        index = meta["annotations"]["batch.kubernetes.io/job-completion-index"]
        assert meta["labels"]["batch.kubernetes.io/job-completion-index"] == index
        assert (
            meta["name"].startswith(f"chunks-{index}-") and len(meta["name"]) == len(f"chunks-{index}-") + 5
        )
        assert pod["spec"]["hostname"] == f"chunks-{index}"
        by_index.setdefault(index, []).append(pod)
    assert sorted(by_index) == ["0", "1", "2"]
    assert [len(by_index[i]) for i in ("0", "1", "2")] == [1, 2, 1]
    tries = sorted(by_index["1"], key=lambda p: p["status"]["phase"])
    assert [p["status"]["phase"] for p in tries] == ["Failed", "Succeeded"]
    counts = [p["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"] for p in tries]
    assert counts == ["0", "1"]
    # Every process saw its own index in JOB_COMPLETION_INDEX, and its hostname <job>-<index>.
    written = {p.name: p.read_text() for p in tmp_path.glob("[0-9].*")}
    assert written == {"0.chunks-0": "0", "1.chunks-1": "1", "2.chunks-2": "2"}
    assert (tmp_path / "tried-1").exists()


async def test_an_index_past_its_backoff_limit_fails_the_job(harness: Harness, tmp_path: Path) -> None:
    await harness.create(indexed_job("doomed", tmp_path, always="2", maxFailedIndexes=0))
    job = await harness.wait_job("doomed", "Failed", timeout=60)
    failed = condition(job, "Failed")
    assert (failed["reason"], failed["message"]) == (
        "MaxFailedIndexesExceeded",
        "Job has exceeded the specified maximal number of failed indexes",
    )
    assert condition(job, "FailureTarget")["reason"] == "MaxFailedIndexesExceeded"
    status = job["status"]
    assert status["failedIndexes"] == "2" and status["failed"] == 2 and status["active"] == 0
    index_two = [
        p
        for p in await harness.pods("doomed")
        if p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "2"
    ]
    assert len(index_two) == 2  # the first try and one retry (backoffLimitPerIndex: 1)


async def test_a_suspended_indexed_job_starts_nothing_until_resumed(harness: Harness, tmp_path: Path) -> None:
    await harness.create(indexed_job("held", tmp_path, suspend=True))
    job = await harness.wait_job("held", "Suspended", timeout=60)
    assert not await harness.pods("held") and job["status"]["active"] == 0
    await harness.client.patch(
        Job, "held", {"spec": {"suspend": False}}, namespace="default", patch_type=MERGE
    )
    job = await harness.wait_job("held", "Complete", timeout=60)
    assert job["status"]["completedIndexes"] == "0-2"
    assert condition(job, "Suspended")["reason"] == "JobResumed"


async def test_a_fail_job_exit_fails_the_indexed_job_and_stops_the_other_indexes(harness: Harness) -> None:
    code = "import os, sys, time\nif os.environ['JOB_COMPLETION_INDEX'] == '0':\n    sys.exit(10)\ntime.sleep(60)"
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [10]}}]}
    manifest = python_job(
        "stopped", code, completionMode="Indexed", completions=3, parallelism=3, backoffLimitPerIndex=2
    )
    manifest["spec"] |= {"maxFailedIndexes": 0, "podFailurePolicy": policy}
    del manifest["spec"]["backoffLimit"]
    await harness.create(manifest)
    job = await harness.wait_job("stopped", "Failed", timeout=60)
    failed = condition(job, "Failed")
    assert failed["reason"] == "PodFailurePolicy"
    assert failed["message"].startswith("Container main for pod default/stopped-0-")
    assert failed["message"].endswith("failed with exit code 10 matching FailJob rule at index 0")
    assert job["status"]["active"] == 0 and "completedIndexes" not in job["status"]
    assert harness.runner.kubelet.running == 0
