"""The observability side's handler bodies: metrics server, telemetry, ETA and cost, webhooks, JSON logs.

Everything here watches what the cluster says (VideoRequest statuses, render Pods) and never
takes part in the reconcile loop; the only fields it writes are its own (status.cost,
status.estimatedCompletionTime, the `scenefarm.dev/notifications` annotation) and the
`scenefarm-eta` ConfigMap. Plain functions over one `Observability`: `scenefarm_operator.main`
registers the handlers and hands in the Kubernetes calls (`KubeCalls`) and the mirror's stats.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from scenefarm_contract import phases
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.observe import logformat, metrics
from scenefarm_operator.observe.accounting import Accountant, PatchStatus, ReadConfigMap
from scenefarm_operator.observe.notify.delivery import AnnotationWriter, Notifier, SecretReader
from scenefarm_operator.observe.telemetry import Change, Key, Telemetry
from scenefarm_operator.support.settings import Settings

logger = logging.getLogger(__name__)
MANAGED = {naming.MANAGED_BY: naming.MANAGER}
MergeConfigMap = Callable[[Mapping[str, Any]], Awaitable[None]]
AppwriteStats = Callable[[], Mapping[str, float] | None]


@dataclasses.dataclass(frozen=True)
class KubeCalls:
    """The Kubernetes calls observability makes (the runtime's `kube` in the operator)."""

    read_configmap: ReadConfigMap
    merge_configmap: MergeConfigMap  # create or merge into a ConfigMap
    patch_status: PatchStatus
    read_secret: SecretReader
    patch_request_annotations: AnnotationWriter


@dataclasses.dataclass
class Observability:
    settings: Settings
    telemetry: Telemetry
    accountant: Accountant
    notifier: Notifier
    latest: dict[Key, Any] = dataclasses.field(default_factory=dict)  # request key -> latest body
    background: set[asyncio.Task[None]] = dataclasses.field(default_factory=set)  # publishes on their way

    def phase_of(self, uid: str) -> str | None:
        tracked = self.telemetry.requests.get(uid)
        return tracked.phase if tracked is not None else None


async def write_stats(merge: MergeConfigMap, namespace: str, name: str, data: Mapping[str, str]) -> None:
    """Merge into the statistics ConfigMap (patch first, so every write is the same call)."""
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": MANAGED},
        "data": dict(data),
    }
    await merge(configmap)


def start_observability(settings: Settings, kube: KubeCalls, appwrite_stats: AppwriteStats) -> Observability:
    """JSON logs when asked for, the accountant and notifier, and the metrics server."""
    telemetry = Telemetry()
    stats_writer = functools.partial(write_stats, kube.merge_configmap)
    accountant = Accountant(settings, telemetry, kube.read_configmap, stats_writer, kube.patch_status)
    notifier = Notifier(settings, kube.read_secret, kube.patch_request_annotations)
    state = Observability(settings, telemetry, accountant, notifier)
    if settings.log_format == "json":
        logformat.install(state.phase_of)
    if settings.metrics_port:
        metrics.prepare({*accountant.prices, settings.gemini_model})
        metrics.serve(settings.metrics_port, telemetry, appwrite_stats)
        logger.info("serving Prometheus metrics on port %d", settings.metrics_port)
    return state


async def stop_observability(state: Observability) -> None:
    await asyncio.gather(*state.background, return_exceptions=True)
    await state.notifier.close()
    await state.accountant.close()


def observe_request(state: Observability, body: Mapping[str, Any], type: str | None) -> None:
    uid = str(body["metadata"]["uid"])
    if type == "DELETED":
        tracked = state.telemetry.requests.get(uid)
        if tracked is not None:
            state.latest.pop(tracked.key, None)
        state.telemetry.forget_request(uid)
        state.accountant.forget(uid)
        state.notifier.forget(uid)
        return
    change = state.telemetry.observe_request(body, type)
    state.latest[state.telemetry.requests[uid].key] = body
    state.notifier.consider(body)
    _in_background(state, _publish(state, body, change))


def observe_pod(state: Observability, body: Mapping[str, Any], type: str | None) -> None:
    key = state.telemetry.observe_pod(body, type)
    request = state.latest.get(key) if key is not None else None
    if request is None:
        return
    phase = str((request.get("status") or {}).get("phase") or phases.PENDING)
    _in_background(state, _publish(state, request, Change(phase, phase)))


async def _publish(state: Observability, body: Any, change: Change) -> None:
    try:
        await state.accountant.on_request(body, change)
    except Exception as e:  # best effort: the next event tries again
        logger.warning("cannot publish ETA/cost of %s: %s", body["metadata"]["name"], e)


def _in_background(state: Observability, work: Coroutine[Any, Any, None]) -> None:
    """Run `work` without holding up kopf's handlers of the same event (the reconcile wake-ups)."""
    task = asyncio.create_task(work)
    state.background.add(task)
    task.add_done_callback(state.background.discard)
