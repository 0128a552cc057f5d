"""The Deployment node's kubelet: Pods bound to it run as local processes of this machine.

The image is not pulled: the container's command runs with this environment's Python (`python`)
and console scripts (`kopf`, from the interpreter's directory). What a Pod would get from its
node is made locally: env (values, fieldRef, Secret and ConfigMap keys, envFrom), emptyDir and
Secret volumes under the Pod's directory (paths in args and env rewritten), its ServiceAccount's
token in a file with a kubeconfig naming it (KUBECONFIG; the token authenticates as
`system:serviceaccount:<ns>:<name>`, so the API server authorizes it by its Roles), and each
container port mapped to a free port of this machine (every Pod has its own network namespace in
a cluster; here they share one), rewritten where the command line or env names it.

Probes (startup, liveness, readiness; httpGet) run as the kubelet runs them; the Ready condition
follows readiness. A process that ends is restarted (restartPolicy Always) with a backoff of
1 s doubling up to 10 s (the kubelet's: 10 s up to 5 min). Deleting the Pod sends SIGTERM to its
process group, SIGKILL after the grace period, then removes the Pod (a delete with grace 0).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import logging
import os
import re
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import ConfigMap, Pod, Secret, ServiceAccount
from lightkube.types import PatchType

from scenefarm_devkit.deployments.rollout import is_ready

NODE = "scenefarm-deployments"
MAX_BACKOFF = 10.0
TokenFor = Callable[[str], str]  # an identity -> its bearer token (the dev cluster's token_for)
logger = logging.getLogger(__name__)


class ConfigMissing(Exception):
    """A Secret or ConfigMap the Pod needs does not exist yet (CreateContainerConfigError)."""


def stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def map_ports(value: str, ports: Mapping[int, int]) -> str:
    """A container port written in a value (`:8080/...`, `:8080` at the end, or `8080` alone)."""
    for inside, outside in ports.items():
        if value == str(inside):
            return str(outside)
        value = re.sub(rf":{inside}(?=/|$)", f":{outside}", value)
    return value


def local_command(argv: list[str]) -> list[str]:
    """`python` is this interpreter; a console script is taken from its directory when it is there."""
    first = argv[0]
    if re.fullmatch(r"python[0-9.]*", Path(first).name):
        return [sys.executable, *argv[1:]]
    beside = Path(sys.executable).parent / Path(first).name
    if beside.exists():
        return [str(beside), *argv[1:]]
    found = shutil.which(first)
    return [found or first, *argv[1:]]


@dataclasses.dataclass
class Container:
    """One Pod's container on this node."""

    pod: dict[str, Any]
    task: asyncio.Task[None] | None = None
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    ready: bool = False
    started: bool = False
    terminating: bool = False
    last_state: dict[str, Any] = dataclasses.field(default_factory=dict)


class Node:
    """Runs the Pods bound to NODE (spec.nodeName) and writes their status."""

    def __init__(
        self, client: AsyncClient, state_dir: Path, server: Mapping[str, Any], token_for: TokenFor
    ) -> None:
        self.client, self.state_dir, self.server, self.token_for = client, state_dir, server, token_for
        self.containers: dict[str, Container] = {}  # by Pod uid
        self._background: set[asyncio.Task[None]] = set()

    def sync(self, pods: list[dict[str, Any]]) -> None:
        """React to the Pods of this node as they are now."""
        seen = set()
        for pod in pods:
            if (pod.get("spec") or {}).get("nodeName") != NODE:
                continue
            uid = pod["metadata"]["uid"]
            seen.add(uid)
            entry = self.containers.get(uid)
            if entry is None:
                entry = self.containers[uid] = Container(pod)
                entry.task = asyncio.create_task(self._run(entry), name=f"pod {pod['metadata']['name']}")
            entry.pod = pod
            if pod["metadata"].get("deletionTimestamp") and not entry.terminating:
                entry.terminating = True
                task = asyncio.create_task(self._terminate(entry))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        for uid in set(self.containers) - seen:  # removed without us (e.g. the namespace went): kill
            entry = self.containers.pop(uid)
            self._signal(entry, signal.SIGKILL)
            if entry.task is not None:
                entry.task.cancel()

    async def close(self) -> None:
        for entry in list(self.containers.values()):
            self._signal(entry, signal.SIGKILL)
            if entry.task is not None:
                entry.task.cancel()
        self.containers.clear()

    # -- one Pod ---------------------------------------------------------------------------------

    async def _run(self, entry: Container) -> None:
        backoff = 1.0
        while not entry.terminating:
            try:
                argv, env, cwd, ports = await self._prepare(entry.pod)
            except ConfigMissing as missing:
                await self._write(entry, waiting=("CreateContainerConfigError", str(missing)))
                await asyncio.sleep(2)
                continue
            log = (cwd / "container.log").open("ab")
            began = stamp()
            entry.process = await asyncio.create_subprocess_exec(
                *argv, env=env, cwd=cwd, stdout=log, stderr=asyncio.subprocess.STDOUT, start_new_session=True
            )
            log.close()
            entry.ready, entry.started = False, False
            await self._write(entry, running_since=began)
            probing = asyncio.create_task(self._probe(entry, ports, began))
            code = await entry.process.wait()
            probing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probing
            entry.ready = False
            entry.last_state = {"terminated": {"exitCode": code if code >= 0 else 128 - code,
                                               "reason": "Completed" if code == 0 else "Error",
                                               "startedAt": began, "finishedAt": stamp()}}  # fmt: skip
            if entry.terminating:
                return
            entry.restarts += 1
            await self._write(
                entry, waiting=("CrashLoopBackOff", f"back-off {backoff:.0f}s restarting the container")
            )
            await asyncio.sleep(backoff)
            backoff = min(MAX_BACKOFF, backoff * 2)

    async def _terminate(self, entry: Container) -> None:
        """SIGTERM, the grace period, SIGKILL; then the Pod is removed (delete with grace 0)."""
        grace = int(entry.pod["metadata"].get("deletionGracePeriodSeconds") or 0)
        self._signal(entry, signal.SIGTERM)
        process = entry.process
        if process is not None and process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), timeout=grace)
            except TimeoutError:
                self._signal(entry, signal.SIGKILL)
                await process.wait()
        if entry.task is not None:
            entry.task.cancel()
        meta = entry.pod["metadata"]
        with contextlib.suppress(ApiError):
            await self.client.delete(Pod, meta["name"], namespace=meta["namespace"], grace_period=0)
        self.containers.pop(meta["uid"], None)

    @staticmethod
    def _signal(entry: Container, sig: int) -> None:
        process = entry.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)

    async def _probe(self, entry: Container, ports: Mapping[int, int], began: str) -> None:
        container = entry.pod["spec"]["containers"][0]
        named = {p.get("name"): int(p["containerPort"]) for p in container.get("ports") or []}
        startup, liveness, readiness = (
            container.get(k) for k in ("startupProbe", "livenessProbe", "readinessProbe")
        )
        failures = {"startup": 0, "liveness": 0}
        due = {"startup": 0.0, "liveness": 0.0, "readiness": 0.0}
        clock = time.monotonic()
        for kind, probe in (("startup", startup), ("liveness", liveness), ("readiness", readiness)):
            due[kind] = clock + float((probe or {}).get("initialDelaySeconds", 0))
        entry.started = startup is None
        async with aiohttp.ClientSession() as session:
            while True:
                now = time.monotonic()
                if not entry.started and startup is not None and now >= due["startup"]:
                    due["startup"] = now + float(startup.get("periodSeconds", 10))
                    if await _check(session, startup, named, ports):
                        entry.started = True
                    else:
                        failures["startup"] += 1
                        if failures["startup"] >= int(startup.get("failureThreshold", 3)):
                            self._signal(entry, signal.SIGKILL)
                            return
                if entry.started and liveness is not None and now >= due["liveness"]:
                    due["liveness"] = now + float(liveness.get("periodSeconds", 10))
                    ok = await _check(session, liveness, named, ports)
                    failures["liveness"] = 0 if ok else failures["liveness"] + 1
                    if failures["liveness"] >= int(liveness.get("failureThreshold", 3)):
                        self._signal(entry, signal.SIGTERM)  # the kubelet restarts an unhealthy container
                        return
                if entry.started and now >= due["readiness"]:
                    period = float((readiness or {}).get("periodSeconds", 10))
                    due["readiness"] = now + period
                    ready = readiness is None or await _check(session, readiness, named, ports)
                    if ready != entry.ready:
                        entry.ready = ready
                        await self._write(entry, running_since=began)
                await asyncio.sleep(0.2)

    async def _write(
        self, entry: Container, running_since: str = "", waiting: tuple[str, str] | None = None
    ) -> None:
        pod = entry.pod
        meta, container = pod["metadata"], pod["spec"]["containers"][0]
        ready = "True" if entry.ready else "False"
        state: dict[str, Any] = (
            {"running": {"startedAt": running_since}} if running_since
            else {"waiting": {"reason": waiting[0], "message": waiting[1]}} if waiting else {}
        )  # fmt: skip
        status = {
            "phase": "Running" if entry.process is not None or entry.restarts else "Pending",
            "hostIP": "127.0.0.1",
            "podIP": "127.0.0.1",
            "startTime": (pod.get("status") or {}).get("startTime") or stamp(),
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp()},
                {"type": "Initialized", "status": "True", "lastTransitionTime": stamp()},
                {"type": "ContainersReady", "status": ready, "lastTransitionTime": stamp()},
                {"type": "Ready", "status": ready, "lastTransitionTime": stamp()},
            ],
            "containerStatuses": [
                {
                    "name": container.get("name", ""),
                    "image": container.get("image", ""),
                    "imageID": "",
                    "ready": entry.ready,
                    "started": entry.started,
                    "restartCount": entry.restarts,
                    "state": state,
                    "lastState": entry.last_state,
                    "containerID": f"local://{entry.process.pid}" if entry.process is not None else "",
                }
            ],
        }
        if is_ready({"status": status}) == is_ready(pod) and not running_since and not waiting:
            return
        with contextlib.suppress(ApiError):
            await self.client.patch(
                Pod.Status,
                meta["name"],
                {"status": status},
                namespace=meta["namespace"],
                patch_type=PatchType.MERGE,
            )

    # -- what the Pod's container gets ---------------------------------------------------------------

    async def _prepare(
        self, pod: Mapping[str, Any]
    ) -> tuple[list[str], dict[str, str], Path, dict[int, int]]:
        meta, spec = pod["metadata"], pod["spec"]
        container = spec["containers"][0]
        pod_dir = self.state_dir / meta["namespace"] / meta["name"]
        pod_dir.mkdir(parents=True, exist_ok=True)
        ports = {int(p["containerPort"]): free_port() for p in container.get("ports") or []}
        mounts = await self._volumes(pod, pod_dir)
        env = await self._env(pod, container)
        local = {k: _rewrite(map_ports(v, ports), mounts) for k, v in env.items()}
        base = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(pod_dir),
            "LANG": "C.UTF-8",
            "HOSTNAME": meta["name"],
            "TMPDIR": str(mounts.get("/tmp", pod_dir)),
        }
        kubeconfig = await self._service_account(pod, pod_dir)
        if kubeconfig is not None:
            base["KUBECONFIG"] = str(kubeconfig)
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        if not argv:
            raise ConfigMissing("the container has no command: the image's entrypoint is not known here")
        argv = [_rewrite(map_ports(_expand(a, local), ports), mounts) for a in argv]
        return local_command(argv), base | local, pod_dir, ports

    async def _service_account(self, pod: Mapping[str, Any], pod_dir: Path) -> Path | None:
        spec, namespace = pod["spec"], pod["metadata"]["namespace"]
        name = spec.get("serviceAccountName") or "default"
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            try:
                account = (await self.client.get(ServiceAccount, name, namespace=namespace)).to_dict()  # type: ignore[no-untyped-call]
            except ApiError as e:
                raise ConfigMissing(f'serviceaccount "{name}" not found') from e
            automount = account.get("automountServiceAccountToken", True)
        if not automount:
            return None
        secrets_dir = pod_dir / "serviceaccount"
        secrets_dir.mkdir(exist_ok=True)
        token = secrets_dir / "token"
        token.write_text(self.token_for(f"system:serviceaccount:{namespace}:{name}"), encoding="utf-8")
        (secrets_dir / "namespace").write_text(namespace, encoding="utf-8")
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "in-cluster", "cluster": dict(self.server)}],
            "users": [{"name": name, "user": {"tokenFile": str(token)}}],
            "contexts": [
                {
                    "name": "in-cluster",
                    "context": {"cluster": "in-cluster", "user": name, "namespace": namespace},
                }
            ],
            "current-context": "in-cluster",
        }
        path = secrets_dir / "kubeconfig"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    async def _volumes(self, pod: Mapping[str, Any], pod_dir: Path) -> dict[str, Path]:
        container = pod["spec"]["containers"][0]
        sources = {v["name"]: v for v in pod["spec"].get("volumes") or []}
        mounts: dict[str, Path] = {}
        for mount in container.get("volumeMounts") or []:
            volume = sources.get(mount["name"]) or {}
            target = pod_dir / "volumes" / mount["name"]
            target.mkdir(parents=True, exist_ok=True)
            if "secret" in volume:
                data = await self._data(
                    Secret, volume["secret"]["secretName"], pod, volume["secret"].get("optional")
                )
                for key, value in data.items():
                    (target / key).write_text(value, encoding="utf-8")
            mounts[mount["mountPath"]] = target
        return mounts

    async def _env(self, pod: Mapping[str, Any], container: Mapping[str, Any]) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in container.get("envFrom") or []:
            ref, kind = (
                (source["secretRef"], Secret)
                if "secretRef" in source
                else (source.get("configMapRef"), ConfigMap)
            )
            if ref:
                data = await self._data(kind, ref["name"], pod, ref.get("optional"))
                env |= {source.get("prefix", "") + k: v for k, v in data.items()}
        for item in container.get("env") or []:
            value = await self._value(pod, item)
            if value is not None:
                env[item["name"]] = _expand(value, env)
        return env

    async def _value(self, pod: Mapping[str, Any], item: Mapping[str, Any]) -> str | None:
        if "valueFrom" not in item:
            return str(item.get("value", ""))
        source = item["valueFrom"]
        if "fieldRef" in source:
            return _field(pod, source["fieldRef"]["fieldPath"])
        ref, kind = (
            (source["secretKeyRef"], Secret)
            if "secretKeyRef" in source
            else (source.get("configMapKeyRef"), ConfigMap)
        )
        if not ref:
            return None
        data = await self._data(kind, ref["name"], pod, ref.get("optional"))
        if ref["key"] not in data:
            if ref.get("optional"):
                return None
            raise ConfigMissing(f"couldn't find key {ref['key']} in {kind.__name__} {ref['name']}")
        return data[ref["key"]]

    async def _data(
        self, kind: Any, name: str, pod: Mapping[str, Any], optional: bool | None
    ) -> dict[str, str]:
        try:
            obj = (await self.client.get(kind, name, namespace=pod["metadata"]["namespace"])).to_dict()
        except ApiError as e:
            if optional:
                return {}
            raise ConfigMissing(f'{kind.__name__.lower()} "{name}" not found') from e
        if kind is Secret:
            return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
        return dict(obj.get("data") or {})


async def _check(
    session: aiohttp.ClientSession,
    probe: Mapping[str, Any],
    named: Mapping[str | None, int],
    ports: Mapping[int, int],
) -> bool:
    http = probe.get("httpGet")
    if not http:
        return True  # exec and tcpSocket probes are not modelled: taken as passing
    port = http["port"]
    inside = named.get(port) if isinstance(port, str) else int(port)
    outside = ports.get(inside or 0, inside)
    url = f"http://127.0.0.1:{outside}{http.get('path', '/')}"
    try:
        timeout = aiohttp.ClientTimeout(total=float(probe.get("timeoutSeconds", 1)))
        async with session.get(url, timeout=timeout) as response:
            return 200 <= response.status < 400
    except (aiohttp.ClientError, TimeoutError):
        return False


def _field(pod: Mapping[str, Any], path: str) -> str:
    meta, spec = pod["metadata"], pod.get("spec") or {}
    label = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if label:
        return str((meta.get(label.group(1)) or {}).get(label.group(2), ""))
    fields = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
    }
    return str(fields.get(path) or "")


def _expand(value: str, env: Mapping[str, str]) -> str:
    """`$(VAR)` references to variables defined before, `$$` an escaped `$`."""
    return re.sub(
        r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
        lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
        value,
    )


def _rewrite(value: str, mounts: Mapping[str, Path]) -> str:
    """A path inside a volume mount, as the path of that volume on this machine."""
    for inside in sorted(mounts, key=len, reverse=True):
        if value == inside or value.startswith(inside.rstrip("/") + "/"):
            return str(mounts[inside]) + value[len(inside.rstrip("/")) :]
    return value
