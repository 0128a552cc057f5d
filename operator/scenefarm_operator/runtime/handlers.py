"""The reconcile side's handler bodies: kopf settings, watch-fed indexes of Jobs and Pods, one loop
per request.

Plain functions; `scenefarm_operator.main` registers the handlers and hands each the process-wide
`Shared` state it built at start-up. No business logic here: each calls the domain and returns.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import kopf
from lightkube.core.exceptions import ApiError

from scenefarm_contract import keys, phases
from scenefarm_operator.engine import scene_cache
from scenefarm_operator.engine.manifests import jobs as manifests
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.engine.observed import STAGES, outcome
from scenefarm_operator.engine.scheduling.costmodel import Costs
from scenefarm_operator.observe.accounting import Accountant
from scenefarm_operator.runtime import kube
from scenefarm_operator.runtime.admission import Admission
from scenefarm_operator.runtime.diffbase import DigestDiffBaseStorage
from scenefarm_operator.runtime.reconcile import Mirror, RequestLoop, Shared, request_key
from scenefarm_operator.runtime.wakeups import Wakeups
from scenefarm_operator.support.errors import SettingsError
from scenefarm_operator.support.settings import Settings

MANAGED = {naming.MANAGED_BY: naming.MANAGER}
MANAGED_SELECTOR = f"{naming.MANAGED_BY}={naming.MANAGER}"


def configure(settings: kopf.OperatorSettings, ours: Settings) -> None:
    """The log level and kopf's own settings (`tune` adds what a big cluster needs); a cost model
    the operator could not use stops it here, not at its first chunking decision."""
    try:
        Costs.parse(ours.cost_model)
    except ValueError as e:
        raise SettingsError(f"SCENEFARM_COST_MODEL: {e}") from None
    logging.getLogger("scenefarm_operator").setLevel(ours.log_level)
    if ours.log_level != "DEBUG":  # one line per HTTP request / handler run is too much at scale
        for noisy in ("httpx", "httpx2", "kopf.objects"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    settings.persistence.finalizer = keys.FINALIZER
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.batching.batch_window = 0.05  # events per object are merged within this window
    settings.queueing.idle_timeout = 0.5  # per-object workers exit soon: thousands of Jobs and Pods


def tune(settings: kopf.OperatorSettings) -> None:
    """What makes the operator safe on a big, real cluster (docs/install.md)."""
    # Server-side label selectors: the API server sends only our Jobs and Pods. kopf's labels=
    # filters below run client-side and would otherwise list and watch every Pod in the cluster.
    settings.watching.label_selectors["batch/v1", "jobs"] = MANAGED_SELECTOR
    settings.watching.label_selectors["v1", "pods"] = MANAGED_SELECTOR
    # The last-handled configuration holds a digest of the spec, not the spec (256 KiB budget).
    settings.persistence.diffbase_storage = DigestDiffBaseStorage()


def make_shared(ours: Settings, mirror: Mirror | None, accountant: Accountant | None = None) -> Shared:
    """The state every request's loop shares; the indexes are handed in per daemon. With the
    `accountant`, each status write carries the ETA and cost that changed."""
    wakeups = Wakeups()
    return Shared(
        settings=ours,
        admission=Admission(ours.max_running_scene_jobs, on_free=wakeups.wake),
        wakeups=wakeups,
        jobs=lambda key: [],
        pods=lambda key: [],
        mirror=mirror,
        accounting=accountant.fields if accountant is not None else None,
    )


def jobs_by_request(namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> Any:
    return {(namespace, labels.get(naming.REQUEST_LABEL, "")): _plain(body)}


def pods_by_job(namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> Any:
    return {(namespace, labels.get("job-name", "")): _plain(body)}


def cache_offers_by_namespace(namespace: str, body: kopf.Body, **_: Any) -> Any:
    """The scene cache's index: each request's verified scenes (scene_cache.offer)."""
    offered = scene_cache.offer(body)
    return {namespace: offered} if offered is not None else {}


def job_changed(
    shared: Shared, *, namespace: str, name: str, labels: Mapping[str, str], body: kopf.Body, type: str
) -> None:
    key = (namespace, labels.get(naming.REQUEST_LABEL, ""))
    if labels.get(naming.ROLE_LABEL) in STAGES:  # every Job of a scene attempt counts
        phase = outcome(body, ()).phase
        active = type != "DELETED" and phase in phases.ACTIVE
        shared.admission.observe(name, key, active)
    shared.wakeups.wake(key)


def pod_changed(shared: Shared, namespace: str, labels: Mapping[str, str]) -> None:
    shared.wakeups.wake((namespace, labels.get(naming.REQUEST_LABEL, "")))


def request_changed(shared: Shared, body: kopf.Body) -> None:
    shared.wakeups.wake(request_key(body))
    if shared.mirror is not None:  # fields patched after the reconcile published (the ETA)
        shared.mirror.note_live(body)


async def reconcile_request(
    shared: Shared,
    *,
    body: kopf.Body,
    stopped: kopf.DaemonStopped,
    logger: logging.LoggerAdapter[Any],
    jobs_by_request: kopf.Index[tuple[str, str], Any],
    pods_by_job: kopf.Index[tuple[str, str], Any],
    cache_offers_by_namespace: kopf.Index[str, Any],
) -> None:
    """One request's loop, reading Jobs, Pods and cache offers from kopf's indexes."""
    shared = dataclasses.replace(
        shared,
        jobs=lambda key: list(jobs_by_request.get(key, ())),
        pods=lambda key: list(pods_by_job.get(key, ())),
        cache_offers=lambda namespace: list(cache_offers_by_namespace.get(namespace, ())),
    )
    await RequestLoop(shared, body, logger).run(stopped)


def _plain(body: kopf.Body) -> dict[str, Any]:
    """What the reconcile reads of a Job or Pod, copied: not env, volumes or the whole template."""
    meta = body.metadata
    kept = ("name", "namespace", "uid", "labels", "annotations", "creationTimestamp", "ownerReferences")
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


async def clean_storage(settings: Settings, body: kopf.Body, offers: Sequence[Any]) -> None:
    """A deleted (or TTL-expired) request's files leave the store: a clean-up Job, not owned by
    the request, keeping what other live requests reuse (scene_cache.cleanup_targets)."""
    status = dict(body.status)
    if not status.get("scenes"):
        return  # nothing was rendered: nothing stored
    plain: dict[str, Any] = {
        "apiVersion": naming.API_VERSION,
        "kind": naming.KIND,
        "metadata": dict(body.metadata),
        "spec": dict(body.spec),
        "status": status,
    }
    keep, also = scene_cache.cleanup_targets(plain, offers)
    try:
        await kube.create(manifests.cleanup_job(plain, settings, keep=keep, also=also))
    except ApiError as e:  # never hold the deletion up: the files stay, and the log says so
        logging.getLogger(__name__).warning(f"the clean-up Job could not be made, files stay: {e}")
