"""The one module that talks to the Kubernetes API (besides kopf's own watching).

Thin async functions over lightkube: create-or-adopt for children with deterministic names
(409 AlreadyExists means "made earlier", never an error), merge patches for status and Jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightkube import AsyncClient, codecs
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import CascadeType, PatchType

from . import naming

VideoRequest = create_namespaced_resource(naming.GROUP, naming.VERSION, naming.KIND, naming.PLURAL)

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


async def create(obj: Mapping[str, Any]) -> bool:
    """Create a child; False when it already exists (made by an earlier pass or process).

    Only 409 AlreadyExists means that; any other 409 (a conflict) is an error to retry.
    """
    try:
        await client().create(codecs.from_dict(dict(obj)))
    except ApiError as e:
        if e.status.code == 409 and e.status.reason == "AlreadyExists":
            return False
        raise
    return True


async def read_configmap(namespace: str, name: str) -> dict[str, str] | None:
    try:
        cm = await client().get(ConfigMap, name, namespace=namespace)
    except ApiError as e:
        if e.status.code == 404:
            return None
        raise
    return dict(cm.data or {})


async def patch_configmap_data(namespace: str, name: str, data: Mapping[str, str | None]) -> None:
    """Merge `data` into the ConfigMap's data; a None value deletes that key."""
    patch = {"data": dict(data)}
    await client().patch(ConfigMap, name, patch, namespace=namespace, patch_type=PatchType.MERGE)


async def patch_status(namespace: str, name: str, status: Mapping[str, Any]) -> None:
    await client().patch(
        VideoRequest.Status,
        name,
        {"status": dict(status)},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )


async def set_job_suspended(namespace: str, name: str, suspend: bool) -> None:
    patch = {"spec": {"suspend": suspend}}
    try:
        await client().patch(Job, name, patch, namespace=namespace, patch_type=PatchType.MERGE)
    except ApiError as e:
        if e.status.code != 404:
            raise


async def delete_job(namespace: str, name: str) -> None:
    try:
        await client().delete(Job, name, namespace=namespace, cascade=CascadeType.BACKGROUND)
    except ApiError as e:
        if e.status.code != 404:
            raise


async def delete_request(namespace: str, name: str) -> None:
    try:
        await client().delete(VideoRequest, name, namespace=namespace)
    except ApiError as e:
        if e.status.code != 404:
            raise


def is_invalid(error: ApiError) -> bool:
    return error.status.code in (400, 422)
