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
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if named else "deletecollection",
    }.get(method, method.lower())


def _non_resource(parts: list[str]) -> Route | None:
    """Discovery, health and OpenAPI paths; None when the path addresses resources."""
    fixed = {"": "root", "version": "version", "healthz": "health", "readyz": "health", "livez": "health"}
    head = "/".join(parts[:1])
    if head in fixed and (head != "version" or len(parts) == 1):
        return Route(discovery=fixed[head])
    if parts == ["openapi", "v2"]:
        return Route(discovery="openapi-v2")
    if parts[:2] == ["openapi", "v3"]:
        return Route(plural="/".join(parts[2:]), discovery="openapi")
    if parts[0] not in ("api", "apis"):
        return Route()
    if len(parts) == 1 or (parts[0] == "apis" and len(parts) == 2):
        return Route(
            group=parts[1] if len(parts) == 2 else "", discovery="group" if len(parts) == 2 else parts[0]
        )
    return None


def route(method: str, path: str, watch: bool) -> Route:
    parts = [p for p in path.split("/") if p]
    special = _non_resource(parts)
    if special is not None:
        return special
    if parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    else:
        group, version, rest = parts[1], parts[2], parts[3:]
    if not rest:
        return Route(group=group, version=version, discovery="groupversion")
    if len(rest) >= 2 and rest[0] == "watch":
        rest, watch = rest[1:], True  # the deprecated /watch/ prefix
    namespace = ""
    # /api/v1/namespaces/<ns>/status|finalize are subresources of a Namespace, not a resource type.
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
    ):
        namespace, rest = rest[1], rest[2:]
    name = rest[1] if len(rest) > 1 else ""
    return Route(
        group=group,
        version=version,
        plural=rest[0],
        namespace=namespace,
        name=name,
        subresource="/".join(rest[2:]),
        verb=_verb(method, bool(name), watch),
    )
