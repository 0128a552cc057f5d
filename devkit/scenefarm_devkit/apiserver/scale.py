"""The `scale` subresource of Deployments, StatefulSets and ReplicaSets (`kubectl scale`).

Reads and writes an autoscaling/v1 Scale that mirrors the object's `spec.replicas`, as the real
server does. No controller acts on the new count here (the objects are only stored).
"""

from __future__ import annotations

import json
from typing import Any

from scenefarm_devkit.apiserver import errors, patching
from scenefarm_devkit.apiserver.operations import Api
from scenefarm_devkit.apiserver.resources import ResourceType

SCALABLE = {("apps", "deployments"), ("apps", "statefulsets"), ("apps", "replicasets")}


def as_scale(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in selector.items()),
        },
    }


def serve(
    api: Api, rt: ResourceType, verb: str, namespace: str, name: str, *, body: Any, content_type: str
) -> dict[str, Any]:
    current = as_scale(api.get(rt, namespace, name))
    if verb == "get":
        return current
    if verb == "update":
        wanted = body
    elif verb == "patch":
        wanted = patching.apply_patch(content_type, current, body, builtin=True)
    else:
        raise errors.MethodNotAllowed(f"the server does not allow this method on {rt.plural}/scale")
    replicas = (wanted.get("spec") or {}).get("replicas") if isinstance(wanted, dict) else None
    if not isinstance(replicas, int) or replicas < 0:
        message = f"Invalid value: {json.dumps(replicas)}: must be greater than or equal to 0"
        cause = {"reason": "FieldValueInvalid", "field": "spec.replicas", "message": message}
        raise errors.invalid("Scale", "autoscaling", name, [cause])
    rv = (wanted.get("metadata") or {}).get("resourceVersion")
    patch: dict[str, Any] = {"spec": {"replicas": replicas}} | (
        {"metadata": {"resourceVersion": rv}} if rv else {}
    )
    obj, _ = api.patch(rt, namespace, name, patching.MERGE, patch)
    return as_scale(obj)
