"""The operator's one kopf entry module: `kopf run -m scenefarm_operator.main`.

Every kopf handler is registered here and nowhere else; the bodies are plain functions in
`runtime.handlers`, `observe.handlers` and `web.handlers`. The one start-up handler reads the
settings once and builds one `Runtime`, kept in kopf's memo (`memo.runtime`); each handler takes
from it what its body needs. kopf runs handlers of one event in the order they are registered.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

import kopf

from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.observe import handlers as observe_handlers
from scenefarm_operator.observe.handlers import KubeCalls, Observability
from scenefarm_operator.runtime import handlers as runtime_handlers
from scenefarm_operator.runtime import kube, leader
from scenefarm_operator.runtime.handlers import MANAGED, tune
from scenefarm_operator.runtime.login import login as login_with_client
from scenefarm_operator.runtime.reconcile import Shared
from scenefarm_operator.support.settings import Settings
from scenefarm_operator.web import handlers as web_handlers

if TYPE_CHECKING:
    from scenefarm_operator.web.handlers import WebPath
    from scenefarm_operator.web.mirror import AppwriteMirror

VIDEO_REQUESTS = (naming.GROUP, naming.VERSION, naming.PLURAL)
KUBE_CALLS = KubeCalls(
    read_configmap=kube.read_configmap,
    merge_configmap=kube.merge_configmap,
    patch_status=kube.patch_status,
    read_secret=kube.read_secret,
    patch_request_annotations=kube.patch_request_annotations,
)
LEASE_CALLS = leader.LeaseCalls(read=kube.read_lease, write=kube.write_lease)


@dataclasses.dataclass(frozen=True)
class Runtime:
    """One running operator: made once at start-up, kept in kopf's memo, handed to every handler."""

    settings: Settings
    shared: Shared  # the reconcile side: admission, wake-ups, the mirror
    observability: Observability
    mirror: AppwriteMirror | None  # the Appwrite mirror, when configured (also in `shared`)
    web: WebPath | None  # code uploads and the web intake, when Appwrite is configured
    leadership: leader.Leadership | None  # the Lease this replica holds (None: no election)


def runtime(memo: kopf.Memo) -> Runtime:
    made: Runtime = memo.runtime  # set by `configure` before kopf starts any watch
    return made


# ---- start-up, log-in, clean-up -------------------------------------------------------------


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Read the settings (the only place) and build everything, in order.

    With leader election on, this waits here as a standby until the replica holds the Lease: kopf
    starts no watch, daemon or probe before its start-up ends, and everything below (the web
    intake, webhook delivery, metrics) starts only on the active replica.
    """
    ours = Settings.from_env()
    runtime_handlers.configure(settings, ours)  # log level, kopf's settings
    tune(settings)
    leadership = await leader.lead(ours, LEASE_CALLS)
    mirror = web_handlers.make_mirror(ours)
    web = web_handlers.make_web_path(ours)
    observability = observe_handlers.start_observability(ours, KUBE_CALLS, web_handlers.stats_of(mirror, web))
    if mirror is not None:
        await mirror.start()  # bounded; an unreachable Appwrite never stops the operator
    shared = runtime_handlers.make_shared(ours, mirror, observability.accountant)
    web_handlers.start_intake(web)
    memo.runtime = Runtime(ours, shared, observability, mirror, web, leadership)


@kopf.on.probe(id="webIntake")
def web_intake_health(memo: kopf.Memo, **_: Any) -> dict[str, Any] | str:
    """Liveness: fails (500 on the health endpoint) while the web intake loop is dead or stalled."""
    health = web_handlers.intake_health(runtime(memo).web)
    if health is None:
        return "off"
    if not health["healthy"]:
        raise kopf.PermanentError(f"the web intake is not running: {health}")
    return health


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo:
    """Through the official client: exec plugins, OIDC, token files (login.py)."""
    return login_with_client(**kwargs)


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    made = runtime(memo)
    await observe_handlers.stop_observability(made.observability)
    if made.web is not None:
        await web_handlers.stop_web_path(made.web)
    if made.mirror is not None:
        await made.mirror.stop()
    await leader.step_down(made.leadership)  # kopf has stopped every handler: a standby may act
    await kube.close()


# ---- the Appwrite rows of a deleted request --------------------------------------------------


def _mirrored(memo: kopf.Memo, **_: Any) -> bool:
    return runtime(memo).mirror is not None


@kopf.on.delete(*VIDEO_REQUESTS, when=_mirrored)
async def forget_rows(
    body: kopf.Body,
    memo: kopf.Memo,
    logger: logging.LoggerAdapter[Any],
    cache_offers_by_namespace: kopf.Index[str, Any],
    **_: Any,
) -> None:
    """Delete (or mark) the request's Appwrite rows and files (those other live requests reuse
    stay, as in the store's clean-up); give up after a bounded time."""
    mirror = runtime(memo).mirror
    offers = list(cache_offers_by_namespace.get(body.metadata.namespace or "", ()))
    if mirror is not None and not await mirror.forget(body, offers=offers):
        logger.warning("Appwrite unreachable: its rows for this VideoRequest are left behind")


# ---- the store's files of a deleted request ---------------------------------------------------


@kopf.on.delete(*VIDEO_REQUESTS)
async def clean_storage(
    body: kopf.Body, memo: kopf.Memo, cache_offers_by_namespace: kopf.Index[str, Any], **_: Any
) -> None:
    """A clean-up Job removes the request's files (those other live requests reuse stay)."""
    offers = list(cache_offers_by_namespace.get(body.metadata.namespace or "", ()))
    await runtime_handlers.clean_storage(runtime(memo).settings, body, offers)


# ---- indexes: what the reconcile reads of Jobs, Pods and other requests -----------------------

kopf.index("batch", "v1", "jobs", labels=MANAGED)(runtime_handlers.jobs_by_request)
kopf.index("", "v1", "pods", labels=MANAGED)(runtime_handlers.pods_by_job)
kopf.index(*VIDEO_REQUESTS)(runtime_handlers.cache_offers_by_namespace)


# ---- events (in this order for one event) -----------------------------------------------------


@kopf.on.event(*VIDEO_REQUESTS)
async def observe_request(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    observe_handlers.observe_request(runtime(memo).observability, body, type)


@kopf.on.event("", "v1", "pods", labels=MANAGED)
async def observe_pod(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    observe_handlers.observe_pod(runtime(memo).observability, body, type)


@kopf.on.event("batch", "v1", "jobs", labels=MANAGED)
def job_changed(
    *, namespace: str, name: str, labels: kopf.Labels, body: kopf.Body, type: str, memo: kopf.Memo, **_: Any
) -> None:
    shared = runtime(memo).shared
    runtime_handlers.job_changed(shared, namespace=namespace, name=name, labels=labels, body=body, type=type)


@kopf.on.event("", "v1", "pods", labels=MANAGED)
def pod_changed(namespace: str, labels: kopf.Labels, memo: kopf.Memo, **_: Any) -> None:
    runtime_handlers.pod_changed(runtime(memo).shared, namespace, labels)


@kopf.on.event(*VIDEO_REQUESTS)
def request_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    runtime_handlers.request_changed(runtime(memo).shared, body)


@kopf.on.event(*VIDEO_REQUESTS)
async def upload_code(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Every stored state of a request: upload code revisions not uploaded yet."""
    web = runtime(memo).web
    if web is not None:
        web_handlers.upload_code(web, body)


# ---- one daemon per request: its reconcile loop -----------------------------------------------


@kopf.daemon(*VIDEO_REQUESTS, cancellation_timeout=2.0, backoff=5)
async def reconcile_request(
    *,
    body: kopf.Body,
    stopped: kopf.DaemonStopped,
    logger: logging.LoggerAdapter[Any],
    memo: kopf.Memo,
    jobs_by_request: kopf.Index[tuple[str, str], Any],
    pods_by_job: kopf.Index[tuple[str, str], Any],
    cache_offers_by_namespace: kopf.Index[str, Any],
    **_: Any,
) -> None:
    await runtime_handlers.reconcile_request(
        runtime(memo).shared,
        body=body,
        stopped=stopped,
        logger=logger,
        jobs_by_request=jobs_by_request,
        pods_by_job=pods_by_job,
        cache_offers_by_namespace=cache_offers_by_namespace,
    )
