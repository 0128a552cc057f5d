"""The double's TablesDB objects: columns, indexes and tables, with Appwrite's checks and JSON shapes,
plus the small HTTP helpers the TablesDB and Storage handlers share."""

from __future__ import annotations

import datetime
import math
import re
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .errors import AppwriteError, invalid
from .identity import Identity

ID_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,35}$")
PERMISSION_PATTERN = re.compile(r'^(read|write|create|update|delete)\("[^"]+"\)$')
STRING_TYPES = {"string", "varchar", "text", "mediumtext", "longtext", "email", "url", "ip", "enum"}
IDENTITY = web.RequestKey("identity", Identity)  # who is calling, set by the server
DROP_CHUNK = web.RequestKey("drop_chunk", bool)  # fault injection: accept an upload chunk, keep nothing
TEXT_LIMITS = {"text": 16_383, "mediumtext": 4_194_303, "longtext": 1_073_741_823}


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def check_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise invalid(
            f"Invalid `{what}` param: Parameter must contain at most 36 chars. Valid chars are a-z, A-Z, "
            "0-9, period, hyphen, and underscore. Can't start with a special char"
        )
    return value


def check_permissions(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(p, str) and PERMISSION_PATTERN.match(p) for p in value
    ):
        raise invalid("Invalid `permissions` param: Permissions must be an array of permission strings")
    return list(value)


def valid_text(value: Any) -> Any:
    """Refuse what Appwrite's JSON decoder refuses: a string holding a lone UTF-16 surrogate
    (PHP's json_decode fails on an unpaired `\\ud800` escape). Returns `value`."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise invalid("Invalid JSON: a string holds a single unpaired UTF-16 surrogate") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            valid_text(key)
            valid_text(item)
    elif isinstance(value, list):
        for item in value:
            valid_text(item)
    return value


async def params_of(request: web.Request) -> dict[str, Any]:
    """JSON body for writes; for GET the SDK flattens lists into `queries[0]`, `queries[1]`..."""
    if request.method != "GET":
        if not request.can_read_body:
            return {}
        try:
            body = valid_text(await request.json())
        except ValueError:
            raise invalid("Invalid JSON body") from None
        return body if isinstance(body, dict) else {}
    params: dict[str, Any] = {}
    for key, value in request.query.items():
        match = re.match(r"^(\w+)\[(\d+)\]$", key)
        if match:
            params.setdefault(match.group(1), []).append(value)
        else:
            params[key] = value
    return params


class Processing:
    """Something that turns from `processing` to `available` at a time."""

    def __init__(self, delay: float) -> None:
        self.available_at = time.monotonic() + delay

    @property
    def status(self) -> str:
        return "available" if time.monotonic() >= self.available_at else "processing"


class Column(Processing):
    def __init__(self, type_: str, params: Mapping[str, Any], delay: float) -> None:
        super().__init__(delay)
        self.type = type_
        self.key = check_id(params.get("key"), "key")
        self.required = bool(params.get("required", False))
        self.size = params.get("size")
        self.elements = list(params.get("elements") or [])
        self.min = params.get("min")
        self.max = params.get("max")
        self.default = params.get("default")
        self.created = now_iso()
        if type_ in ("string", "varchar") and not isinstance(self.size, int):
            raise invalid("Invalid `size` param: Value must be a valid integer")
        if type_ == "enum" and not self.elements:
            raise invalid("Invalid `elements` param: Value must be a valid array")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "type": "string" if self.type == "enum" else self.type,
            "status": self.status,
            "error": "",
            "required": self.required,
            "array": False,
            "description": "",
            "$createdAt": self.created,
            "$updatedAt": self.created,
            "default": self.default,
        }
        if self.type in ("string", "varchar"):
            out["size"] = self.size
        if self.type == "enum":
            out |= {"elements": self.elements, "format": "enum"}
        if self.type == "datetime":
            out["format"] = "datetime"
        if self.type in ("integer", "bigint", "float"):
            out |= {"min": self.min, "max": self.max}
        return out

    def check(self, value: Any) -> None:
        """Raise 400 like Appwrite's structure validator when `value` does not fit."""
        if value is None:
            if self.required:
                raise structure(f'Missing required attribute "{self.key}"')
            return
        problem = self.problem(value)
        if problem:
            raise structure(f'Attribute "{self.key}" has invalid format. {problem}')

    def problem(self, value: Any) -> str | None:
        if self.type in STRING_TYPES:
            return self.string_problem(value)
        if self.type in ("integer", "bigint", "float"):
            return self.number_problem(value)
        if self.type == "boolean" and not isinstance(value, bool):
            return "Value must be a valid boolean"
        if self.type == "datetime":
            try:
                datetime.datetime.fromisoformat(str(value))
            except ValueError:
                return "Value must be valid date"
        return None

    def string_problem(self, value: Any) -> str | None:
        limit = self.size if self.type in ("string", "varchar") else TEXT_LIMITS.get(self.type)
        if not isinstance(value, str):
            return "Value must be a valid string"
        if isinstance(limit, int) and len(value) > limit:
            return f"Value must be no longer than {limit}"
        if self.type == "enum" and value not in self.elements:
            return f"Value must be one of ({self.elements})"
        return None

    def number_problem(self, value: Any) -> str | None:
        kinds = (int,) if self.type != "float" else (int, float)
        if not isinstance(value, kinds) or isinstance(value, bool) or math.isnan(value):
            return f"Value must be a valid {self.type}"
        too_low = self.min is not None and value < self.min
        return "Value out of range" if too_low or (self.max is not None and value > self.max) else None


def structure(message: str) -> AppwriteError:
    return AppwriteError(400, "row_invalid_structure", f"Invalid document structure: {message}")


class Index(Processing):
    def __init__(self, params: Mapping[str, Any], table: Table, delay: float) -> None:
        super().__init__(delay)
        self.key = check_id(params.get("key"), "key")
        self.type = str(params.get("type", "key"))
        self.columns = list(params.get("columns") or [])
        for name in self.columns:
            column = table.columns.get(name)
            if column is None or column.status != "available":
                raise AppwriteError(400, "column_not_available", f'Column "{name}" is not available.')
        self.orders = list(params.get("orders") or [])
        self.lengths = list(params.get("lengths") or [])
        self.created = now_iso()

    def to_json(self) -> dict[str, Any]:
        return {
            "$id": self.key,
            "key": self.key,
            "type": self.type,
            "status": self.status,
            "error": "",
            "description": "",
            "columns": self.columns,
            "lengths": self.lengths,
            "orders": self.orders,
            "$createdAt": self.created,
            "$updatedAt": self.created,
        }


class Table:
    def __init__(self, database_id: str, params: Mapping[str, Any]) -> None:
        self.id = check_id(params.get("tableId"), "tableId")
        self.database_id = database_id
        self.name = str(params.get("name", self.id))
        self.permissions = check_permissions(params.get("permissions"))
        self.row_security = bool(params.get("rowSecurity", False))
        self.enabled = bool(params.get("enabled", True))
        self.columns: dict[str, Column] = {}
        self.indexes: dict[str, Index] = {}
        self.rows: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}  # every state a row had, for tests
        self.sequence = 0
        self.created = self.updated = now_iso()

    def to_json(self) -> dict[str, Any]:
        return {
            "$id": self.id,
            "$createdAt": self.created,
            "$updatedAt": self.updated,
            "$permissions": self.permissions,
            "databaseId": self.database_id,
            "name": self.name,
            "description": "",
            "enabled": self.enabled,
            "rowSecurity": self.row_security,
            "columns": [c.to_json() for c in self.columns.values()],
            "indexes": [i.to_json() for i in self.indexes.values()],
            "bytesMax": 65535,
            "bytesUsed": 0,
        }

    def check_row(self, data: Mapping[str, Any], *, partial: bool) -> None:
        for key in data:
            column = self.columns.get(key)
            if column is None or column.status != "available":
                raise structure(f'Unknown attribute: "{key}"')
        for column in self.columns.values():
            if column.key in data:
                column.check(data[column.key])
            elif column.required and not partial:
                raise structure(f'Missing required attribute "{column.key}"')

    def row_json_of(self, row_id: str) -> dict[str, Any] | None:
        row = self.rows.get(row_id)
        return self.row_json(row) if row is not None else None

    def row_json(self, row: Mapping[str, Any]) -> dict[str, Any]:
        values = {c.key: row["data"].get(c.key) for c in self.columns.values() if c.status == "available"}
        return values | {
            "$id": row["$id"],
            "$sequence": str(row["$sequence"]),
            "$tableId": self.id,
            "$databaseId": self.database_id,
            "$createdAt": row["$createdAt"],
            "$updatedAt": row["$updatedAt"],
            "$permissions": row["$permissions"],
        }


def no_content() -> web.Response:
    # The SDK reads Content-Type from every answer, 204s included (KeyError without one).
    return web.Response(status=204, headers={"Content-Type": "text/plain; charset=UTF-8"})


def ok(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)
