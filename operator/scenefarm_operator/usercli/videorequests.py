"""Reading VideoRequests for the commands: one object, a list, a scene of one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..kube import VideoRequest
from .connection import Connection
from .errors import NotFound

TERMINAL = ("Succeeded", "Failed", "Cancelled")


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


def list_all(conn: Connection, all_namespaces: bool = False) -> list[dict[str, Any]]:
    namespace = "*" if all_namespaces else conn.namespace
    with conn.talking(f"videorequests in namespace {conn.namespace}"):
        return [as_dict(o) for o in conn.client().list(VideoRequest, namespace=namespace)]


def scene(request: Mapping[str, Any], selector: str) -> dict[str, Any]:
    """A scene of the request's status by index (`2`) or name (`intro`)."""
    scenes = list((request.get("status") or {}).get("scenes") or [])
    for entry in scenes:
        if str(entry.get("index")) == selector or entry.get("name") == selector:
            return dict(entry)
    name = request["metadata"]["name"]
    known = ", ".join(f"{s.get('index')} ({s.get('name')})" for s in scenes) or "none planned yet"
    raise NotFound(f"videorequest/{name} has no scene {selector!r}; its scenes: {known}")
