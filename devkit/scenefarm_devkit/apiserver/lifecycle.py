"""Starting and stopping the dev cluster: async context manager, thread wrapper, kubeconfig files."""

from __future__ import annotations

import asyncio
import base64
import copy
import logging
import os
import secrets
import threading
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp.web
import yaml

from scenefarm_devkit.apiserver import pki, sccallocation
from scenefarm_devkit.apiserver.admission import MAX_REQUEST_BODY_BYTES
from scenefarm_devkit.apiserver.authorization import Authorizer, Subject
from scenefarm_devkit.apiserver.faults import FaultRule
from scenefarm_devkit.apiserver.requestlog import RequestLog
from scenefarm_devkit.apiserver.resources import Registry, ResourceType
from scenefarm_devkit.apiserver.server import ApiServer
from scenefarm_devkit.apiserver.store import Key

logger = logging.getLogger(__name__)

CONTEXT = "scenefarm-dev"
IDENTITIES = ("admin", "operator", "job-controller")
GC_SWEEP_SECONDS = 1.0
ExtraTask = Callable[["DevCluster"], Awaitable[None]]


def kubeconfig(server_url: str, user: str, token: str, ca_pem: bytes | None = None) -> dict[str, Any]:
    cluster: dict[str, Any] = {"server": server_url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": CONTEXT, "user": user, "namespace": "default"}}
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


def load_manifests(paths: Sequence[Path]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in paths:
        docs.extend(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict))
    return docs


def _api_request(
    message: Any, payload: Any, protocol: Any, writer: Any, task: Any
) -> aiohttp.web.BaseRequest:
    """Bodies up to the real server's 3 MiB (aiohttp's default is 1 MiB): etcd's 1.5 MiB limit answers."""
    loop = asyncio.get_running_loop()
    size = MAX_REQUEST_BODY_BYTES
    return aiohttp.web.BaseRequest(message, payload, protocol, writer, task, loop, client_max_size=size)


class DevCluster:
    """The API server on 127.0.0.1 plus extra background tasks (e.g. the Job runner), as one unit.

    `port=0` picks a free port. Tokens for the identities in IDENTITIES exist from the start; the
    kubeconfig at `kubeconfig_path` uses `admin`, `kubeconfig_for(identity)` writes others.
    """

    def __init__(
        self,
        state_dir: Path,
        port: int = 0,
        crds: Sequence[Path] = (),
        extra_tasks: Sequence[ExtraTask] = (),
        *,
        bookmark_interval: float = 5.0,
        request_log_path: Path | None = None,
        history_size: int = 10_000,
        enforce_rbac_for: Collection[str] = (),
        rbac_subjects: Mapping[str, Subject] | None = None,
        persist: bool = False,
        gc_delay: float | None = None,
        compaction_interval: float = 300.0,
        tls: bool = False,
        openshift: bool = False,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.port = port
        self.crds = list(crds)
        self.extra_tasks = list(extra_tasks)
        self._tokens: dict[str, str] = {}
        for identity in IDENTITIES:
            self.token_for(identity)
        self.request_log = RequestLog(request_log_path)
        self.server = ApiServer(
            request_log=self.request_log,
            tokens=self._tokens,
            bookmark_interval=bookmark_interval,
            history_size=history_size,
            # persist: objects survive a restart on the same state directory (etcd's role).
            journal=self.state_dir / "objects.jsonl" if persist else None,
        )
        # The garbage collector: None collects dependents right after their owner's delete (and a
        # background pass every second catches owners that vanished otherwise); a number of seconds
        # leaves it to the background collector alone, which removes a dependent that long after it
        # first found its owners gone, as the real controller does asynchronously.
        self.gc_delay = gc_delay
        # Every `compaction_interval` seconds the history up to the previous tick's resourceVersion
        # is compacted (the API server's --etcd-compaction-interval, 5 minutes): older watches 410.
        self.compaction_interval = compaction_interval
        # tls: HTTPS with a CA generated under <state_dir>/pki, carried in every kubeconfig written.
        self.tls = tls
        self.ca_pem: bytes | None = None
        self.server.api.gc_delay = gc_delay
        # RBAC (authorization.py) for these identities, each as its subject in rbac_subjects, and
        # for every ServiceAccount token (the dev kit's Deployment Pods run with one).
        self.server.authorizer = Authorizer(self.server.store, enforce_rbac_for, rbac_subjects)
        # OwnerReferencesPermissionEnforcement asks the same authorizer (admission.py).
        self.server.api.admission.authorizer = self.server.authorizer
        # openshift: play OpenShift's security: every namespace gets SCC ranges (sccallocation.py)
        # and every Pod goes through restricted-v2 (scc.py); else only namespaces annotated by hand.
        self.openshift = openshift
        self.server.api.admission.openshift = openshift
        self._runner: aiohttp.web.ServerRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.task_errors: list[BaseException] = []
        self.url = ""

    # -- identities ----------------------------------------------------------------------------

    def token_for(self, identity: str) -> str:
        """The bearer token whose requests the request log attributes to `identity`."""
        for token, who in self._tokens.items():
            if who == identity:
                return token
        token = secrets.token_urlsafe(24)
        self._tokens[token] = identity
        return token

    @property
    def kubeconfig_path(self) -> Path:
        return self.state_dir / "kubeconfig"

    def kubeconfig_for(self, identity: str) -> Path:
        path = self.kubeconfig_path if identity == "admin" else self.state_dir / f"kubeconfig-{identity}"
        path.write_text(
            yaml.safe_dump(kubeconfig(self.url, identity, self.token_for(identity), self.ca_pem)),
            encoding="utf-8",
        )
        return path

    def attach_node(self, pod_root: Path) -> None:
        """A kubelet stand-in keeps Pods' files under `pod_root/<namespace>/<pod>/`: logs and exec."""
        self.server.pod_roots.append(Path(pod_root))

    # -- state for tests -----------------------------------------------------------------------

    @property
    def registry(self) -> Registry:
        return self.server.registry

    @property
    def objects(self) -> dict[Key, dict[str, Any]]:
        """(group, plural, namespace, name) -> stored object. Read-only by convention."""
        return self.server.store.objects

    def get_object(self, plural: str, namespace: str, name: str, group: str = "") -> dict[str, Any] | None:
        return self.server.store.get((group, plural, namespace, name))

    @property
    def faults(self) -> list[FaultRule]:
        return self.server.faults

    def resource(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self.server.registry.get(group, version, plural)

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> DevCluster:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for doc in load_manifests(self.crds):
            rt = self.server.registry.by_kind(doc.get("apiVersion", ""), doc.get("kind", ""))
            if rt is None:
                raise ValueError(f"cannot preload {doc.get('kind')!r}: unknown kind")
            namespace, name = (
                doc.get("metadata", {}).get("namespace"),
                doc.get("metadata", {}).get("name", ""),
            )
            if self.server.store.get(self.server.api.key(rt, namespace, name)) is None:
                self.server.api.create(rt, namespace, doc)
            else:  # restored from the journal: bring it up to this file's version
                self.server.api.replace(rt, namespace, name, copy.deepcopy(doc))
        # handler_cancellation: a watch whose client disconnects ends at once instead of lingering.
        lowlevel = aiohttp.web.Server(
            self.server.handle, handler_cancellation=True, request_factory=_api_request
        )
        self._runner = aiohttp.web.ServerRunner(lowlevel, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        ssl_context = None
        if self.tls:  # a generated CA and serving certificate, reused across restarts
            authority = pki.CertificateAuthority.create(self.state_dir / "pki")
            self.ca_pem = authority.ca_cert.read_bytes()
            ssl_context = authority.server_context()
        site = aiohttp.web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=ssl_context)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.port = port
        self.url = f"{'https' if self.tls else 'http'}://{host}:{port}"
        self.server.address = f"{host}:{port}"
        self.kubeconfig_for("admin")
        self._tasks.append(asyncio.create_task(self._guard(_garbage_collector)))
        self._tasks.append(asyncio.create_task(self._guard(_compactor)))
        if self.openshift:
            self._tasks.append(asyncio.create_task(self._guard(_scc_allocator)))
        for task in self.extra_tasks:
            self._tasks.append(asyncio.create_task(self._guard(task)))
        return self

    async def _guard(self, task: ExtraTask) -> None:
        try:
            await task(self)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a crashed runner must be visible, not silently gone
            logger.exception("dev cluster background task failed")
            self.task_errors.append(exc)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:  # bounded: a background task that ignores cancellation must not hang the exit
            await asyncio.wait(self._tasks, timeout=15)
        self._tasks.clear()
        self.server.store.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.request_log.close()


async def _garbage_collector(cluster: DevCluster) -> None:
    """The kube-controller-manager's garbage collector and namespace controller, on their own."""
    delay = cluster.gc_delay
    interval = GC_SWEEP_SECONDS if delay is None else max(0.05, min(GC_SWEEP_SECONDS, delay / 4))
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(interval)
        cluster.server.api.collect_garbage(loop.time())


async def _scc_allocator(cluster: DevCluster) -> None:
    """OpenShift's namespace-security-allocation-controller (sccallocation.py), on a cluster that plays it."""
    await sccallocation.run(cluster.server.api)


async def _compactor(cluster: DevCluster) -> None:
    store = cluster.server.store
    seen = store.resource_version
    while True:
        await asyncio.sleep(cluster.compaction_interval)
        store.compact(seen)
        seen = store.resource_version


def answer_promptly() -> str | None:
    """Run the calling thread (the API server's event loop) at SCHED_FIFO priority 10, as `chrt -f
    10` would, so a packet is answered as soon as it arrives even when renders keep every core busy:
    a real API server has its control-plane node's CPU to itself. Pods and threads it starts go back
    to the normal policy (SCHED_RESET_ON_FORK); the kernel still leaves 5% of each second to normal
    tasks. Returns why not (no CAP_SYS_NICE, not Linux), or None.

    Clients that close TLS while their event loop ends (kopf's shutdown) need the server's
    close_notify within a few milliseconds, or leave an unclosed transport (docs/devcluster.md)."""
    try:
        policy = os.SCHED_FIFO | os.SCHED_RESET_ON_FORK
        os.sched_setscheduler(0, policy, os.sched_param(10))
    except (AttributeError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


class DevClusterThread:
    """A DevCluster on its own event loop in a background thread, for synchronous tests and tools."""

    def __init__(self, *args: Any, prompt: bool = False, **kwargs: Any) -> None:
        self.cluster = DevCluster(*args, **kwargs)
        self.prompt = prompt  # answer at real-time priority where allowed (answer_promptly)
        self.priority_refused: str | None = None  # why not, when `prompt` was asked
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def __getattr__(self, name: str) -> Any:
        # url, kubeconfig_path, token_for, request_log, objects, faults...: the cluster's own.
        if name == "cluster":
            raise AttributeError(name)
        return getattr(self.cluster, name)

    def start(self) -> DevClusterThread:
        self._thread = threading.Thread(target=self._run, name="scenefarm-devcluster", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise self._error
        if not self._ready.is_set():
            raise TimeoutError("the dev cluster did not start within 30 seconds")
        return self

    def _run(self) -> None:
        if self.prompt:
            self.priority_refused = answer_promptly()
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self.cluster:
            self._ready.set()
            await self._stop.wait()

    def call(self, fn: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
        """Run a coroutine function on the cluster's loop and wait for its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(fn(), self._loop).result(timeout)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=30)
        self._thread = None

    def __enter__(self) -> DevClusterThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
