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
    changed, removed = fieldsets.changes(old or {}, new, builtin)
    if writer.operation == "Apply":
        owned = set(writer.applied)
    else:
        owned = {path for path in changed if in_scope(path, writer.subresource, has_status)}
    previous = (old or {}).get("metadata", {}).get("managedFields") or []
    if writer.operation == "Update" and _unchanged(previous, writer, owned, removed):
        if previous:  # the common case, done cheaply: nothing changes hands
            new.setdefault("metadata", {})["managedFields"] = previous
        else:
            new.setdefault("metadata", {}).pop("managedFields", None)
        return
    entries: list[dict[str, Any]] = []
    mine: set[Path] = set()
    for entry in previous:
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


def _unchanged(entries: list[dict[str, Any]], writer: Writer, owned: set[Path], removed: set[Path]) -> bool:
    """True when this Update leaves every entry as it is: it already owns all it changed."""
    if not entries:
        return not owned
    mine = [e for e in entries if _same(e, writer)]
    if owned and not (mine and all(fieldsets.contains(mine[0].get("fieldsV1") or {}, p) for p in owned)):
        return False
    others = [e for e in entries if not _same(e, writer)]
    touched = owned | removed
    return not any(fieldsets.contains(e.get("fieldsV1") or {}, p) for e in others for p in touched) and not (
        removed and mine and any(fieldsets.contains(mine[0].get("fieldsV1") or {}, p) for p in removed)
    )
