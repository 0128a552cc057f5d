"""Field sets as server-side apply sees objects: leaf paths, FieldsV1, lookups, merges, removals.

A path is a tuple of FieldsV1 keys: `f:<field>` for a map key, `k:<json>` for an element of an
associative list (identified by its merge key, as in `k:{"name":"main"}`). Lists without a merge
key are atomic: the whole list is one leaf. Merge keys are the Go types' `patchMergeKey`s for
built-in kinds (the same table strategic merge uses); custom resources' lists are atomic, as
for a CRD without `x-kubernetes-list-type: map`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

from scenefarm_devkit.apiserver.patching import merge_key

Path = tuple[str, ...]
_IGNORED_META = {
    "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
    "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink",
}  # fmt: skip


def _key_of(item: dict[str, Any], key: str) -> str:
    return "k:" + json.dumps({key: item.get(key)}, separators=(",", ":"))


def leaves(obj: Any, builtin: bool, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """(path, value) of every leaf: scalars, atomic lists, empty maps."""
    if isinstance(obj, dict) and obj:
        for name, value in obj.items():
            if not path and name in ("apiVersion", "kind"):
                continue
            if path == ("f:metadata",) and name in _IGNORED_META:
                continue
            yield from leaves(value, builtin, (*path, f"f:{name}"))
        return
    field = path[-1][2:] if path and path[-1].startswith("f:") else ""
    key = merge_key(field, obj) if builtin and isinstance(obj, list) else None
    if key and obj and all(isinstance(item, dict) and key in item for item in obj):
        for item in obj:
            yield from leaves(item, builtin, (*path, _key_of(item, key)))
        return
    if path:
        yield path, obj


def changes(old: Any, new: Any, builtin: bool, path: Path = ()) -> tuple[set[Path], set[Path]]:
    """(leaves of `new` that are new or changed, leaves of `old` that are gone), skipping equal subtrees."""
    if old == new:
        return set(), set()
    if isinstance(old, dict) and isinstance(new, dict) and old and new:
        changed: set[Path] = set()
        gone: set[Path] = set()
        for name in old.keys() | new.keys():
            if name in new and name in old:
                sub_changed, sub_gone = _changes_at(old[name], new[name], builtin, path, name)
                changed |= sub_changed
                gone |= sub_gone
            elif name in new:
                changed |= {p for p, _ in _leaves_at(new[name], builtin, path, name)}
            else:
                gone |= {p for p, _ in _leaves_at(old[name], builtin, path, name)}
        return changed, gone
    new_leaves = dict(leaves(new, builtin, path))
    old_leaves = dict(leaves(old, builtin, path))
    changed = {p for p, v in new_leaves.items() if p not in old_leaves or old_leaves[p] != v}
    return changed, set(old_leaves) - set(new_leaves)


def _skipped(path: Path, name: str) -> bool:
    return (not path and name in ("apiVersion", "kind")) or (
        path == ("f:metadata",) and name in _IGNORED_META
    )


def _changes_at(old: Any, new: Any, builtin: bool, path: Path, name: str) -> tuple[set[Path], set[Path]]:
    return (set(), set()) if _skipped(path, name) else changes(old, new, builtin, (*path, f"f:{name}"))


def _leaves_at(value: Any, builtin: bool, path: Path, name: str) -> Iterator[tuple[Path, Any]]:
    return iter(()) if _skipped(path, name) else leaves(value, builtin, (*path, f"f:{name}"))


def contains(fields: dict[str, Any], path: Path) -> bool:
    """Whether a FieldsV1 set holds the leaf `path` (without parsing the whole set)."""
    node: Any = fields
    for step in path:
        if not isinstance(node, dict) or step not in node:
            return False
        node = node[step]
    return True


def lookup(obj: Any, path: Path) -> tuple[bool, Any]:
    """(found, value) at `path`."""
    node = obj
    for step in path:
        if step.startswith("f:") and isinstance(node, dict) and step[2:] in node:
            node = node[step[2:]]
        elif step.startswith("k:") and isinstance(node, list):
            wanted = json.loads(step[2:])
            match = [i for i in node if isinstance(i, dict) and all(i.get(k) == v for k, v in wanted.items())]
            if not match:
                return False, None
            node = match[0]
        else:
            return False, None
    return True, node


def remove(obj: dict[str, Any], path: Path) -> None:
    """Delete the field or list element at `path` (and maps left empty by it)."""
    found, parent = lookup(obj, path[:-1])
    if not found:
        return
    step = path[-1]
    if step.startswith("f:") and isinstance(parent, dict):
        parent.pop(step[2:], None)
    elif step.startswith("k:") and isinstance(parent, list):
        wanted = json.loads(step[2:])
        parent[:] = [
            i for i in parent if not (isinstance(i, dict) and all(i.get(k) == v for k, v in wanted.items()))
        ]


def merge(live: Any, applied: Any, builtin: bool, field: str = "") -> Any:
    """The applied configuration laid over the live object (maps merge, keyed lists merge by key)."""
    if isinstance(live, dict) and isinstance(applied, dict):
        result = copy.deepcopy(live)
        for name, value in applied.items():
            result[name] = (
                merge(live.get(name), value, builtin, name) if name in live else copy.deepcopy(value)
            )
        return result
    key = merge_key(field, applied) if builtin and isinstance(applied, list) else None
    if key and isinstance(live, list) and all(isinstance(i, dict) and key in i for i in [*live, *applied]):
        result_list = copy.deepcopy(live)
        for item in applied:
            index = next((n for n, old in enumerate(result_list) if old.get(key) == item.get(key)), None)
            if index is None:
                result_list.append(copy.deepcopy(item))
            else:
                result_list[index] = merge(result_list[index], item, builtin)
        return result_list
    return copy.deepcopy(applied)


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for step in path:
            node = node.setdefault(step, {})
            if step.startswith("k:"):
                node.setdefault(".", {})
    return root


def from_fields_v1(fields: dict[str, Any], path: Path = ()) -> set[Path]:
    result: set[Path] = set()
    for step, child in fields.items():
        if step == ".":
            continue
        if isinstance(child, dict) and any(k != "." for k in child):
            result |= from_fields_v1(child, (*path, step))
        else:
            result.add((*path, step))
    return result


def render(path: Path) -> str:
    """`.spec.containers[name="main"].image`, as conflict messages print a path."""
    text = ""
    for step in path:
        if step.startswith("f:"):
            text += "." + step[2:]
        else:
            text += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(step[2:]).items()) + "]"
    return text
