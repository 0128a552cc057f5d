"""A whole scenefarm on one machine: the dev cluster, its Job runner and the operator process.

Used by `scenefarm demo`, `scenefarm dev up` and the integration tests, so all three run the
same thing. The operator runs as a `kopf run` subprocess (never inside the caller's loop).
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lightkube import Client, KubeConfig, codecs
from lightkube.core.exceptions import ApiError

from scenefarm_devkit import chart_rbac
from scenefarm_devkit.apiserver import DevClusterThread
from scenefarm_devkit.data import crd_path
from scenefarm_devkit.deployments import run_deployments
from scenefarm_devkit.instant_renders import synthetic_end
from scenefarm_devkit.jobrunner import JobRunnerConfig, run_job_runner

ARTIFACT_CLAIM = "scenefarm-artifacts"
RENDER_ACCOUNT = "scenefarm-render"  # the chart's render ServiceAccount (settings' default name)


def renderer_pods_instantly(pod: Mapping[str, Any]) -> tuple[int, str] | None:
    """Instant mode for the renderer's Pods only: other Pods (kubectl run/create job) run for real."""
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    argv = [str(a) for a in [*(containers[0].get("command") or []), *(containers[0].get("args") or [])]]
    return synthetic_end(pod) if any("scenefarm_renderer" in arg for arg in argv) else None


def machine_cost_model() -> str:
    """SCENEFARM_COST_MODEL for an operator of this cluster: every Pod runs on this machine, so the
    cost model may count its CPUs."""
    return f"cores={os.cpu_count() or 1}"


class DevEnv:
    """Dev cluster + Job runner in a background thread; the operator in a subprocess."""

    def __init__(
        self,
        state_dir: Path,
        *,
        instant: bool = False,
        port: int = 0,
        operator_env: Mapping[str, str] | None = None,
        max_local_processes: int | None = None,
        rbac_from_chart: bool = False,
        persist: bool = False,
        render_account: bool = True,
        gc_delay: float | None = None,
        tls: bool = False,
        openshift: bool = False,
        prompt: bool = False,
    ) -> None:
        state_dir = Path(state_dir).resolve()  # Pods run in their own directories: paths must be absolute
        self.state_dir = state_dir
        # Instant mode: Pods "succeed" with the termination message a renderer would have written.
        fake = renderer_pods_instantly if instant else None
        runner = JobRunnerConfig(state_dir=state_dir, instant=fake)
        if max_local_processes:
            runner = JobRunnerConfig(
                state_dir=state_dir, instant=fake, max_local_processes=max_local_processes
            )
        self.runner_config = runner
        # rbac_from_chart: the dev cluster enforces the Helm chart's roles on the operator (403 otherwise).
        self.rbac = chart_rbac.render() if rbac_from_chart else []
        rbac_options = (
            {
                "enforce_rbac_for": {"operator"},
                "rbac_subjects": {"operator": chart_rbac.operator_subject(self.rbac)},
            }
            if rbac_from_chart
            else {}
        )
        job_runner = functools.partial(run_job_runner, config=runner)
        self.cluster = DevClusterThread(
            state_dir=state_dir,
            port=port,
            crds=[crd_path()],
            extra_tasks=[job_runner, run_deployments],  # Jobs; Deployments (the chart's operator)
            persist=persist,  # objects survive a restart on the same state directory
            gc_delay=gc_delay,  # None: dependents go with their owner; seconds: the async collector's delay
            tls=tls,  # HTTPS with a generated CA in the kubeconfig (dev up)
            openshift=openshift,  # SCC ranges for every namespace, restricted-v2 for every Pod
            prompt=prompt,  # the API server's thread at real-time priority where allowed
            **rbac_options,
        )
        self.operator_env = dict(operator_env or {})
        self.operator: subprocess.Popen[bytes] | None = None
        # False for `helm install` on this cluster: the chart makes the render ServiceAccount itself.
        self.render_account = render_account

    @property
    def kubeconfig(self) -> Path:
        return Path(self.cluster.kubeconfig_path)

    def client(self) -> Client:
        return Client(config=KubeConfig.from_file(self.kubeconfig), field_manager="scenefarm-cli")

    def start(self) -> DevEnv:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.cluster.start()
        self.ensure_claim("default")
        objects = chart_rbac.rbac_objects(self.rbac)  # as `helm install --create-namespace` would
        for namespace in sorted(
            {str(o["metadata"]["namespace"]) for o in objects if o["metadata"].get("namespace")}
        ):
            with contextlib.suppress(ApiError):  # already there
                self.client().create(
                    codecs.from_dict(
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
                    )
                )
        for obj in objects:
            self.client().create(codecs.from_dict(obj))
        return self

    def prepare_namespace(self, namespace: str) -> None:
        """A namespace requests can render in: created if missing, with the artifact claim and the
        render ServiceAccount (what the chart's `render.namespaces` makes on a real cluster)."""
        with contextlib.suppress(ApiError):  # already there (a Terminating one refuses the claim below)
            self.client().create(
                codecs.from_dict({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
            )
        self.ensure_claim(namespace)

    def ensure_claim(self, namespace: str) -> None:
        """The Volume artifact store's claim and the render ServiceAccount, as `helm install` makes them."""
        pvc = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": ARTIFACT_CLAIM, "namespace": namespace},
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}}},
        }
        account = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": RENDER_ACCOUNT, "namespace": namespace},
            "automountServiceAccountToken": False,
        }
        for obj in (pvc, account) if self.render_account else (pvc,):
            try:
                self.client().create(codecs.from_dict(obj))
            except ApiError as e:
                if e.status.reason != "AlreadyExists":
                    raise

    def artifact_path(self, namespace: str, uri: str) -> Path:
        """Where a `volume:` URI lives on this machine."""
        relative = uri.removeprefix("volume:").lstrip("/")
        return self.runner_config.claim_path(namespace, ARTIFACT_CLAIM) / relative

    def evict(self, namespace: str, pod: str) -> None:
        """Evict a Pod the way the Eviction API would (DisruptionTarget, process killed)."""
        runner = self.cluster.cluster.job_runner  # type: ignore[attr-defined]
        self.cluster.call(lambda: runner.evict(namespace, pod))

    def start_operator(self, *extra_args: str) -> subprocess.Popen[bytes]:
        # The user's SCENEFARM_* settings pass through (a Gemini key, a model, a log format...);
        # the dev environment's own (artifact claim, doubles' endpoints) are set over them.
        env = dict(os.environ)
        kubeconfig = self.cluster.kubeconfig_for("operator")  # its own identity in the request log
        env |= {"KUBECONFIG": str(kubeconfig), "SCENEFARM_ARTIFACT_CLAIM": ARTIFACT_CLAIM}
        env |= self.operator_env
        if not env.get("SCENEFARM_COST_MODEL"):
            env["SCENEFARM_COST_MODEL"] = machine_cost_model()
        log = (self.state_dir / "operator.log").open("ab")
        cmd = [
            sys.executable, "-m", "kopf", "run", "--standalone", "--all-namespaces",
            "-m", "scenefarm_operator.main", *extra_args,
        ]  # fmt: skip
        self.operator = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        return self.operator

    def stop_operator(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.operator is None:
            return
        if self.operator.poll() is None:
            self.operator.send_signal(sig)
            try:
                self.operator.wait(timeout)
            except subprocess.TimeoutExpired:
                self.operator.kill()
                self.operator.wait()
        self.operator = None

    def stop(self) -> None:
        self.stop_operator()
        self.cluster.stop()

    def __enter__(self) -> DevEnv:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running(state_dir: Path, **kwargs: object) -> Iterator[DevEnv]:
    env = DevEnv(state_dir, **kwargs)  # type: ignore[arg-type]
    with env:
        env.start_operator()
        yield env
