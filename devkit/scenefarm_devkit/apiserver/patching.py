"""The PATCH flavours the API server accepts: JSON merge, JSON patch and strategic merge."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from scenefarm_devkit.apiserver.errors import BadRequest, Invalid, UnsupportedMediaType

MERGE = "application/merge-patch+json"
JSON = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"

# patchMergeKey of the lists kubectl and controllers patch most (from the Kubernetes Go types).
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "conditions": "type",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
}
# Lists of scalars whose patchStrategy is merge (a union, not a replacement).
_MERGED_SCALAR_LISTS = {"finalizers"}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: dict[str, Any], patch: Any) -> dict[str, Any]:
    if not isinstance(patch, list):
        raise BadRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    try:
        ops = jsonpatch.JsonPatch(patch)
    except (jsonpatch.InvalidJsonPatch, TypeError) as exc:
        raise BadRequest(str(exc)) from exc
    try:
        result = ops.apply(target)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError, IndexError) as exc:
        # The real server answers a failed `test` or an unappliable op with 422 Invalid.
        raise Invalid(str(exc) or type(exc).__name__) from exc
    if not isinstance(result, dict):
        raise Invalid("the patch does not produce an object")
    return result


def _ports_key(items: list[Any]) -> str:
    sample = next((i for i in items if isinstance(i, dict)), {})
    return "containerPort" if "containerPort" in sample else "port"


def _merge_list(field: str, target: list[Any], patch: list[Any]) -> list[Any]:
    if field in _MERGED_SCALAR_LISTS:
        return [*target, *[v for v in patch if v not in target]]
    key = _MERGE_KEYS.get(field) or (_ports_key(target + patch) if field == "ports" else None)
    if key is None:
        return [strategic_merge(None, item) for item in patch if not _is_directive(item)]
    result = copy.deepcopy(target)
    for item in patch:
        if not isinstance(item, dict):
            continue
        index = next((i for i, old in enumerate(result) if old.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(strategic_merge(None, item))
        else:
            result[index] = strategic_merge(result[index], item)
    return result


def _is_directive(item: Any) -> bool:
    return isinstance(item, dict) and "$patch" in item


def strategic_merge(target: Any, patch: Any) -> Any:
    """A subset of strategic merge patch: keyed list merges, `$patch: delete|replace`, directives."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue  # ordering hints and retain lists only refine what the merge already does
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [v for v in result.get(field, []) if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(key, result[key], value)
        elif isinstance(value, list):
            result[key] = _merge_list(key, [], value)
        else:
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
    return result


def apply_patch(content_type: str, target: dict[str, Any], patch: Any, *, builtin: bool) -> dict[str, Any]:
    media = content_type.split(";", maxsplit=1)[0].strip()
    if media == MERGE:
        result = merge_patch(target, patch)
    elif media == JSON:
        return json_patch(target, patch)
    elif media == STRATEGIC and builtin:
        result = strategic_merge(target, patch)
    elif media == STRATEGIC:
        # Custom resources have no Go struct tags to strategise on: the real server refuses too.
        raise UnsupportedMediaType(
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{JSON}, {MERGE}, {APPLY}"
        )
    else:
        raise UnsupportedMediaType(f"the media type {media!r} is not supported for PATCH by this server")
    if not isinstance(result, dict):
        raise BadRequest("the patch does not produce an object")
    return result


def merge_key(field: str, items: Any) -> str | None:
    """The patchMergeKey of a list field of a built-in kind, None for atomic lists."""
    if not isinstance(items, list):
        return None
    return _MERGE_KEYS.get(field) or (_ports_key(items) if field == "ports" else None)


def is_apply(content_type: str) -> bool:
    return content_type.split(";", maxsplit=1)[0].strip() == APPLY
