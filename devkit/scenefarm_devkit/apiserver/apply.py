"""Server-side apply (PATCH `application/apply-patch+yaml`): what `kubectl apply --server-side`,
helm 4, Flux and Argo CD send.

The applied configuration is laid over the live object (or creates it); the manager then owns
exactly the applied fields. A field another manager owns with a different value is a conflict
(409, the real server's "Apply failed with N conflict(s): conflict with ..." message and
FieldManagerConflict causes) unless `force=true`, which takes the field over. Fields the
manager applied before and now leaves out are removed, unless someone else owns them too.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import yaml

from scenefarm_devkit.apiserver import errors, fieldsets
from scenefarm_devkit.apiserver.fieldsets import Path
from scenefarm_devkit.apiserver.managedfields import WRITER, Writer, entry_paths, in_scope, track
from scenefarm_devkit.apiserver.resources import ResourceType

if TYPE_CHECKING:
    from scenefarm_devkit.apiserver.operations import Api

Conflict = tuple[Path, dict[str, Any]]


def parse(raw: bytes) -> dict[str, Any]:
    try:
        body = yaml.safe_load(raw.decode()) if raw else None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise errors.BadRequest(f"error decoding YAML: {exc}") from exc
    if not isinstance(body, dict):
        raise errors.BadRequest("the body of an apply request must be an object")
    return body


def _manager_name(entry: dict[str, Any]) -> str:
    if entry.get("operation") == "Update":
        return f'"{entry.get("manager")}" using {entry.get("apiVersion")}'
    return f'"{entry.get("manager")}"'


def conflict_error(conflicts: list[Conflict]) -> errors.ApiError:
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {_manager_name(e)}",
            "field": fieldsets.render(p),
        }
        for p, e in conflicts
    ]
    if len(conflicts) == 1:
        path, entry = conflicts[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {_manager_name(entry)}: {fieldsets.render(path)}"
        )
    else:
        lines: dict[str, list[str]] = {}
        for path, entry in conflicts:
            lines.setdefault(_manager_name(entry), []).append(f"- {fieldsets.render(path)}")
        parts = [f"conflicts with {name}:\n" + "\n".join(paths) for name, paths in sorted(lines.items())]
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(parts)
    error = errors.Conflict(message, details={"causes": causes})
    return error


def _conflicts(
    live: dict[str, Any], applied: dict[str, Any], paths: set[Path], manager: str
) -> list[Conflict]:
    found: list[Conflict] = []
    for entry in live["metadata"].get("managedFields") or []:
        if entry.get("manager") == manager:
            continue
        for path in sorted(paths & entry_paths(entry)):
            if fieldsets.lookup(live, path) != fieldsets.lookup(applied, path):
                found.append((path, entry))
    return found


def _check_identity(rt: ResourceType, applied: dict[str, Any], name: str) -> None:
    if applied.get("apiVersion") != rt.api_version or applied.get("kind") != rt.kind:
        raise errors.BadRequest(
            f"apply body is {applied.get('kind')} ({applied.get('apiVersion')}), "
            f"the URL addresses {rt.kind} ({rt.api_version})"
        )
    meta = applied.get("metadata")
    if not isinstance(meta, dict) or meta.get("name") not in (None, name):
        raise errors.BadRequest("the name of the object does not match the name on the URL")


def server_side_apply(
    api: Api,
    rt: ResourceType,
    namespace: str,
    name: str,
    raw: bytes,
    *,
    manager: str,
    force: bool,
    subresource: str,
    strict: bool,
) -> tuple[dict[str, Any], list[str], int]:
    """(object, warnings, HTTP status): 201 when the apply created the object."""
    if not manager:
        raise patch_options_invalid(
            "fieldManager", "FieldValueRequired", "Required value: is required for apply patch"
        )
    applied = parse(raw)
    _check_identity(rt, applied, name)
    applied.setdefault("metadata", {})["name"] = name
    paths = {p for p, _ in fieldsets.leaves(applied, rt.builtin) if in_scope(p, subresource, rt.has_status)}
    live = api.store.get(api.key(rt, namespace, name))
    if live is None:
        if subresource:
            raise errors.not_found(rt.plural, rt.group, name)
        WRITER.set(Writer(manager, "Apply", applied=frozenset(paths)))
        obj, warnings = api.create(rt, namespace or None, json.loads(json.dumps(applied)), strict=strict)
        return obj, warnings, 201
    conflicts = _conflicts(live, applied, paths, manager)
    if conflicts and not force:
        remaining = [c for c in conflicts if c[0] not in _last_applied_fields(live, manager, rt.builtin)]
        if remaining:
            raise conflict_error(remaining)
    identity = (manager, "Apply", subresource)
    entries = live["metadata"].get("managedFields") or []
    mine = next(
        (
            entry_paths(e)
            for e in entries
            if (e.get("manager"), e.get("operation"), e.get("subresource", "")) == identity
        ),
        set(),
    )
    others = {
        p
        for e in live["metadata"].get("managedFields") or []
        if e.get("manager") != manager
        for p in entry_paths(e)
    }
    merged = fieldsets.merge(api.present(rt, live), applied, rt.builtin)
    for path in sorted(mine - paths - others, key=len, reverse=True):
        fieldsets.remove(merged, path)
    merged["metadata"]["resourceVersion"] = (
        applied["metadata"].get("resourceVersion") or live["metadata"]["resourceVersion"]
    )
    taken = frozenset(p for p, _ in conflicts)
    WRITER.set(Writer(manager, "Apply", subresource, frozenset(paths), taken))
    # Ownership changes alone are a write (shared ownership of an unchanged value, say); a
    # re-apply that changes nothing, not even ownership, stays a no-op.
    track(live, merged, builtin=rt.builtin, has_status=rt.has_status, api_version=rt.api_version)
    before = live["metadata"].get("managedFields")
    if before and _timeless(merged["metadata"].get("managedFields")) == _timeless(before):
        merged["metadata"]["managedFields"] = before
    obj, warnings = api.replace(rt, namespace, name, merged, subresource=subresource or None, strict=strict)
    return obj, warnings, 200


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _last_applied_fields(live: dict[str, Any], manager: str, builtin: bool) -> set[Path]:
    """lastappliedmanager.go: `kubectl apply --server-side` (manager "kubectl") after a client-side
    apply may take over every field of the last-applied-configuration annotation (forced)."""
    if manager != "kubectl":
        return set()
    text = (live["metadata"].get("annotations") or {}).get(LAST_APPLIED)
    try:
        last = json.loads(text) if text else None
    except ValueError:
        return set()
    return {p for p, _ in fieldsets.leaves(last, builtin)} if isinstance(last, dict) else set()


def patch_options_invalid(field: str, reason: str, message: str) -> errors.ApiError:
    """ValidatePatchOptions: 422 for PatchOptions.meta.k8s.io, before the object is looked up."""
    cause = {"reason": reason, "message": message, "field": field}
    return errors.Invalid(
        f'PatchOptions.meta.k8s.io "" is invalid: {field}: {message}',
        details={"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [cause]},
    )


def _timeless(entries: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "time"} for e in entries or []]
