"""metadata.managedFields: who set which field, kept on every write as the real server keeps it.

Each write runs under a `Writer` (set per request by the server): an `Update` (create, PUT,
PATCH) takes ownership of the fields it changed; an `Apply` owns exactly the fields of its
applied configuration (and fields taken over with `force`). Entries are per manager, operation
and subresource (`status` writes are recorded apart), with FieldsV1 sets and a time.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime
from typing import Any

from scenefarm_devkit.apiserver import fieldsets
from scenefarm_devkit.apiserver.fieldsets import Path


@dataclasses.dataclass(frozen=True)
class Writer:
    manager: str
    operation: str = "Update"  # or "Apply"
    subresource: str = ""
    applied: frozenset[Path] = frozenset()  # Apply: the fields of the applied configuration
    taken: frozenset[Path] = frozenset()  # Apply with force: fields taken from other managers


WRITER: contextvars.ContextVar[Writer | None] = contextvars.ContextVar("writer", default=None)


def manager_from_user_agent(user_agent: str) -> str:
    """The real server's default manager: the User-Agent up to its first "/" (at most 128)."""
    return user_agent.split("/", 1)[0][:128] or "unknown"


def in_scope(path: Path, subresource: str, has_status: bool) -> bool:
    if subresource == "status":
        return path[:1] == ("f:status",)
    return not (has_status and path[:1] == ("f:status",))


def entry_paths(entry: dict[str, Any]) -> set[Path]:
    fields = entry.get("fieldsV1")
    return fieldsets.from_fields_v1(fields) if isinstance(fields, dict) else set()


def _same(entry: dict[str, Any], writer: Writer) -> bool:
    return (entry.get("manager"), entry.get("operation"), entry.get("subresource", "")) == (
        writer.manager,
        writer.operation,
        writer.subresource,
    )


def track(
    old: dict[str, Any] | None, new: dict[str, Any], *, builtin: bool, has_status: bool, api_version: str
) -> None:
    """Set `new`'s managedFields from `old`'s and the current writer's changes."""
    writer = WRITER.get()
    if writer is None:
        return
    old_leaves = dict(fieldsets.leaves(old, builtin)) if old is not None else {}
    new_leaves = dict(fieldsets.leaves(new, builtin))
    removed = set(old_leaves) - set(new_leaves)
    if writer.operation == "Apply":
        owned = set(writer.applied)
    else:
        owned = {
            path
            for path, value in new_leaves.items()
            if in_scope(path, writer.subresource, has_status)
            and (path not in old_leaves or old_leaves[path] != value)
        }
    entries: list[dict[str, Any]] = []
    mine: set[Path] = set()
    for entry in (old or {}).get("metadata", {}).get("managedFields") or []:
        paths = entry_paths(entry) - removed
        if _same(entry, writer):
            mine = paths if writer.operation == "Update" else set()
            continue
        paths -= owned if writer.operation == "Update" else set(writer.taken)
        if paths:
            entries.append(entry | {"fieldsV1": fieldsets.to_fields_v1(paths)})
    mine |= owned
    if mine:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        entry = {
            "manager": writer.manager,
            "operation": writer.operation,
            "apiVersion": api_version,
            "time": stamp,
            "fieldsType": "FieldsV1",
            "fieldsV1": fieldsets.to_fields_v1(mine),
        }
        entries.append(entry | ({"subresource": writer.subresource} if writer.subresource else {}))
    meta = new.setdefault("metadata", {})
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)
