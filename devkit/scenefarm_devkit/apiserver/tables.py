"""meta.k8s.io/v1 Table responses for `kubectl get` (printer columns of CRDs, defaults for built-ins)."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from scenefarm_devkit.apiserver import printers
from scenefarm_devkit.apiserver.resources import ResourceType

_NAME = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "priority": 0,
    "description": "Name must be unique within a namespace.",
}
_AGE_PATH = ".metadata.creationTimestamp"


def wants_table(accept: str) -> bool:
    return "as=Table" in accept and "g=meta.k8s.io" in accept


def human_age(timestamp: str, now: datetime.datetime | None = None) -> str:
    """Kubernetes' HumanDuration: 45s, 3m20s, 5h, 2d3h, ..."""
    try:  # RFC 3339 with "Z" or an offset, with or without fractions (MicroTime, kopf's events)
        then = datetime.datetime.fromisoformat(timestamp)
    except (TypeError, ValueError):
        return "<unknown>"
    if then.tzinfo is None:
        then = then.replace(tzinfo=datetime.UTC)
    seconds = max(0, int(((now or datetime.datetime.now(datetime.UTC)) - then).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h{minutes % 60}m" if hours < 8 and minutes % 60 else f"{hours}h"
    days = hours // 24
    return f"{days}d{hours % 24}h" if days < 8 and hours % 24 else f"{days}d"


def json_path(obj: Any, path: str) -> Any:
    """The subset of JSONPath printer columns use: `.a.b`, `.a[0].b`, `.a['x.y']`."""
    node = obj
    for dotted, index, quoted in re.findall(r"\.([^.\[\]]+)|\[(\d+)\]|\[['\"]([^'\"]+)['\"]\]", path):
        if index:
            if not isinstance(node, list) or int(index) >= len(node):
                return None
            node = node[int(index)]
        else:
            key = dotted or quoted
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
    return node


def _cell(value: Any, column_type: str) -> Any:
    if value is None:
        return "<none>" if column_type == "string" else None
    if column_type == "date" and isinstance(value, str):
        return human_age(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def columns(rt: ResourceType) -> list[tuple[dict[str, Any], Any]]:
    """(column definition, JSONPath or function) pairs after the Name column."""
    if rt.printer_columns:
        result = []
        for col in rt.printer_columns:
            definition = {
                "name": col["name"],
                "type": col.get("type", "string"),
                "format": col.get("format", ""),
                "description": col.get("description", ""),
                "priority": col.get("priority", 0),
            }
            result.append((definition, col["jsonPath"]))
        if not any(path == _AGE_PATH for _, path in result):
            result.append(({"name": "Age", "type": "date"}, _AGE_PATH))
        return result
    if _is_event(rt):
        return list(printers.EVENT_COLUMNS)
    return [
        *printers.BUILTIN_COLUMNS.get((rt.group, rt.plural), []),
        ({"name": "Age", "type": "date"}, _AGE_PATH),
    ]


def _is_event(rt: ResourceType) -> bool:
    """Events print no leading Name column (it is a wide-only column at the end)."""
    return rt.builtin and rt.plural == "events"


def _definition(col: dict[str, Any]) -> dict[str, Any]:
    return {"format": "", "description": "", "priority": 0} | col


def row(rt: ResourceType, obj: dict[str, Any], include: str) -> dict[str, Any]:
    cells: list[Any] = [] if _is_event(rt) else [obj["metadata"]["name"]]
    for definition, source in columns(rt):
        value = source(obj) if callable(source) else json_path(obj, source)
        cells.append(_cell(value, definition.get("type", "string")))
    result: dict[str, Any] = {"cells": cells}
    if include == "Object":
        result["object"] = obj
    elif include != "None":
        result["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj["metadata"],
        }
    return result


def table(
    rt: ResourceType,
    objs: list[dict[str, Any]],
    resource_version: str,
    include: str,
    *,
    with_columns: bool = True,
    list_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version} | (list_meta or {}),
        "rows": [row(rt, obj, include) for obj in objs],
    }
    if with_columns:
        lead = [] if _is_event(rt) else [_NAME]
        result["columnDefinitions"] = lead + [_definition(d) for d, _ in columns(rt)]
    return result
