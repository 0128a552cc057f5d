"""The one module that talks to the Kubernetes API (besides kopf's own watching).

Thin async functions over lightkube: create-or-adopt for children with deterministic names
(409 AlreadyExists means "made earlier", never an error), merge patches for status and Jobs.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from lightkube import AsyncClient, codecs, operators
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.batch_v1 import Job
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap, Event, Secret
from lightkube.types import CascadeType, PatchType

from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.observe import metrics

VideoRequest = create_namespaced_resource(naming.GROUP, naming.VERSION, naming.KIND, naming.PLURAL)
WORKLOADS = tuple(  # newest first: v1beta2 is the storage version since Kueue v0.15
    create_namespaced_resource("kueue.x-k8s.io", version, "Workload", "workloads")
    for version in ("v1beta2", "v1beta1")
)
KUEUE_JOB_UID_LABEL = "kueue.x-k8s.io/job-uid"  # Kueue's label on a Workload: the uid of its Job
NOT_SERVED = (403, 404)  # Kueue not installed, or the chart's opt-in grant not given

_client: AsyncClient | None = None


def client() -> AsyncClient:
    """One shared client per process (connection pooling); created lazily from kubeconfig."""
    global _client  # noqa: PLW0603 - a process-wide connection pool
    if _client is None:
        _client = AsyncClient(field_manager="scenefarm")
    return _client


async def close() -> None:
    global _client  # noqa: PLW0603
    if _client is not None:
        await _client.close()
        _client = None


@contextlib.contextmanager
def _counted(verb: str, resource: str, expected: tuple[int, ...] = ()) -> Iterator[None]:
    """Count API errors by verb, resource and code (`expected` codes are answers, not errors)."""
    try:
        yield
    except ApiError as e:
        if e.status.code not in expected:
            metrics.API_ERRORS.labels(verb, resource, str(e.status.code or 0)).inc()
        raise


async def create(obj: Mapping[str, Any]) -> bool:
    """Create a child; False when it already exists (made by an earlier pass or process)."""
    return await create_child(obj) is not None


async def create_child(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """Create a child and return it as the server stored it (admission may have changed it, e.g.
    Kueue suspends Jobs); None when it already exists (made by an earlier pass or process).

    Only 409 AlreadyExists means that; any other 409 (a conflict) is an error to retry.
    """
    try:
        with _counted("create", str(obj.get("kind", "")).lower() + "s", expected=(409,)):
            created = await client().create(codecs.from_dict(dict(obj)))
    except ApiError as e:
        if e.status.code == 409 and e.status.reason == "AlreadyExists":
            return None
        raise
    stored = created.to_dict() if hasattr(created, "to_dict") else None  # type: ignore[no-untyped-call]
    return dict(stored) if isinstance(stored, Mapping) else dict(obj)


async def _get_or_none(kind: Any, plural: str, namespace: str, name: str) -> Any:
    """The object as the client returns it; None when it does not exist."""
    try:
        with _counted("get", plural, expected=(404,)):
            return await client().get(kind, name, namespace=namespace)
    except ApiError as e:
        if e.status.code == 404:
            return None
        raise


async def read_configmap(namespace: str, name: str) -> dict[str, str] | None:
    cm = await _get_or_none(ConfigMap, "configmaps", namespace, name)
    if cm is None:
        return None
    return dict(cm.data or {})


async def get_configmap(namespace: str, name: str) -> dict[str, Any] | None:
    """The whole ConfigMap (its ownerReferences with its data); None when it does not exist."""
    cm = await _get_or_none(ConfigMap, "configmaps", namespace, name)
    if cm is None:
        return None
    return dict(cm.to_dict())  # type: ignore[no-untyped-call]


async def get_job(namespace: str, name: str) -> dict[str, Any] | None:
    """The Job as stored; None when it does not exist."""
    job = await _get_or_none(Job, "jobs", namespace, name)
    if job is None:
        return None
    return dict(job.to_dict())  # type: ignore[no-untyped-call]


async def patch_configmap_data(namespace: str, name: str, data: Mapping[str, str | None]) -> None:
    """Merge `data` into the ConfigMap's data; a None value deletes that key."""
    patch = {"data": dict(data)}
    with _counted("patch", "configmaps"):
        await client().patch(ConfigMap, name, patch, namespace=namespace, patch_type=PatchType.MERGE)


async def merge_configmap(configmap: Mapping[str, Any]) -> None:
    """Merge a ConfigMap's data into the one on the server, creating it when it is missing."""
    meta = configmap["metadata"]
    patch = {"data": dict(configmap.get("data") or {})}
    try:
        with _counted("patch", "configmaps", expected=(404,)):
            await client().patch(
                ConfigMap, meta["name"], patch, namespace=meta["namespace"], patch_type=PatchType.MERGE
            )
    except ApiError as e:
        if e.status.code != 404:
            raise
        if not await create(configmap):  # made meanwhile by someone else: merge into theirs
            await patch_configmap_data(meta["namespace"], meta["name"], patch["data"])


async def read_secret(namespace: str, name: str) -> dict[str, str] | None:
    """A Secret's data, decoded; None when it does not exist."""
    secret = await _get_or_none(Secret, "secrets", namespace, name)
    if secret is None:
        return None
    return {k: base64.b64decode(v).decode(errors="replace") for k, v in (secret.data or {}).items()}


async def patch_request_annotations(namespace: str, name: str, annotations: Mapping[str, str | None]) -> None:
    patch = {"metadata": {"annotations": dict(annotations)}}
    with _counted("patch", naming.PLURAL):
        await client().patch(VideoRequest, name, patch, namespace=namespace, patch_type=PatchType.MERGE)


async def patch_status(namespace: str, name: str, status: Mapping[str, Any]) -> None:
    with _counted("patch", naming.PLURAL + "/status"):
        await client().patch(
            VideoRequest.Status,
            name,
            {"status": dict(status)},
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )


async def list_requests(namespace: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """The VideoRequests in `namespace` carrying all of `labels` (the web intake's quota check)."""
    with _counted("list", naming.PLURAL):
        found = client().list(VideoRequest, namespace=namespace, labels=dict(labels))
        return [dict(item) async for item in found]  # generic resources are dicts


async def read_request(namespace: str, name: str) -> dict[str, Any] | None:
    """One VideoRequest as stored; None when there is none (the web intake's ownership check)."""
    found = await _get_or_none(VideoRequest, naming.PLURAL, namespace, name)
    if found is None:
        return None
    return dict(found)  # generic resources are dicts


async def cancel_request(namespace: str, name: str) -> None:
    """Set `spec.cancel` (the web intake's cancel flag); a missing request is fine."""
    await _merge_spec(namespace, name, {"cancel": True})


async def retry_request(namespace: str, name: str, generation: int) -> None:
    """Set `spec.retryGeneration` (the web page's retry); a missing request is fine."""
    await _merge_spec(namespace, name, {"retryGeneration": generation})


async def _merge_spec(namespace: str, name: str, spec: dict[str, Any]) -> None:
    try:
        with _counted("patch", naming.PLURAL, expected=(404,)):
            await client().patch(
                VideoRequest, name, {"spec": spec}, namespace=namespace, patch_type=PatchType.MERGE
            )
    except ApiError as e:
        if e.status.code != 404:
            raise


async def set_job_suspended(namespace: str, name: str, suspend: bool) -> None:
    """Hold or release a Job the operator holds, recording the hold on the Job itself (the
    `scenefarm.dev/suspended` annotation, in the same patch): a resume, by this process or a
    restarted one, releases exactly the Jobs carrying it and never one another controller holds."""
    annotation = {naming.SUSPENDED_BY_US_ANNOTATION: "true" if suspend else None}
    await patch_job(namespace, name, {"metadata": {"annotations": annotation}, "spec": {"suspend": suspend}})


async def patch_job(namespace: str, name: str, patch: Mapping[str, Any]) -> None:
    """A JSON merge patch of a Job; a Job gone meanwhile is fine."""
    try:
        with _counted("patch", "jobs", expected=(404,)):
            await client().patch(Job, name, dict(patch), namespace=namespace, patch_type=PatchType.MERGE)
    except ApiError as e:
        if e.status.code != 404:
            raise


async def delete_job(namespace: str, name: str) -> None:
    try:
        with _counted("delete", "jobs", expected=(404,)):
            await client().delete(Job, name, namespace=namespace, cascade=CascadeType.BACKGROUND)
    except ApiError as e:
        if e.status.code != 404:
            raise


async def delete_request(namespace: str, name: str) -> None:
    try:
        with _counted("delete", naming.PLURAL, expected=(404,)):
            await client().delete(VideoRequest, name, namespace=namespace)
    except ApiError as e:
        if e.status.code != 404:
            raise


async def failed_creates(namespace: str) -> list[dict[str, Any]]:
    """The Job controller's FailedCreate Events in `namespace` (a Pod the API server refused).

    Real servers filter Events by these field labels; callers match involvedObject.uid to their Jobs.
    """
    fields: dict[str, Any] = {"involvedObject.kind": "Job", "reason": "FailedCreate"}
    with _counted("list", "events"):
        return [e.to_dict() async for e in client().list(Event, namespace=namespace, fields=fields)]  # type: ignore[no-untyped-call]


async def failed_mounts(namespace: str) -> list[dict[str, Any]]:
    """The kubelet's FailedMount Events on Pods in `namespace` (a volume's source is missing);
    callers match involvedObject.uid to their Pods."""
    fields: dict[str, Any] = {"involvedObject.kind": "Pod", "reason": "FailedMount"}
    with _counted("list", "events"):
        return [e.to_dict() async for e in client().list(Event, namespace=namespace, fields=fields)]  # type: ignore[no-untyped-call]


async def kueue_workloads(namespace: str, job_uids: Collection[str]) -> list[dict[str, Any]]:
    """The Workloads Kueue made for these Jobs (its `kueue.x-k8s.io/job-uid` label; callers also
    match the ownerReference): `v1beta2`, Kueue's storage version since v0.15, else `v1beta1`.
    [] when Kueue is not installed or the operator may not list them (the chart grants it with a
    queue name)."""
    if not job_uids:
        return []
    labels: dict[str, Any] = {KUEUE_JOB_UID_LABEL: operators.in_(sorted(job_uids))}
    for workload in WORKLOADS:
        try:
            with _counted("list", "workloads", expected=NOT_SERVED):
                found = client().list(workload, namespace=namespace, labels=labels)
                return [w.to_dict() async for w in found]  # type: ignore[no-untyped-call]
        except ApiError as e:
            if e.status.code not in NOT_SERVED:
                raise
    return []


def is_invalid(error: ApiError) -> bool:
    return error.status.code in (400, 422)


# ---- the leader-election Lease (runtime/leader.py) -------------------------------------------


async def read_lease(namespace: str, name: str) -> dict[str, Any] | None:
    """The Lease as stored (with its resourceVersion); None when it does not exist."""
    lease = await _get_or_none(Lease, "leases", namespace, name)
    if lease is None:
        return None
    return dict(lease.to_dict())  # type: ignore[no-untyped-call]


async def write_lease(lease: Mapping[str, Any]) -> bool:
    """Create the Lease (no resourceVersion) or replace it at the resourceVersion it carries;
    False when another replica wrote first (409: it exists already, or it changed since read)."""
    obj = codecs.from_dict(dict(lease))
    verb = "update" if lease.get("metadata", {}).get("resourceVersion") else "create"
    try:
        with _counted(verb, "leases", expected=(409,)):
            if verb == "create":
                await client().create(obj)
            else:
                await client().replace(obj)
    except ApiError as e:
        if e.status.code == 409:
            return False
        raise
    return True
