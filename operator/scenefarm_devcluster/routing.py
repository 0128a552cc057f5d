"""Turning a URL + method into a Kubernetes request: resource, namespace, name, subresource, verb."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Route:
    group: str = ""
    version: str = ""
    plural: str = ""
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    verb: str = ""
    # For non-resource paths: "version", "api", "apis", "group", "groupversion", "root", "health", "".
    discovery: str = ""


def _verb(method: str, named: bool, watch: bool) -> str:
    if method == "GET":
        return "watch" if watch else ("get" if named else "list")
    return {
        "POST": "create", "PUT": "update", "PATCH": "patch",
        "DELETE": "delete" if named else "deletecollection",
    }.get(method, method.lower())


def route(method: str, path: str, watch: bool) -> Route:
    parts = [p for p in path.split("/") if p]
    if not parts:
        return Route(discovery="root")
    if parts == ["version"]:
        return Route(discovery="version")
    if parts[0] in ("healthz", "readyz", "livez"):
        return Route(discovery="health")
    if parts[:2] == ["openapi", "v3"]:
        return Route(plural="/".join(parts[2:]), discovery="openapi")
    if parts[0] == "api":
        if len(parts) == 1:
            return Route(discovery="api")
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) == 1:
            return Route(discovery="apis")
        if len(parts) == 2:
            return Route(group=parts[1], discovery="group")
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return Route()
    if not rest:
        return Route(group=group, version=version, discovery="groupversion")
    if watch is False and len(rest) >= 2 and rest[0] == "watch":
        rest, watch = rest[1:], True  # the deprecated /watch/ prefix
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
        namespace, rest = rest[1], rest[2:]
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = "/".join(rest[2:])
    return Route(group=group, version=version, plural=plural, namespace=namespace, name=name,
                 subresource=subresource, verb=_verb(method, bool(name), watch))
