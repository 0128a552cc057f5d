"""pods/log and pods/exec: the real kubectl and the official Python client against Job runner Pods."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.stream import stream

from scenefarm_devkit.tools import ensure_tool

from .conftest import Harness, python_job

# Prints a line, then waits for a file to appear (so the Pod stays Running while the test works).
WAITING = (
    "import os, sys, time\n"
    "print('hello from the pod', flush=True)\n"
    "print('to stderr', file=sys.stderr, flush=True)\n"
    "while not os.path.exists('release'): time.sleep(0.05)\n"
    "print('released', flush=True)\n"
)


@pytest.fixture(scope="module")
def kubectl() -> Path:
    return ensure_tool("kubectl")


async def kubectl_run(kubectl: Path, harness: Harness, *args: str, stdin: bytes = b"") -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(kubectl), f"--kubeconfig={harness.cluster.kubeconfig_path}", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    return process.returncode or 0, out.decode()


async def running_pod(harness: Harness, job: str) -> str:
    async def check() -> str | None:
        pods = await harness.pods(job)
        states = [
            ((p.get("status") or {}).get("containerStatuses") or [{}])[0].get("state") or {} for p in pods
        ]
        return pods[0]["metadata"]["name"] if pods and "running" in states[0] else None

    return str(await harness.wait_for(check))


async def test_kubectl_logs_serves_the_pods_output_for_the_pod_and_for_its_job(
    harness: Harness, kubectl: Path
) -> None:
    await harness.create(python_job("other", "print('not this one')"))
    await harness.create(python_job("talker", WAITING))
    pod = await running_pod(harness, "talker")
    await harness.wait_job("other", "Complete")
    code, out = await kubectl_run(kubectl, harness, "logs", pod)
    assert code == 0, out
    assert out == "hello from the pod\nto stderr\n"
    code, out = await kubectl_run(kubectl, harness, "logs", "job/talker", "--tail=1")
    assert (code, out) == (0, "to stderr\n")
    code, out = await kubectl_run(kubectl, harness, "logs", pod, "--timestamps")
    assert code == 0 and re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z \S.*\n){2}", out), out
    code, out = await kubectl_run(kubectl, harness, "logs", pod, "--since-time=2999-01-01T00:00:00Z")
    assert (code, out) == (0, "")  # nothing written after that time
    code, out = await kubectl_run(kubectl, harness, "logs", pod, "--since=1h")
    assert (code, out) == (0, "hello from the pod\nto stderr\n")
    code, out = await kubectl_run(kubectl, harness, "logs", pod, "--previous")
    assert code == 1 and f'previous terminated container "main" in pod "{pod}" not found' in out
    follow = asyncio.create_task(kubectl_run(kubectl, harness, "logs", "-f", "job/talker", "-c", "main"))
    await asyncio.sleep(0.5)
    assert not follow.done()  # following a running container
    code, out = await kubectl_run(kubectl, harness, "exec", pod, "--", "touch", "release")
    assert code == 0, out
    code, out = await follow  # ends when the container does
    assert (code, out) == (0, "hello from the pod\nto stderr\nreleased\n")
    await harness.wait_job("talker", "Complete")
    code, out = await kubectl_run(kubectl, harness, "logs", "job/other")
    assert (code, out) == (0, "not this one\n")  # a finished Pod's log stays readable


async def test_kubectl_exec_runs_in_the_pods_directory_with_its_env_and_exit_code(
    harness: Harness, kubectl: Path, tmp_path: Path
) -> None:
    container = {
        "env": [{"name": "GREETING", "value": "hi there"}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }
    job = python_job(
        "shell", WAITING, container=container, pod={"volumes": [{"name": "data", "emptyDir": {}}]}
    )
    await harness.create(job)
    pod = await running_pod(harness, "shell")
    code, out = await kubectl_run(kubectl, harness, "exec", pod, "--", "sh", "-c", 'echo "$GREETING"; exit 3')
    assert code == 3
    assert out.splitlines() == ["hi there", "command terminated with exit code 3"]
    code, out = await kubectl_run(kubectl, harness, "exec", "-i", pod, "--", "cat", stdin=b"piped in\n")
    assert (code, out) == (0, "piped in\n")
    (tmp_path / "payload.txt").write_text("copied\n")
    code, out = await kubectl_run(kubectl, harness, "cp", str(tmp_path / "payload.txt"), f"{pod}:payload.txt")
    assert code == 0, out
    code, out = await kubectl_run(kubectl, harness, "cp", f"{pod}:payload.txt", str(tmp_path / "back.txt"))
    assert code == 0, out
    assert (tmp_path / "back.txt").read_text() == "copied\n"
    # Under a volume's mount path: the container's path, both ways.
    code, out = await kubectl_run(
        kubectl, harness, "cp", str(tmp_path / "payload.txt"), f"{pod}:/data/in.txt"
    )
    assert code == 0, out
    code, out = await kubectl_run(kubectl, harness, "exec", pod, "--", "cat", "/data/in.txt")
    assert (code, out) == (0, "copied\n")
    code, out = await kubectl_run(kubectl, harness, "cp", f"{pod}:/data/in.txt", str(tmp_path / "out.txt"))
    assert code == 0, out
    assert (tmp_path / "out.txt").read_text() == "copied\n"
    code, out = await kubectl_run(kubectl, harness, "exec", pod, "--", "no-such-program")
    assert code != 0 and 'exec: "no-such-program": executable file not found in $PATH' in out
    await kubectl_run(kubectl, harness, "exec", pod, "--", "touch", "release")
    await harness.wait_job("shell", "Complete")
    code, out = await kubectl_run(kubectl, harness, "exec", pod, "--", "true")
    assert code == 1 and "cannot exec into a container in a completed pod; current phase is Succeeded" in out


async def test_the_python_clients_exec_stream_reads_output_and_the_exit_code(harness: Harness) -> None:
    await harness.create(python_job("streamed", WAITING))
    pod = await running_pod(harness, "streamed")

    def use_client() -> tuple[str, str, int | None]:
        api_client = k8s_config.new_client_from_config(str(harness.cluster.kubeconfig_path))  # type: ignore[no-untyped-call]
        core = k8s.CoreV1Api(api_client)
        text = stream(
            core.connect_get_namespaced_pod_exec, pod, "default",
            command=["sh", "-c", "echo out; echo err >&2"], stdout=True, stderr=True, stdin=False, tty=False,
        )  # fmt: skip
        session = stream(
            core.connect_get_namespaced_pod_exec, pod, "default",
            command=["sh", "-c", "read line; echo got $line; exit 4"],
            stdout=True, stderr=True, stdin=True, tty=False, _preload_content=False,
        )  # fmt: skip
        session.write_stdin("a line\n")
        session.run_forever(timeout=20)
        got = session.read_stdout()
        return text, got, session.returncode

    text, got, code = await asyncio.to_thread(use_client)
    assert text == "out\nerr\n"
    assert (got, code) == ("got a line\n", 4)
    (harness.state_dir / "pods" / "default" / pod / "release").touch()
