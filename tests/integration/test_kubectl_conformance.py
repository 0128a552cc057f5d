"""The real kubectl 1.36 and helm 4 against `scenefarm dev up`: every everyday command, no workarounds.

One `dev up --instant` (renderer Pods end at once; other Pods, such as `kubectl create job`'s,
run for real) serves the whole module; the last test restarts it on the same state directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scenefarm_devkit.tools import ensure_tool

from .conftest import EXAMPLES, wait_for

pytestmark = pytest.mark.integration
CHART = Path(__file__).resolve().parents[2] / "charts" / "scenefarm"
# Prints, then waits for a file named `release` in its working directory, then prints again.
TALKER = (
    "import os, time\nprint('hello from the pod', flush=True)\n"
    "while not os.path.exists('release'): time.sleep(0.1)\nprint('released', flush=True)"
)


class DevUp:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.process: subprocess.Popen[str] | None = None
        self.kubeconfig = state_dir / "kubeconfig"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        self.env |= {"KUBECONFIG": str(self.kubeconfig), "HELM_CACHE_HOME": str(state_dir.parent / "helm")}

    def start(self) -> DevUp:
        cli = Path(sys.executable).with_name("scenefarm")
        self.process = subprocess.Popen(
            [str(cli), "dev", "up", "--instant", "--no-switch-context", "--state-dir", str(self.state_dir)],
            stdout=subprocess.PIPE, text=True, env=self.env,
        )  # fmt: skip
        assert self.process.stdout is not None
        # The bare path line (the first lines are for people and mention it too).
        next(line for line in self.process.stdout if line.strip() == str(self.kubeconfig))
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def run(
        self, tool: str, *args: str, check: bool = True, timeout: float = 90
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(ensure_tool(tool)), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            check=False,
        )
        if check:
            assert done.returncode == 0, f"{tool} {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    def kubectl(self, *args: str, check: bool = True) -> str:
        done = self.run("kubectl", *args, check=check)
        return done.stdout + ("" if check else done.stderr)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevUp]:
    up = DevUp(tmp_path_factory.mktemp("conformance") / "state").start()
    try:
        yield up
    finally:
        up.stop()


def test_create_of_built_in_kinds_in_the_encoding_kubectl_sends(dev: DevUp) -> None:
    assert dev.kubectl("create", "namespace", "team") == "namespace/team created\n"
    dev.kubectl("create", "secret", "generic", "gemini", "-n", "team", "--from-literal=api-key=s3cret")
    dev.kubectl("create", "configmap", "scene-code", "--from-literal=intro.py=print(1)")
    assert (
        dev.kubectl("get", "secret", "gemini", "-n", "team", "-o", "jsonpath={.data.api-key}") == "czNjcmV0"
    )
    assert dev.kubectl("get", "cm", "scene-code", "-o", "jsonpath={.data.intro\\.py}") == "print(1)"


def test_apply_wait_get_describe_events_and_delete_of_a_request(dev: DevUp) -> None:
    manifest = str(EXAMPLES / "template-planner.yaml")
    name = dev.kubectl("apply", "-f", manifest, "-o", "jsonpath={.metadata.name}")
    watch = subprocess.Popen(
        [str(ensure_tool("kubectl")), "get", "vr", name, "-w"], stdout=subprocess.PIPE, text=True, env=dev.env
    )
    try:
        waited = dev.kubectl("wait", f"vr/{name}", "--for=condition=Ready", "--timeout=120s")
        assert waited == f"videorequest.scenefarm.dev/{name} condition met\n"
        header = dev.kubectl("get", "vr", name).splitlines()[0].split()
        assert header[:2] == ["NAME", "PHASE"] and header[-1] == "AGE"
        assert "Events:" in dev.kubectl("describe", "vr", name)
        events = dev.kubectl("get", "events").splitlines()
        assert events[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
        assert any(f"videorequest/{name}" in line for line in events[1:])
    finally:
        time.sleep(0.5)
        watch.terminate()
        watched, _ = watch.communicate(timeout=10)
    assert "Succeeded" in watched
    started = time.monotonic()
    assert (
        dev.kubectl("delete", "vr", name, "--timeout=60s")
        == f'videorequest.scenefarm.dev "{name}" deleted from default namespace\n'
    )
    assert time.monotonic() - started < 60
    assert "NotFound" in dev.kubectl("get", "vr", name, check=False)


def test_logs_exec_and_cp_of_a_running_job(dev: DevUp, tmp_path: Path) -> None:
    dev.kubectl("create", "job", "talker", "--image=python:3.11", "--", "python", "-c", TALKER)
    dev.kubectl(
        "wait", "pod", "-l", "job-name=talker", "--for=jsonpath={.status.phase}=Running", "--timeout=60s"
    )
    # Running is not printed yet (the interpreter starts first): read as a user would, again.
    wait_for(lambda: dev.kubectl("logs", "job/talker") == "hello from the pod\n", 60, "the pod's first line")
    follow = subprocess.Popen(
        [str(ensure_tool("kubectl")), "logs", "-f", "job/talker", "-c", "talker"],
        stdout=subprocess.PIPE, text=True, env=dev.env,
    )  # fmt: skip
    assert "not found" in dev.kubectl("logs", "job/talker", "--previous", check=False)
    (tmp_path / "note.txt").write_text("copied in\n")
    pod = dev.kubectl("get", "pod", "-l", "job-name=talker", "-o", "jsonpath={.items[0].metadata.name}")
    dev.kubectl("cp", str(tmp_path / "note.txt"), f"{pod}:note.txt")
    assert dev.kubectl("exec", pod, "--", "cat", "note.txt") == "copied in\n"
    failed = dev.run("kubectl", "exec", pod, "--", "sh", "-c", "exit 7", check=False)
    assert failed.returncode == 7 and "command terminated with exit code 7" in failed.stderr
    dev.kubectl("exec", pod, "--", "touch", "release")
    followed, _ = follow.communicate(timeout=60)
    assert followed == "hello from the pod\nreleased\n"
    dev.kubectl("wait", "job/talker", "--for=condition=Complete", "--timeout=60s")
    assert dev.kubectl("logs", "job/talker", "--tail=1") == "released\n"


def test_explain_api_resources_and_auth_can_i(dev: DevUp) -> None:
    explained = dev.kubectl("explain", "vr.spec.render")
    assert "KIND:       VideoRequest" in explained and "parallelism" in explained
    assert "containers" in dev.kubectl("explain", "pods.spec")
    resources = dev.kubectl("api-resources")
    assert any(line.split()[:2] == ["videorequests", "vr"] for line in resources.splitlines())
    assert "networkpolicies" in resources
    assert dev.kubectl("auth", "can-i", "create", "videorequests") == "yes\n"


def test_server_side_apply_owns_fields_and_reports_conflicts(dev: DevUp, tmp_path: Path) -> None:
    manifest = tmp_path / "settings.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {quality: low}\n")
    assert "serverside-applied" in dev.kubectl(
        "apply", "--server-side", "--field-manager=flux", "-f", str(manifest)
    )
    dev.kubectl("patch", "cm", "settings", "--type=merge", "-p", '{"data":{"quality":"high"}}')
    manifest.write_text(manifest.read_text().replace("low", "medium"))
    refused = dev.run(
        "kubectl", "apply", "--server-side", "--field-manager=flux", "-f", str(manifest), check=False
    )
    assert refused.returncode != 0
    assert 'conflict with "kubectl-patch" using v1: .data.quality' in refused.stderr
    dev.kubectl("apply", "--server-side", "--field-manager=flux", "--force-conflicts", "-f", str(manifest))
    assert dev.kubectl("get", "cm", "settings", "-o", "jsonpath={.data.quality}") == "medium"


def test_helm_dry_run_install_upgrade_and_uninstall_of_the_chart(dev: DevUp) -> None:
    namespace = ["-n", "scenefarm-system"]
    dev.run("helm", "install", "sf", str(CHART), *namespace, "--create-namespace", "--dry-run=server")
    assert "No resources found" in dev.kubectl("get", "deploy", *namespace, check=False)
    dev.run("helm", "install", "sf", str(CHART), *namespace, "--create-namespace")
    kinds = dev.kubectl("get", "deploy,netpol,sa", *namespace, "-o", "name").split()
    assert "deployment.apps/sf-scenefarm" in kinds
    assert any(k.startswith("networkpolicy.networking.k8s.io/") for k in kinds)
    dev.run("helm", "upgrade", "sf", str(CHART), *namespace, "--set", "operator.replicas=2")
    assert dev.kubectl("get", "deploy", "sf-scenefarm", *namespace, "-o", "jsonpath={.spec.replicas}") == "2"
    assert dev.kubectl("scale", "deploy", "sf-scenefarm", *namespace, "--replicas=3").endswith("scaled\n")
    assert dev.kubectl("get", "deploy", "sf-scenefarm", *namespace, "-o", "jsonpath={.spec.replicas}") == "3"
    dev.run("helm", "uninstall", "sf", *namespace)
    assert "No resources found" in dev.kubectl("get", "deploy,netpol", *namespace, check=False)


def test_a_restarted_dev_up_on_the_same_state_directory_has_its_objects(dev: DevUp) -> None:
    dev.kubectl("create", "configmap", "survivor", "--from-literal=k=v")
    before = int(dev.kubectl("get", "cm", "survivor", "-o", "jsonpath={.metadata.resourceVersion}"))
    dev.stop()
    dev.start()
    with contextlib.suppress(Exception):
        dev.kubectl("wait", "--for=create", "cm/survivor", "--timeout=30s")
    assert dev.kubectl("get", "cm", "survivor", "-o", "jsonpath={.data.k}") == "v"
    dev.kubectl("create", "configmap", "newcomer", "--from-literal=k=v")
    after = int(dev.kubectl("get", "cm", "newcomer", "-o", "jsonpath={.metadata.resourceVersion}"))
    assert after > before
