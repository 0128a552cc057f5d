"""kopf wiring of the observability side: metrics server, telemetry, ETA and cost, webhooks, JSON logs.

Everything here watches what the cluster says (VideoRequest statuses, render Pods) and never
takes part in the reconcile loop; the only fields it writes are its own (status.cost,
status.estimatedCompletionTime, the `scenefarm.dev/notifications` annotation) and the
`scenefarm-eta` ConfigMap. Imported by `handlers`, so `kopf run -m scenefarm_operator.handlers`
registers these handlers too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Coroutine, Mapping
from typing import Any

import kopf

from . import kube, logformat, metrics, naming
from .accounting import Accountant
from .notify.delivery import Notifier
from .settings import Settings
from .telemetry import Change, Key, Telemetry

logger = logging.getLogger(__name__)
MANAGED = {naming.MANAGED_BY: "scenefarm"}


@dataclasses.dataclass
class Observability:
    settings: Settings
    telemetry: Telemetry
    accountant: Accountant
    notifier: Notifier
    latest: dict[Key, Any] = dataclasses.field(default_factory=dict)  # request key -> latest body


_state: Observability | None = None


async def write_stats(namespace: str, name: str, data: Mapping[str, str]) -> None:
    """Merge into the statistics ConfigMap (patch first, so every write is the same call)."""
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": MANAGED},
        "data": dict(data),
    }
    await kube.merge_configmap(configmap)


def appwrite_stats() -> Mapping[str, float] | None:
    from . import handlers  # the mirror is made by the reconcile side's startup

    shared = handlers._shared
    return shared.mirror.stats() if shared is not None and shared.mirror is not None else None


def phase_of(uid: str) -> str | None:
    tracked = _state.telemetry.requests.get(uid) if _state is not None else None
    return tracked.phase if tracked is not None else None


@kopf.on.startup()
async def start_observability(**_: Any) -> None:
    global _state  # noqa: PLW0603 - one operator per process
    settings = Settings.from_env()
    if settings.log_format == "json":
        logformat.install(phase_of)
    telemetry = Telemetry()
    accountant = Accountant(settings, telemetry, kube.read_configmap, write_stats, kube.patch_status)
    notifier = Notifier(settings, kube.read_secret, kube.patch_request_annotations)
    _state = Observability(settings, telemetry, accountant, notifier)
    if settings.metrics_port:
        metrics.prepare({*accountant.prices, settings.gemini_model})
        metrics.serve(settings.metrics_port, telemetry, appwrite_stats)
        logger.info("serving Prometheus metrics on port %d", settings.metrics_port)


@kopf.on.cleanup()
async def stop_observability(**_: Any) -> None:
    if _state is not None:
        await asyncio.gather(*_background, return_exceptions=True)
        await _state.notifier.close()
        await _state.accountant.close()


@kopf.on.event(naming.GROUP, naming.VERSION, naming.PLURAL)
async def observe_request(body: kopf.Body, type: str | None, **_: Any) -> None:
    if _state is None:
        return
    uid = str(body["metadata"]["uid"])
    if type == "DELETED":
        tracked = _state.telemetry.requests.get(uid)
        if tracked is not None:
            _state.latest.pop(tracked.key, None)
        _state.telemetry.forget_request(uid)
        _state.accountant.forget(uid)
        _state.notifier.forget(uid)
        return
    change = _state.telemetry.observe_request(body, type)
    _state.latest[_state.telemetry.requests[uid].key] = body
    _state.notifier.consider(body)
    _in_background(_publish(body, change))


async def _publish(body: Any, change: Change) -> None:
    assert _state is not None
    try:
        await _state.accountant.on_request(body, change)
    except Exception as e:  # best effort: the next event tries again
        logger.warning("cannot publish ETA/cost of %s: %s", body["metadata"]["name"], e)


_background: set[asyncio.Task[None]] = set()


def _in_background(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` without holding up kopf's handlers of the same event (the reconcile wake-ups)."""
    task = asyncio.create_task(work)
    _background.add(task)
    task.add_done_callback(_background.discard)


@kopf.on.event("", "v1", "pods", labels=MANAGED)
async def observe_pod(body: kopf.Body, type: str | None, **_: Any) -> None:
    if _state is None:
        return
    key = _state.telemetry.observe_pod(body, type)
    request = _state.latest.get(key) if key is not None else None
    if request is None:
        return
    phase = str((request.get("status") or {}).get("phase") or "Pending")
    _in_background(_publish(request, Change(phase, phase)))
