"""The Job runner end to end against the dev cluster: real processes, real API writes."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap, PersistentVolumeClaim, Pod, Secret
from lightkube.types import PatchType

from scenefarm_contract.renderer import TerminationMessage
from scenefarm_devkit.jobrunner.errors import ApiFailure, status_code

from .conftest import Harness, condition, python_job

MERGE = PatchType.MERGE


async def _exists(path: Path) -> bool:
    return path.exists()


WRITE_MESSAGE = (
    "import os, json; open(os.environ['SCENEFARM_TERMINATION_LOG'], 'w')"
    ".write(json.dumps({'exitClass': 0, 'artifact': 'ns/x/scene-00.mp4'}))"
)


async def test_a_job_whose_process_writes_a_termination_message_completes(harness: Harness) -> None:
    manifest = python_job(
        "hello",
        WRITE_MESSAGE,
        container={
            "terminationMessagePath": "/tmp/term",
            "env": [{"name": "SCENEFARM_TERMINATION_LOG", "value": "/tmp/term"}],
        },
    )
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


FAIL_JOB_ON_10 = {
    "rules": [
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [10]}}
    ]
}


async def test_an_exit_code_matching_a_fail_job_rule_fails_the_job_at_once(harness: Harness) -> None:
    await harness.create(
        python_job("rejected", "raise SystemExit(10)", backoffLimit=5, podFailurePolicy=FAIL_JOB_ON_10)
    )
    job = await harness.wait_job("rejected", "Failed")
    [pod] = await harness.pods("rejected")
    failed = condition(job, "Failed")
    assert failed["reason"] == "PodFailurePolicy"
    assert failed["message"] == (
        f"Container main for pod default/{pod['metadata']['name']} failed with exit code 10 matching FailJob rule at index 0"
    )
    assert condition(job, "FailureTarget")["reason"] == "PodFailurePolicy"
    assert job["status"]["failed"] == 1
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Error"


async def test_failures_are_retried_until_the_backoff_limit(harness: Harness) -> None:
    await harness.create(python_job("flaky", "raise SystemExit(3)", backoffLimit=2))
    job = await harness.wait_job("flaky", "Failed")
    assert condition(job, "Failed")["reason"] == "BackoffLimitExceeded"
    assert condition(job, "Failed")["message"] == "Job has reached the specified backoff limit"
    assert job["status"]["failed"] == 3
    assert len(await harness.pods("flaky")) == 3


async def test_parallelism_bounds_the_processes_running_at_once(harness: Harness, tmp_path) -> None:
    log = tmp_path / "spans.log"
    code = (
        "import time, os; start = time.time(); time.sleep(0.3); "
        f"open({str(log)!r}, 'a').write(f'{{start}} {{time.time()}}\\n')"
    )
    await harness.create(python_job("wide", code, parallelism=2, completions=5))
    job = await harness.wait_job("wide", "Complete")
    assert job["status"]["succeeded"] == 5
    spans = [tuple(map(float, line.split())) for line in log.read_text().splitlines()]
    assert len(spans) == 5
    moments = sorted({t for span in spans for t in span})
    most = max(sum(1 for s, e in spans if s <= m < e) for m in moments)
    assert most <= 2


async def test_suspend_kills_the_pods_and_resume_starts_again(harness: Harness, tmp_path) -> None:
    marker = tmp_path / "runs"
    code = f"open({str(marker)!r}, 'a').write('x'); import time; time.sleep(60)"
    await harness.create(python_job("pausable", code))

    async def ran(times: int) -> bool:
        # Evidence from the process itself: phase Running comes before the interpreter is up.
        return marker.exists() and len(marker.read_text()) == times

    await harness.wait_for(lambda: ran(1))
    await harness.client.patch(
        Job, "pausable", {"spec": {"suspend": True}}, namespace="default", patch_type=MERGE
    )
    job = await harness.wait_job("pausable", "Suspended")
    assert condition(job, "Suspended")["reason"] == "JobSuspended"
    assert "startTime" not in job["status"]

    async def no_pods() -> bool:
        return not await harness.pods("pausable") and harness.runner.kubelet.running == 0

    await harness.wait_for(no_pods)
    job = await harness.job("pausable")
    assert job["status"]["active"] == 0 and job["status"].get("failed", 0) == 0
    await harness.client.patch(
        Job, "pausable", {"spec": {"suspend": False}}, namespace="default", patch_type=MERGE
    )
    await harness.wait_for(lambda: ran(2))
    job = await harness.job("pausable")
    assert (
        condition(job, "Suspended")["status"] == "False"
        and condition(job, "Suspended")["reason"] == "JobResumed"
    )
    assert job["status"]["startTime"]


async def test_a_job_past_its_deadline_fails_and_its_process_is_killed(harness: Harness, tmp_path) -> None:
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    await harness.create(python_job("slow", code, activeDeadlineSeconds=3))

    async def started() -> bool:  # on a loaded machine the interpreter may take a while to start
        return pid_file.exists() and pid_file.read_text() != ""

    await harness.wait_for(started)
    job = await harness.wait_job("slow", "Failed")
    assert condition(job, "Failed")["reason"] == "DeadlineExceeded"
    assert condition(job, "Failed")["message"] == "Job was active longer than specified deadline"
    assert not psutil.pid_exists(int(pid_file.read_text()))


async def test_a_process_over_its_memory_limit_is_oom_killed(harness: Harness) -> None:
    code = "import time; data = bytearray(300 * 1024 * 1024); time.sleep(30)"
    await harness.create(python_job("hungry", code, container={"resources": {"limits": {"memory": "100Mi"}}}))
    await harness.wait_job("hungry", "Failed")
    [pod] = await harness.pods("hungry")
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (137, "OOMKilled")


async def test_an_eviction_ignored_by_policy_is_not_counted_and_the_pod_is_replaced(
    harness: Harness, tmp_path
) -> None:
    marker = tmp_path / "attempts"
    code = (
        f"import time; p = {str(marker)!r}; open(p, 'a').write('x'); "
        "n = len(open(p).read()); time.sleep(60 if n == 1 else 0)"
    )
    policy = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}
    await harness.create(python_job("evictable", code, backoffLimit=0, podFailurePolicy=policy))

    async def running_pod() -> dict | None:
        pods = [p for p in await harness.pods("evictable") if p.get("status", {}).get("phase") == "Running"]
        return pods[0] if pods else None

    await harness.wait_for(lambda: _exists(marker))  # the first process is past its write
    first = await harness.wait_for(running_pod)
    await harness.runner.evict("default", first["metadata"]["name"])
    job = await harness.wait_job("evictable", "Complete")
    assert job["status"]["succeeded"] == 1 and job["status"].get("failed", 0) == 0
    evicted = next(
        p for p in await harness.pods("evictable") if p["metadata"]["name"] == first["metadata"]["name"]
    )
    assert evicted["status"]["phase"] == "Failed"
    disruption = next(c for c in evicted["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (disruption["status"], disruption["reason"]) == ("True", "EvictionByEvictionAPI")


async def test_env_volumes_and_secrets_are_materialised_without_leaking_the_parent_env(
    harness: Harness, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("RUNNER_ONLY_SECRET", "must-not-leak")
    out = tmp_path / "seen.json"
    await harness.client.create(
        ConfigMap.from_dict(
            {
                "metadata": {"name": "code", "namespace": "default"},
                "data": {"scene.py": "print('hi')", "other": "x"},
            }
        )
    )
    await harness.client.create(
        Secret.from_dict(
            {"metadata": {"name": "creds", "namespace": "default"}, "stringData": {"key": "s3cret"}}
        )
    )
    claim = {"name": "artifacts", "namespace": "default"}  # a missing claim keeps the Pod unscheduled
    spec = {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}}
    await harness.client.create(PersistentVolumeClaim.from_dict({"metadata": claim, "spec": spec}))
    code = (
        "import os, json, sys; "
        "seen = {'env': dict(os.environ), 'code': open(sys.argv[1]).read(), 'listing': sorted(os.listdir(sys.argv[2])), "
        "'secret': open(os.environ['SECRET_DIR'] + '/api-key').read(), 'cwd': os.getcwd()}; "
        "open(os.environ['SHARED'] + '/artifact.txt', 'w').write('made'); "
        f"open({str(out)!r}, 'w').write(json.dumps(seen))"
    )
    container = {
        "args": ["/work/code/scene.py", "/work/code"],
        "workingDir": "/scratch",
        "env": [
            {"name": "SECRET_DIR", "value": "/etc/creds"},
            {"name": "SHARED", "value": "/store"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "key"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        "volumeMounts": [
            {"name": "code", "mountPath": "/work/code", "readOnly": True},
            {"name": "creds", "mountPath": "/etc/creds"},
            {"name": "store", "mountPath": "/store"},
            {"name": "scratch", "mountPath": "/scratch"},
        ],
    }
    volumes = [
        {"name": "code", "configMap": {"name": "code", "items": [{"key": "scene.py", "path": "scene.py"}]}},
        {"name": "creds", "secret": {"secretName": "creds", "items": [{"key": "key", "path": "api-key"}]}},
        {"name": "store", "persistentVolumeClaim": {"claimName": "artifacts"}},
        {"name": "scratch", "emptyDir": {}},
    ]
    await harness.create(python_job("envy", code, container=container, pod={"volumes": volumes}))
    await harness.wait_job("envy", "Complete")
    [pod] = await harness.pods("envy")
    seen = json.loads(out.read_text())
    assert seen["code"] == "print('hi')" and seen["listing"] == ["scene.py"]
    assert seen["secret"] == "s3cret" and seen["env"]["TOKEN"] == "s3cret"
    assert seen["env"]["POD_NAME"] == pod["metadata"]["name"]
    assert "RUNNER_ONLY_SECRET" not in seen["env"]
    assert set(seen["env"]) - {"SECRET_DIR", "SHARED", "TOKEN", "POD_NAME"} <= {
        "PATH",
        "LANG",
        "HOME",
        "HOSTNAME",
        "LC_CTYPE",
    }
    pod_dir = harness.state_dir / "pods" / "default" / pod["metadata"]["name"]
    assert seen["cwd"] == str(pod_dir / "volumes" / "scratch")
    assert (harness.state_dir / "volumes" / "default" / "artifacts" / "artifact.txt").read_text() == "made"


async def test_deleting_a_running_pod_kills_its_process(harness: Harness, tmp_path) -> None:
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    await harness.create(python_job("doomed", code, backoffLimit=0))

    async def started() -> bool:
        return pid_file.exists() and pid_file.read_text() != ""

    await harness.wait_for(started)
    [pod] = await harness.pods("doomed")
    await harness.client.delete(Pod, pod["metadata"]["name"], namespace="default")
    pid = int(pid_file.read_text())

    async def gone() -> bool:
        return not psutil.pid_exists(pid)

    await harness.wait_for(gone, timeout=5)


async def test_a_finished_job_with_a_ttl_is_deleted(harness: Harness) -> None:
    await harness.create(python_job("brief", "pass", ttlSecondsAfterFinished=0))

    async def deleted() -> bool:
        try:
            await harness.job("brief")
        except ApiFailure as exc:
            return status_code(exc) == 404
        return False

    await harness.wait_for(deleted)


async def test_a_pod_missing_its_secret_waits_pending_and_runs_once_it_exists(harness: Harness) -> None:
    container = {"env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "late", "key": "token"}}}]}
    code = "import os, sys; sys.exit(0 if os.environ['TOKEN'] == 'ok' else 1)"
    await harness.create(python_job("patient", code, container=container))

    async def waiting() -> bool:
        pods = await harness.pods("patient")
        states = [cs["state"] for p in pods for cs in (p.get("status") or {}).get("containerStatuses") or []]
        return any(s.get("waiting", {}).get("reason") == "CreateContainerConfigError" for s in states)

    await harness.wait_for(waiting)
    assert (await harness.pods("patient"))[0]["status"]["phase"] == "Pending"
    await harness.client.create(Secret.from_dict({"metadata": {"name": "late", "namespace": "default"},
                                                  "stringData": {"token": "ok"}}))  # fmt: skip
    job = await harness.wait_job("patient", "Complete")
    assert job["status"]["succeeded"] == 1


async def test_local_processes_are_capped_across_jobs(harness: Harness, tmp_path: Path) -> None:
    log = tmp_path / "spans.log"
    code = (
        "import time; start = time.time(); time.sleep(0.3); "
        f"open({str(log)!r}, 'a').write(f'{{start}} {{time.time()}}\\n')"
    )
    for i in range(3):  # 3 Jobs x parallelism 2 against a cap of 4 processes
        await harness.create(python_job(f"crowd-{i}", code, parallelism=2, completions=2))
    for i in range(3):
        await harness.wait_job(f"crowd-{i}", "Complete")
    spans = [tuple(map(float, line.split())) for line in log.read_text().splitlines()]
    assert len(spans) == 6
    moments = sorted({t for span in spans for t in span})
    assert (
        max(sum(1 for s, e in spans if s <= m < e) for m in moments)
        <= harness.runner.config.max_local_processes
    )


async def test_the_termination_message_is_cut_at_4096_bytes(harness: Harness) -> None:
    code = "import sys; open(sys.argv[1], 'w').write('y' * 10000)"
    await harness.create(python_job("verbose", code, container={"args": ["/dev/termination-log"]}))
    await harness.wait_job("verbose", "Complete")
    [pod] = await harness.pods("verbose")
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["message"] == "y" * 4096


async def test_fallback_to_logs_on_error_reports_the_log_tail(harness: Harness) -> None:
    code = (
        "import sys; print('first', flush=True); print('boom: the last words', file=sys.stderr); sys.exit(2)"
    )
    await harness.create(
        python_job("chatty", code, container={"terminationMessagePolicy": "FallbackToLogsOnError"})
    )
    await harness.wait_job("chatty", "Failed")
    [pod] = await harness.pods("chatty")
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (2, "Error")
    assert terminated["message"].splitlines()[-1] == "boom: the last words"


async def test_deleting_a_pod_kills_children_that_left_its_process_group(harness: Harness, tmp_path) -> None:
    # Like a container's cgroup: a child in its own session (the renderer's sandbox does this) dies too.
    pid_file = tmp_path / "grandchild"
    code = (
        "import subprocess, sys, time; "
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], start_new_session=True); "
        f"open({str(pid_file)!r}, 'w').write(str(c.pid)); time.sleep(120)"
    )
    await harness.create(python_job("escaper", code))

    async def started() -> bool:
        return pid_file.exists() and pid_file.read_text() != ""

    await harness.wait_for(started)
    grandchild = int(pid_file.read_text())
    [pod] = await harness.pods("escaper")
    await harness.client.delete(Pod, pod["metadata"]["name"], namespace="default")

    async def gone() -> bool:
        return (
            not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
        )

    await harness.wait_for(gone, timeout=10)
