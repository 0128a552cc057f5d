"""Reading and writing VideoRequests for the commands: one object, a list, a scene of one, and
the CLI's writes, which the API server validates strictly (`fieldValidation=Strict`, as
`kubectl apply` does): an unknown or misspelt field is refused, never silently dropped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightkube import codecs
from lightkube.types import PatchType

from scenefarm_cli.connection import Connection
from scenefarm_cli.errors import NotFound
from scenefarm_cli.resources import VideoRequest


def what(conn: Connection, name: str) -> str:
    return f"videorequest/{name} in namespace {conn.namespace}"


def as_dict(obj: Any) -> dict[str, Any]:
    return dict(obj.to_dict()) if hasattr(obj, "to_dict") else dict(obj)


def get(conn: Connection, name: str) -> dict[str, Any]:
    with conn.talking(what(conn, name)):
        return as_dict(conn.client().get(VideoRequest, name, namespace=conn.namespace))


def find(conn: Connection, name: str) -> dict[str, Any] | None:
    """The request, or None when there is none by that name."""
    try:
        return get(conn, name)
    except NotFound:
        return None


def list_all(
    conn: Connection, all_namespaces: bool = False, labels: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    namespace = "*" if all_namespaces else conn.namespace
    with conn.talking(f"videorequests in namespace {conn.namespace}"):
        return [as_dict(o) for o in conn.client().list(VideoRequest, namespace=namespace, labels=labels)]


def _params(dry_run: bool) -> dict[str, str]:
    return {"fieldValidation": "Strict", **({"dryRun": "All"} if dry_run else {})}


def create(conn: Connection, doc: Mapping[str, Any], dry_run: bool = False) -> dict[str, Any]:
    """POST the object, strictly validated; with `dry_run` the server checks it and stores nothing.

    lightkube's Client has no fieldValidation argument; its request layer takes any parameters.
    Callers translate errors (`conn.talking`)."""
    body = codecs.from_dict(dict(doc) | {"metadata": dict(doc["metadata"]) | {"namespace": conn.namespace}})
    created = conn.client()._client.request(
        "post", obj=body, namespace=conn.namespace, params=_params(dry_run)
    )
    return as_dict(created)


def merge_patch(
    conn: Connection, name: str, patch: Mapping[str, Any], dry_run: bool = False
) -> dict[str, Any]:
    """A JSON merge patch of the request, strictly validated (see `create`)."""
    patched = conn.client()._client.request(
        "patch",
        res=VideoRequest,
        name=name,
        obj=dict(patch),
        namespace=conn.namespace,
        params=_params(dry_run),
        headers={"Content-Type": PatchType.MERGE.value},
    )
    return as_dict(patched)


def scene(request: Mapping[str, Any], selector: str) -> dict[str, Any]:
    """A scene of the request's status by index (`2`) or name (`intro`)."""
    scenes = list((request.get("status") or {}).get("scenes") or [])
    for entry in scenes:
        if str(entry.get("index")) == selector or entry.get("name") == selector:
            return dict(entry)
    name = request["metadata"]["name"]
    known = ", ".join(f"{s.get('index')} ({s.get('name')})" for s in scenes) or "none planned yet"
    raise NotFound(f"videorequest/{name} has no scene {selector!r}; its scenes: {known}")
