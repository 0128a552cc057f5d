"""kopf wiring: settings at startup, watch-fed indexes of Jobs and Pods, one daemon per request.

No business logic here: each handler decorates, calls the domain, returns.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import Any

import kopf

from . import kube, naming, observers, phases, scene_cache, web_intake
from .admission import Admission
from .diffbase import DigestDiffBaseStorage
from .login import login as login_with_client
from .observed import STAGES, outcome
from .reconcile import RequestLoop, Shared, request_key
from .settings import Settings
from .wakeups import Wakeups

OBSERVERS = observers  # importing it registers the observability handlers (metrics, ETA, webhooks)
WEB_INTAKE = web_intake  # importing it registers the web path (Appwrite intake loop, code uploads)

MANAGED = {naming.MANAGED_BY: "scenefarm"}
MANAGED_SELECTOR = f"{naming.MANAGED_BY}=scenefarm"
_shared: Shared | None = None


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    global _shared  # noqa: PLW0603 - one operator per process
    ours = Settings.from_env()
    logging.getLogger("scenefarm_operator").setLevel(ours.log_level)
    if ours.log_level != "DEBUG":  # one line per HTTP request / handler run is too much at scale
        for noisy in ("httpx", "httpx2", "kopf.objects"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    settings.persistence.finalizer = "scenefarm.dev/finalizer"
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.batching.batch_window = 0.05  # events per object are merged within this window
    settings.queueing.idle_timeout = 0.5  # per-object workers exit soon: thousands of Jobs and Pods
    tune(settings)
    wakeups = Wakeups()
    mirror = None
    if ours.appwrite_enabled:  # the appwrite SDK is imported only when it is used
        from .appwrite import AppwriteConfig, AppwriteMirror

        mirror = AppwriteMirror(AppwriteConfig.from_settings(ours))
        await mirror.start()  # bounded; an unreachable Appwrite never stops the operator
    _shared = Shared(
        settings=ours,
        admission=Admission(ours.max_running_scene_jobs, on_free=wakeups.wake),
        wakeups=wakeups,
        jobs=lambda key: [],
        pods=lambda key: [],
        mirror=mirror,
    )


def tune(settings: kopf.OperatorSettings) -> None:
    """What makes the operator safe on a big, real cluster (docs/install.md)."""
    # Server-side label selectors: the API server sends only our Jobs and Pods. kopf's labels=
    # filters below run client-side and would otherwise list and watch every Pod in the cluster.
    settings.watching.label_selectors["batch/v1", "jobs"] = MANAGED_SELECTOR
    settings.watching.label_selectors["v1", "pods"] = MANAGED_SELECTOR
    # The last-handled configuration holds a digest of the spec, not the spec (256 KiB budget).
    settings.persistence.diffbase_storage = DigestDiffBaseStorage()


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo:
    """Through the official client: exec plugins, OIDC, token files (login.py)."""
    return login_with_client(**kwargs)


@kopf.on.cleanup()
async def close_client(**_: Any) -> None:
    if _shared is not None and _shared.mirror is not None:
        await _shared.mirror.stop()
    await kube.close()


def _mirrored(**_: Any) -> bool:
    return _shared is not None and _shared.mirror is not None


@kopf.on.delete(naming.GROUP, naming.VERSION, naming.PLURAL, when=_mirrored)
async def forget_rows(body: kopf.Body, logger: logging.LoggerAdapter[Any], **_: Any) -> None:
    """Delete (or mark) the request's Appwrite rows and files; give up after a bounded time."""
    assert _shared is not None and _shared.mirror is not None
    if not await _shared.mirror.forget(body):
        logger.warning("Appwrite unreachable: its rows for this VideoRequest are left behind")


@kopf.index("batch", "v1", "jobs", labels=MANAGED)
def jobs_by_request(namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> Any:
    return {(namespace, labels.get(naming.REQUEST_LABEL, "")): _plain(body)}


@kopf.index("", "v1", "pods", labels=MANAGED)
def pods_by_job(namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> Any:
    return {(namespace, labels.get("job-name", "")): _plain(body)}


@kopf.index(naming.GROUP, naming.VERSION, naming.PLURAL)
def cache_offers_by_namespace(namespace: str, body: kopf.Body, **_: Any) -> Any:
    """The scene cache's index: each request's verified scenes (scene_cache.offer)."""
    offered = scene_cache.offer(body)
    return {namespace: offered} if offered is not None else {}


@kopf.on.event("batch", "v1", "jobs", labels=MANAGED)
def job_changed(namespace: str, name: str, labels: kopf.Labels, body: kopf.Body, type: str, **_: Any) -> None:
    key = (namespace, labels.get(naming.REQUEST_LABEL, ""))
    if _shared is None:
        return
    if labels.get(naming.ROLE_LABEL) in STAGES:  # every Job of a scene attempt counts
        phase = outcome(body, ()).phase
        active = type != "DELETED" and phase in phases.ACTIVE
        _shared.admission.observe(name, key, active)
    _shared.wakeups.wake(key)


@kopf.on.event("", "v1", "pods", labels=MANAGED)
def pod_changed(namespace: str, labels: kopf.Labels, **_: Any) -> None:
    if _shared is not None:
        _shared.wakeups.wake((namespace, labels.get(naming.REQUEST_LABEL, "")))


@kopf.on.event(naming.GROUP, naming.VERSION, naming.PLURAL)
def request_changed(body: kopf.Body, **_: Any) -> None:
    if _shared is not None:
        _shared.wakeups.wake(request_key(body))
        if _shared.mirror is not None:  # fields patched after the reconcile published (the ETA)
            _shared.mirror.note_live(body)


@kopf.daemon(naming.GROUP, naming.VERSION, naming.PLURAL, cancellation_timeout=2.0, backoff=5)
async def reconcile_request(
    *,
    body: kopf.Body,
    stopped: kopf.DaemonStopped,
    logger: logging.LoggerAdapter[Any],
    jobs_by_request: kopf.Index[tuple[str, str], Any],
    pods_by_job: kopf.Index[tuple[str, str], Any],
    cache_offers_by_namespace: kopf.Index[str, Any],
    **_: Any,
) -> None:
    assert _shared is not None
    shared = dataclasses.replace(
        _shared,
        jobs=lambda key: list(jobs_by_request.get(key, ())),
        pods=lambda key: list(pods_by_job.get(key, ())),
        cache_offers=lambda namespace: list(cache_offers_by_namespace.get(namespace, ())),
    )
    await RequestLoop(shared, body, logger).run(stopped)


def _plain(body: kopf.Body) -> dict[str, Any]:
    """What the reconcile reads of a Job or Pod, copied: not env, volumes or the whole template."""
    meta = body.metadata
    kept = ("name", "namespace", "uid", "labels", "annotations", "creationTimestamp")
    slim_meta = {k: meta.get(k) for k in kept if meta.get(k)}
    spec = dict(body.spec)
    template = spec.pop("template", None)
    if template is not None:  # a Job: keep only its container's resources (memory limit for OOM retries)
        containers = (template.get("spec") or {}).get("containers") or [{}]
        resources = containers[0].get("resources") or {}
        spec["template"] = {"spec": {"containers": [{"resources": resources}]}}
    else:  # a Pod: its spec is not read at all
        spec = {}
    return copy.deepcopy({"metadata": slim_meta, "spec": spec, "status": body.status})
