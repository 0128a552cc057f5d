"""/openapi/v3 (and the schemas /openapi/v2 publishes): what kubectl explain, apply and helm read.

Each group-version document has a PATCH operation per kind declaring the `fieldValidation` query
parameter (so kubectl leaves validation to this server) and `components.schemas` carrying each
kind's schema with its `x-kubernetes-group-version-kind`, which `kubectl explain` looks up:
a CRD's openAPIV3Schema (metadata as ObjectMeta, as the apiextensions server publishes it) and,
for built-in kinds, the official schemas that kubernetes-validate ships (Kubernetes 1.36).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.resources
import json
from typing import Any

from scenefarm_devkit.apiserver.errors import NotFound
from scenefarm_devkit.apiserver.resources import Registry, ResourceType

_PARAMS = [
    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for name in ("dryRun", "fieldManager", "fieldValidation", "force")
]
_BUILTIN_SCHEMAS = "kubernetes-json-schema/v1.36.0-local/_definitions.json"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_GROUP_PACKAGES = {
    "": "core",
    "rbac.authorization.k8s.io": "rbac",
    "networking.k8s.io": "networking",
    "coordination.k8s.io": "coordination",
    "events.k8s.io": "events",
    "apiextensions.k8s.io": "apiextensions",
}


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def definition_name(rt: ResourceType) -> str:
    """The schema's name as the real server publishes it."""
    if not rt.builtin:
        return ".".join(reversed(rt.group.split("."))) + f".{rt.version}.{rt.kind}"
    if rt.group == "apiextensions.k8s.io":
        return f"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{rt.version}.{rt.kind}"
    package = _GROUP_PACKAGES.get(rt.group, rt.group.split(".", 1)[0])
    return f"io.k8s.api.{package}.{rt.version}.{rt.kind}"


@functools.cache
def _builtin_definitions() -> dict[str, Any]:
    files = importlib.resources.files("kubernetes_validate").joinpath(_BUILTIN_SCHEMAS)
    raw: dict[str, Any] = json.loads(files.read_text(encoding="utf-8"))["$defs"]
    return {name: _openapi_form(schema) for name, schema in raw.items()}


def _openapi_form(node: Any) -> Any:
    """JSON-schema form (type lists with null, $defs refs, oneOf for int-or-string) -> OpenAPI."""
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            result[key] = {name: _openapi_form(schema) for name, schema in value.items()}
        elif key in ("items", "additionalProperties"):
            result[key] = _openapi_form(value)
        elif key != "oneOf":
            result[key] = value
    if isinstance(node.get("type"), list):
        types = [t for t in node["type"] if t != "null"]
        result["type"] = types[0] if types else "object"
    if isinstance(node.get("$ref"), str):
        result["$ref"] = node["$ref"].replace("#/$defs/", "#/components/schemas/")
    if isinstance(node.get("oneOf"), list):
        kinds = {t for option in node["oneOf"] if isinstance(option, dict) for t in _types(option)}
        if "integer" in kinds:
            result["x-kubernetes-int-or-string"] = True
        result["type"] = "string"
    return result


def _types(option: dict[str, Any]) -> list[str]:
    kind = option.get("type", [])
    return kind if isinstance(kind, list) else [kind]


def _closure(names: list[str], definitions: dict[str, Any]) -> dict[str, Any]:
    """The named definitions and every definition they reference."""
    found: dict[str, Any] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in found or name not in definitions:
            continue
        found[name] = definitions[name]
        todo += [ref.rsplit("/", 1)[1] for ref in _refs(definitions[name])]
    return found


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def crd_schema(rt: ResourceType) -> dict[str, Any]:
    """A custom resource's published schema: its openAPIV3Schema, metadata as ObjectMeta."""
    schema = copy.deepcopy(rt.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    properties = schema.setdefault("properties", {})
    properties["metadata"] = {
        "$ref": f"#/components/schemas/{OBJECT_META}",
        "description": "Standard object's metadata.",
    }
    properties.setdefault("apiVersion", {"type": "string", "description": "APIVersion of this object."})
    properties.setdefault("kind", {"type": "string", "description": "Kind of this object."})
    schema["x-kubernetes-group-version-kind"] = [{"group": rt.group, "version": rt.version, "kind": rt.kind}]
    return schema


def schemas_for(types: list[ResourceType]) -> dict[str, Any]:
    """`components.schemas` for these kinds (and what their schemas reference)."""
    definitions = _builtin_definitions()
    builtins = [definition_name(rt) for rt in types if rt.builtin]
    result = _closure([*builtins, OBJECT_META], definitions)
    for rt in types:
        if not rt.builtin:
            result[definition_name(rt)] = crd_schema(rt)
    return result


def _types_at(registry: Registry, gv_path: str) -> list[ResourceType]:
    types = [rt for rt in registry.all() if _gv_path(rt.group, rt.version) == gv_path.strip("/")]
    if not types:
        raise NotFound("the server could not find the requested resource")
    return types


def root(registry: Registry) -> dict[str, Any]:
    paths = {}
    for group, versions in registry.groups().items():
        for version in versions:
            types = _types_at(registry, _gv_path(group, version))
            # The hash changes when a kind's schema does (kubectl caches documents by it).
            digest = hashlib.sha256(
                json.dumps([(rt.key, rt.schema) for rt in types], sort_keys=True).encode()
            ).hexdigest()[:32]
            paths[_gv_path(group, version)] = {
                "serverRelativeURL": f"/openapi/v3/{_gv_path(group, version)}?hash={digest.upper()}"
            }
    return {"paths": paths}


def gv_document(registry: Registry, gv_path: str) -> dict[str, Any]:
    types = _types_at(registry, gv_path)
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
        "info": {"title": "Kubernetes", "version": "v1.36.0"},
        "paths": paths,
        "components": {"schemas": schemas_for(types)},
    }
