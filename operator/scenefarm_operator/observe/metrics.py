"""Prometheus metrics of the operator: one registry, the metric objects, the scrape endpoint.

Labels are bounded on purpose: phases, qualities, outcomes, triage classes, purposes, API verbs
and resources, and model names only when they are in the price table (else "other"). No request
name or uid is ever a label: 10 000 requests give the same series as 10.

Counters count what this process observed; gauges that describe the cluster (requests by phase,
the oldest request in each phase, the queue) are computed at scrape time from the tracker that
the VideoRequest watch feeds, so they are right after a restart without any counting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from scenefarm_contract.phases import REQUEST_PHASES

# No `_created` twin of every counter and histogram: half the series for nothing a dashboard reads.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

OUTCOMES = ("succeeded", "failed", "cancelled")
# Triage of one finished scene attempt (a Pod's exit): what the operator does next depends on it.
TRIAGE = ("ok", "fix", "environment", "transient", "oom", "other")
RENDER_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)
QUALITY_OTHER = "other"

REQUESTS_FINISHED = Counter(
    "scenefarm_requests_finished",
    "VideoRequests that reached a final phase while this operator watched, by outcome.",
    ["outcome"],
    registry=REGISTRY,
)
SCENE_RENDER_SECONDS = Histogram(
    "scenefarm_scene_render_seconds",
    "Render time of one scene attempt, from the renderer's termination message (renderSeconds).",
    ["quality", "outcome"],
    buckets=RENDER_BUCKETS,
    registry=REGISTRY,
)
SCENE_ATTEMPTS = Counter(
    "scenefarm_scene_attempts",
    "Finished scene attempts (render Pods) by triage class: ok, fix (exit 10/11), environment (20), "
    "transient (30), oom (OOMKilled), other.",
    ["triage"],
    registry=REGISTRY,
)
QUEUE_WAIT_SECONDS = Histogram(
    "scenefarm_queue_wait_seconds",
    "From a render Job's creation to its container starting (scheduling, image pull, Kueue).",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
    registry=REGISTRY,
)
SCENE_QUEUE_SECONDS = Histogram(
    "scenefarm_scene_queue_seconds",
    "Seconds a scene waited in phase Queued (parallelism or the cluster-wide cap), when it leaves it.",
    buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200),
    registry=REGISTRY,
)
RENDER_SECONDS_TOTAL = Counter(
    "scenefarm_render_seconds",
    "Sum of renderSeconds over finished render Pods (scenes and combines), by kind.",
    ["kind"],
    registry=REGISTRY,
)
RENDER_CPU_SECONDS = Counter(
    "scenefarm_render_cpu_seconds",
    "Sum of cpuSeconds (renderer and its render child) over finished render Pods, by kind.",
    ["kind"],
    registry=REGISTRY,
)
LLM_CALLS = Counter(
    "scenefarm_llm_calls",
    "LLM calls, by model and purpose (plan, fix).",
    ["model", "purpose"],
    registry=REGISTRY,
)
LLM_ERRORS = Counter(
    "scenefarm_llm_errors",
    "LLM calls that failed (after the SDK's own retries), by model and purpose.",
    ["model", "purpose"],
    registry=REGISTRY,
)
LLM_TOKENS = Counter(
    "scenefarm_llm_tokens",
    "LLM tokens, by model, purpose and direction (prompt, candidate).",
    ["model", "purpose", "direction"],
    registry=REGISTRY,
)
LLM_COST = Counter(
    "scenefarm_llm_cost_usd",
    "Estimated LLM cost in US dollars from the chart's price table (cost.prices), by model and purpose.",
    ["model", "purpose"],
    registry=REGISTRY,
)
RECONCILE_SECONDS = Histogram(
    "scenefarm_reconcile_duration_seconds",
    "Duration of one reconcile pass over one VideoRequest.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
API_ERRORS = Counter(
    "scenefarm_api_errors",
    "Kubernetes API calls made by the operator that failed, by verb, resource and HTTP code.",
    ["verb", "resource", "code"],
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "scenefarm_webhook_deliveries",
    "Webhook delivery attempts, by result: delivered, failed (will retry), abandoned, refused.",
    ["result"],
    registry=REGISTRY,
)

for _phase in OUTCOMES:
    REQUESTS_FINISHED.labels(_phase)
for _triage in TRIAGE:
    SCENE_ATTEMPTS.labels(_triage)
for _kind in ("scene", "combine"):
    RENDER_SECONDS_TOTAL.labels(_kind)
    RENDER_CPU_SECONDS.labels(_kind)
for _result in ("delivered", "failed", "abandoned", "refused"):
    WEBHOOK_DELIVERIES.labels(_result)


class RequestView(Protocol):
    """What the request collector reads: the tracker of VideoRequests the watch feeds."""

    def phase_counts(self) -> Mapping[str, int]: ...

    def oldest_in_phase(self, now: float) -> Mapping[str, float]: ...

    def queued_scenes(self) -> int: ...

    def unsynced(self) -> int: ...


class AppwriteView(Protocol):
    def stats(self) -> Mapping[str, float]: ...


class RequestCollector(Collector):
    """Gauges derived at scrape time from the requests the operator currently sees."""

    def __init__(self, view: RequestView, appwrite: Callable[[], Mapping[str, float] | None]) -> None:
        self.view = view
        self.appwrite = appwrite

    def collect(self) -> Iterable[Metric]:
        by_phase = GaugeMetricFamily("scenefarm_requests", "VideoRequests by phase.", labels=["phase"])
        counts = self.view.phase_counts()
        for phase in REQUEST_PHASES:
            by_phase.add_metric([phase], counts.get(phase, 0))
        yield by_phase
        oldest = GaugeMetricFamily(
            "scenefarm_request_phase_age_seconds_max",
            "Seconds the longest-waiting VideoRequest has been in its phase, by phase (0: none).",
            labels=["phase"],
        )
        ages = self.view.oldest_in_phase(time.time())
        for phase in REQUEST_PHASES:
            oldest.add_metric([phase], ages.get(phase, 0.0))
        yield oldest
        yield GaugeMetricFamily(
            "scenefarm_queue_depth",
            "Scenes waiting for a render slot (status.scenes[].phase Queued) over all requests.",
            value=self.view.queued_scenes(),
        )
        yield GaugeMetricFamily(
            "scenefarm_appwrite_unsynced_requests",
            "VideoRequests whose status says their Appwrite rows are not up to date.",
            value=self.view.unsynced(),
        )
        stats = self.appwrite() or {}
        yield from _appwrite_families(stats)
        yield from _intake_families(stats)


def _appwrite_families(stats: Mapping[str, float]) -> Iterable[Metric]:
    """The Appwrite mirror's health; all zero when the mirror is not configured."""
    from prometheus_client.core import CounterMetricFamily

    writes = CounterMetricFamily("scenefarm_appwrite_writes", "Appwrite row writes that succeeded.")
    writes.add_metric([], stats.get("writes", 0))
    yield writes
    errors = CounterMetricFamily("scenefarm_appwrite_errors", "Appwrite row writes that failed.")
    errors.add_metric([], stats.get("errors", 0))
    yield errors
    yield GaugeMetricFamily(
        "scenefarm_appwrite_up",
        "1 when the Appwrite mirror is configured and not in an outage, else 0.",
        value=stats.get("up", 0),
    )
    yield GaugeMetricFamily(
        "scenefarm_appwrite_pending_rows", "Rows waiting to be written.", value=stats.get("pending", 0)
    )
    yield GaugeMetricFamily(
        "scenefarm_appwrite_sync_lag_seconds",
        "While rows wait: seconds since the mirror last wrote successfully (0 when nothing waits).",
        value=stats.get("lag", 0.0),
    )


def _intake_families(stats: Mapping[str, float]) -> Iterable[Metric]:
    """The web intake's health (`intake_*` keys); all zero when there is no intake."""
    from prometheus_client.core import CounterMetricFamily

    for key, help_text in (
        ("created", "VideoRequests the web intake created from request rows."),
        ("refused", "Request rows the web intake refused (a message written on the row)."),
        ("restarts", "Restarts of the web intake loop after a crash."),
    ):
        counter = CounterMetricFamily(f"scenefarm_intake_{key}", help_text)
        counter.add_metric([], stats.get(f"intake_{key}", 0))
        yield counter
    yield GaugeMetricFamily(
        "scenefarm_intake_up",
        "1 while the web intake loop runs and goes round, else 0.",
        value=stats.get("intake_up", 0),
    )
    yield GaugeMetricFamily(
        "scenefarm_intake_skipped_rows",
        "Request rows skipped because even their refusal could not be written.",
        value=stats.get("intake_skipped", 0),
    )
    yield GaugeMetricFamily(
        "scenefarm_intake_failed_passes",
        "Intake passes in a row stopped by a transport error (0: the last pass went through).",
        value=stats.get("intake_failed_passes", 0),
    )


def model_label(model: str, known: Iterable[str]) -> str:
    """A model name as a label value: only names the operator knows, so users cannot add series."""
    return model if model in set(known) else "other"


def quality_label(quality: str | None, known: Iterable[str]) -> str:
    return quality if quality in set(known) else QUALITY_OTHER


def prepare(models: Iterable[str]) -> None:
    """Create the LLM series of the known models at zero, so dashboards and alerts see them at once."""
    for model in [*models, "other"]:
        for purpose in ("plan", "fix"):
            LLM_CALLS.labels(model, purpose)
            LLM_ERRORS.labels(model, purpose)
            LLM_COST.labels(model, purpose)
            for direction in ("prompt", "candidate"):
                LLM_TOKENS.labels(model, purpose, direction)


def serve(port: int, view: RequestView, appwrite: Callable[[], Mapping[str, float] | None]) -> Any:
    """Register the request collector and serve /metrics on `port` (all interfaces)."""
    REGISTRY.register(RequestCollector(view, appwrite))
    return start_http_server(port, registry=REGISTRY)
