"""Discovery documents: /version, /api, /apis, /api/v1, /apis/<group>[/<version>]."""

from __future__ import annotations

from typing import Any

from scenefarm_devkit.apiserver.errors import NotFound
from scenefarm_devkit.apiserver.resources import Registry

VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-scenefarm",
    "gitCommit": "0" * 40,
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions(address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "versions": [{"groupVersion": f"{name}/{v}", "version": v} for v in versions],
        "preferredVersion": {"groupVersion": f"{name}/{versions[0]}", "version": versions[0]},
    }


def group_list(registry: Registry) -> dict[str, Any]:
    groups = [_group(g, vs) for g, vs in registry.groups().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(registry: Registry, name: str) -> dict[str, Any]:
    versions = registry.groups().get(name)
    if not versions or not name:
        raise NotFound("the server could not find the requested resource")
    return {"kind": "APIGroup", "apiVersion": "v1"} | _group(name, versions)


def resource_list(registry: Registry, group_name: str, version: str) -> dict[str, Any]:
    types = [rt for rt in registry.all() if rt.group == group_name and rt.version == version]
    if not types:
        raise NotFound("the server could not find the requested resource")
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group_name}/{version}" if group_name else version,
        "resources": [entry for rt in types for entry in rt.discovery()],
    }


def root_paths(registry: Registry) -> dict[str, Any]:
    paths = {"/api", "/api/v1", "/apis", "/version", "/healthz", "/readyz", "/livez"}
    for g, versions in registry.groups().items():
        if g:
            paths.add(f"/apis/{g}")
            paths.update(f"/apis/{g}/{v}" for v in versions)
    return {"paths": sorted(paths)}
