"""Just enough /openapi/v3 for kubectl: it learns that the server validates (`fieldValidation`).

kubectl apply/create refuse to run ("failed to download openapi") unless /openapi/v3 answers.
When a group-version's document lists a PATCH operation for the kind with the `fieldValidation`
query parameter, kubectl leaves validation to the server (which we do) and needs no schemas.
"""

from __future__ import annotations

import hashlib
from typing import Any

from scenefarm_devkit.apiserver.errors import NotFound
from scenefarm_devkit.apiserver.resources import Registry

_PARAMS = [
    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for name in ("dryRun", "fieldManager", "fieldValidation", "force")
]


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def root(registry: Registry) -> dict[str, Any]:
    paths = {}
    for group, versions in registry.groups().items():
        for version in versions:
            doc = gv_document(registry, _gv_path(group, version))
            digest = hashlib.sha256(repr(doc).encode()).hexdigest()[:32].upper()
            paths[_gv_path(group, version)] = {
                "serverRelativeURL": f"/openapi/v3/{_gv_path(group, version)}?hash={digest}"
            }
    return {"paths": paths}


def gv_document(registry: Registry, gv_path: str) -> dict[str, Any]:
    types = [rt for rt in registry.all() if _gv_path(rt.group, rt.version) == gv_path.strip("/")]
    if not types:
        raise NotFound("the server could not find the requested resource")
    paths: dict[str, Any] = {}
    for rt in types:
        prefix = (
            f"/{gv_path.strip('/')}/namespaces/{{namespace}}" if rt.namespaced else f"/{gv_path.strip('/')}"
        )
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        operation = {
            "x-kubernetes-group-version-kind": gvk,
            "x-kubernetes-action": "patch",
            "parameters": _PARAMS,
            "responses": {"200": {"description": "OK"}},
        }
        paths[f"{prefix}/{rt.plural}/{{name}}"] = {"patch": operation}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }
