"""The TablesDB part of the double: databases, tables, columns, indexes and rows in memory.

It answers in Appwrite's JSON shapes and checks what a real server checks where our code could
get it wrong: ids, unknown or not-yet-available columns, column types, sizes, enum elements and
integer ranges. Columns and indexes start `processing` and become `available` after a delay.
"""

from __future__ import annotations

import datetime
import json
import math
import re
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .errors import AppwriteError, conflict, invalid, not_found

ID_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,35}$")
PERMISSION_PATTERN = re.compile(r'^(read|write|create|update|delete)\("[^"]+"\)$')
STRING_TYPES = {"string", "varchar", "text", "mediumtext", "longtext", "email", "url", "ip", "enum"}
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


async def params_of(request: web.Request) -> dict[str, Any]:
    """JSON body for writes; for GET the SDK flattens lists into `queries[0]`, `queries[1]`..."""
    if request.method != "GET":
        if not request.can_read_body:
            return {}
        body = await request.json()
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


class TablesDBState:
    """All databases of the double, with the HTTP handlers that serve them."""

    def __init__(self, column_delay: float = 0.2) -> None:
        self.column_delay = column_delay
        self.databases: dict[str, dict[str, Any]] = {}
        self.tables: dict[tuple[str, str], Table] = {}

    def routes(self, prefix: str = "/v1/tablesdb") -> list[web.RouteDef]:
        t = prefix + "/{db}/tables/{table}"
        return [
            web.get(prefix, self.list_databases),
            web.post(prefix, self.create_database),
            web.get(prefix + "/{db}", self.get_database),
            web.delete(prefix + "/{db}", self.delete_database),
            web.get(prefix + "/{db}/tables", self.list_tables),
            web.post(prefix + "/{db}/tables", self.create_table),
            web.get(t, self.get_table),
            web.put(t, self.update_table),
            web.delete(t, self.delete_table),
            web.get(t + "/columns", self.list_columns),
            web.post(t + "/columns/{type}", self.create_column),
            web.get(t + "/columns/{key}", self.get_column),
            web.delete(t + "/columns/{key}", self.delete_column),
            web.get(t + "/indexes", self.list_indexes),
            web.post(t + "/indexes", self.create_index),
            web.get(t + "/indexes/{key}", self.get_index),
            web.delete(t + "/indexes/{key}", self.delete_index),
            web.get(t + "/rows", self.list_rows),
            web.post(t + "/rows", self.create_row),
            web.get(t + "/rows/{row}", self.get_row),
            web.put(t + "/rows/{row}", self.upsert_row),
            web.patch(t + "/rows/{row}", self.update_row),
            web.delete(t + "/rows/{row}", self.delete_row),
        ]

    # databases

    def database(self, request: web.Request) -> dict[str, Any]:
        database = self.databases.get(request.match_info["db"])
        if database is None:
            raise not_found("database_not_found", "Database")
        return database

    async def list_databases(self, request: web.Request) -> web.Response:
        return ok({"total": len(self.databases), "databases": list(self.databases.values())})

    async def create_database(self, request: web.Request) -> web.Response:
        params = await params_of(request)
        database_id = check_id(params.get("databaseId"), "databaseId")
        if database_id in self.databases:
            raise conflict("database_already_exists", "Database")
        stamp = now_iso()
        self.databases[database_id] = {
            "$id": database_id,
            "name": str(params.get("name", database_id)),
            "description": "",
            "$createdAt": stamp,
            "$updatedAt": stamp,
            "enabled": bool(params.get("enabled", True)),
            "type": "tablesdb",
        }
        return ok(self.databases[database_id], 201)

    async def get_database(self, request: web.Request) -> web.Response:
        return ok(self.database(request))

    async def delete_database(self, request: web.Request) -> web.Response:
        database_id = self.database(request)["$id"]
        del self.databases[database_id]
        self.tables = {k: v for k, v in self.tables.items() if k[0] != database_id}
        return no_content()

    # tables

    def table(self, request: web.Request) -> Table:
        database_id = self.database(request)["$id"]
        table = self.tables.get((database_id, request.match_info["table"]))
        if table is None:
            raise not_found("table_not_found", "Table")
        return table

    async def list_tables(self, request: web.Request) -> web.Response:
        database_id = self.database(request)["$id"]
        tables = [t.to_json() for (db, _), t in self.tables.items() if db == database_id]
        return ok({"total": len(tables), "tables": tables})

    async def create_table(self, request: web.Request) -> web.Response:
        database_id = self.database(request)["$id"]
        table = Table(database_id, await params_of(request))
        if (database_id, table.id) in self.tables:
            raise conflict("table_already_exists", "Table")
        self.tables[(database_id, table.id)] = table
        return ok(table.to_json(), 201)

    async def get_table(self, request: web.Request) -> web.Response:
        return ok(self.table(request).to_json())

    async def update_table(self, request: web.Request) -> web.Response:
        table = self.table(request)
        params = await params_of(request)
        if "name" in params:
            table.name = str(params["name"])
        if "permissions" in params:
            table.permissions = check_permissions(params["permissions"])
        if "rowSecurity" in params:
            table.row_security = bool(params["rowSecurity"])
        if "enabled" in params:
            table.enabled = bool(params["enabled"])
        table.updated = now_iso()
        return ok(table.to_json())

    async def delete_table(self, request: web.Request) -> web.Response:
        table = self.table(request)
        del self.tables[(table.database_id, table.id)]
        return no_content()

    # columns and indexes

    async def list_columns(self, request: web.Request) -> web.Response:
        columns = [c.to_json() for c in self.table(request).columns.values()]
        return ok({"total": len(columns), "columns": columns})

    async def create_column(self, request: web.Request) -> web.Response:
        table = self.table(request)
        column = Column(request.match_info["type"], await params_of(request), self.column_delay)
        if column.key in table.columns:
            raise conflict("column_already_exists", "Column")
        table.columns[column.key] = column
        return ok(column.to_json(), 202)

    async def get_column(self, request: web.Request) -> web.Response:
        column = self.table(request).columns.get(request.match_info["key"])
        if column is None:
            raise not_found("column_not_found", "Column")
        return ok(column.to_json())

    async def delete_column(self, request: web.Request) -> web.Response:
        if self.table(request).columns.pop(request.match_info["key"], None) is None:
            raise not_found("column_not_found", "Column")
        return no_content()

    async def list_indexes(self, request: web.Request) -> web.Response:
        indexes = [i.to_json() for i in self.table(request).indexes.values()]
        return ok({"total": len(indexes), "indexes": indexes})

    async def create_index(self, request: web.Request) -> web.Response:
        table = self.table(request)
        index = Index(await params_of(request), table, self.column_delay)
        if index.key in table.indexes:
            raise conflict("index_already_exists", "Index")
        table.indexes[index.key] = index
        return ok(index.to_json(), 202)

    async def get_index(self, request: web.Request) -> web.Response:
        index = self.table(request).indexes.get(request.match_info["key"])
        if index is None:
            raise not_found("index_not_found", "Index")
        return ok(index.to_json())

    async def delete_index(self, request: web.Request) -> web.Response:
        if self.table(request).indexes.pop(request.match_info["key"], None) is None:
            raise not_found("index_not_found", "Index")
        return no_content()

    # rows

    async def list_rows(self, request: web.Request) -> web.Response:
        table = self.table(request)
        params = await params_of(request)
        rows = [table.row_json(r) for r in table.rows.values()]
        total, rows = apply_queries(rows, [json.loads(q) for q in params.get("queries", [])])
        return ok({"total": total, "rows": rows})

    async def create_row(self, request: web.Request) -> web.Response:
        table = self.table(request)
        params = await params_of(request)
        row_id = check_id(params.get("rowId"), "rowId")
        if row_id in table.rows:
            raise conflict("row_already_exists", "Row")
        return ok(self.write_row(table, row_id, params, partial=False), 201)

    async def get_row(self, request: web.Request) -> web.Response:
        table = self.table(request)
        row = table.rows.get(request.match_info["row"])
        if row is None:
            raise not_found("row_not_found", "Row")
        return ok(table.row_json(row))

    async def upsert_row(self, request: web.Request) -> web.Response:
        table = self.table(request)
        row_id = check_id(request.match_info["row"], "rowId")
        params = await params_of(request)
        return ok(self.write_row(table, row_id, params, partial=row_id in table.rows))

    async def update_row(self, request: web.Request) -> web.Response:
        table = self.table(request)
        if request.match_info["row"] not in table.rows:
            raise not_found("row_not_found", "Row")
        params = await params_of(request)
        return ok(self.write_row(table, request.match_info["row"], params, partial=True))

    async def delete_row(self, request: web.Request) -> web.Response:
        if self.table(request).rows.pop(request.match_info["row"], None) is None:
            raise not_found("row_not_found", "Row")
        return no_content()

    def write_row(self, table: Table, row_id: str, params: Mapping[str, Any], *, partial: bool) -> Any:
        data = params.get("data") or {}
        if not isinstance(data, dict):
            raise invalid("Invalid `data` param: Value must be a valid object")
        table.check_row(data, partial=partial)
        stamp = now_iso()
        row = table.rows.get(row_id)
        if row is None:
            table.sequence += 1
            row = {"$id": row_id, "$sequence": table.sequence, "$createdAt": stamp, "data": {}}
            row["$permissions"] = []
            table.rows[row_id] = row
        row["data"] |= data
        row["$updatedAt"] = stamp
        if "permissions" in params:
            row["$permissions"] = check_permissions(params["permissions"])
        table.history.setdefault(row_id, []).append(table.row_json(row))
        return table.row_json(row)


def apply_queries(
    rows: list[dict[str, Any]], queries: list[dict[str, Any]]
) -> tuple[int, list[dict[str, Any]]]:
    """The Query methods our code uses: equal, notEqual, orderAsc/Desc, cursorAfter, offset, limit."""
    limit, offset = 25, 0
    for query in queries:
        method, attribute = query.get("method"), str(query.get("attribute", ""))
        values = query.get("values") or []
        if method == "equal":
            rows = [r for r in rows if r.get(attribute) in values]
        elif method == "notEqual":
            rows = [r for r in rows if r.get(attribute) not in values]
        elif method in ("orderAsc", "orderDesc"):
            rows = sorted(rows, key=lambda r: (r.get(attribute) is None, r.get(attribute)))
            rows = rows[::-1] if method == "orderDesc" else rows
        elif method == "cursorAfter":
            ids = [r["$id"] for r in rows]
            rows = rows[ids.index(values[0]) + 1 :] if values and values[0] in ids else rows
        elif method == "limit":
            limit = int(values[0])
        elif method == "offset":
            offset = int(values[0])
        elif method != "select":
            raise invalid(f"Invalid query method: {method}")
    return len(rows), rows[offset : offset + limit]


def no_content() -> web.Response:
    # The SDK reads Content-Type from every answer, 204s included (KeyError without one).
    return web.Response(status=204, headers={"Content-Type": "text/plain; charset=UTF-8"})


def ok(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)
