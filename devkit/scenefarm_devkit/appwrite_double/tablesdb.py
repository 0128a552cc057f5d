"""The TablesDB part of the double: databases, tables, columns, indexes and rows in memory.

It answers in Appwrite's JSON shapes and checks what a real server checks where our code could
get it wrong: ids, unknown or not-yet-available columns, column types, sizes, enum elements and
integer ranges. Columns and indexes start `processing` and become `available` after a delay.

Callers with a session (not the API key) see only the rows their roles may read, may create rows
only where the table grants them `create`, and change only rows they may update; databases,
tables, columns and indexes need the API key. Every row change is handed to `notify` (Realtime).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from .errors import AppwriteError, conflict, invalid, not_found
from .identity import Identity, check_own_roles, may, require_server, unauthorized
from .model import (
    IDENTITY,
    Column,
    Index,
    Table,
    check_id,
    check_permissions,
    no_content,
    now_iso,
    ok,
    params_of,
    valid_text,
)

Handler = Callable[[web.Request], Any]
# (action, table, row json) -> Realtime; the row json carries the permissions that decide who hears it
Notifier = Callable[[str, Table, dict[str, Any]], None]


def server_only(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        scope = "databases.write" if request.method != "GET" else "databases.read"
        require_server(request[IDENTITY], scope)
        return await handler(request)  # type: ignore[no-any-return]

    return guarded


def readable(table: Table, row: Mapping[str, Any], identity: Identity) -> bool:
    item = row["$permissions"] if table.row_security else None
    return may(identity, "read", table.permissions, item)


class TablesDBState:
    """All databases of the double, with the HTTP handlers that serve them."""

    def __init__(self, column_delay: float = 0.2, notify: Notifier | None = None) -> None:
        self.column_delay = column_delay
        self.notify = notify
        self.databases: dict[str, dict[str, Any]] = {}
        self.tables: dict[tuple[str, str], Table] = {}

    def routes(self, prefix: str = "/v1/tablesdb") -> list[web.RouteDef]:
        t = prefix + "/{db}/tables/{table}"
        console = [
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
        ]
        console = [web.route(r.method, r.path, server_only(r.handler)) for r in console]  # type: ignore[attr-defined]
        return [
            *console,
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
        identity: Identity = request[IDENTITY]
        params = await params_of(request)
        visible = [r for r in table.rows.values() if readable(table, r, identity)]
        try:
            queries = [valid_text(json.loads(q)) for q in params.get("queries", [])]
        except ValueError:
            raise invalid("Invalid `queries` param: a query is not valid JSON") from None
        total, rows = apply_queries([table.row_json(r) for r in visible], queries, table.row_json_of)
        return ok({"total": total, "rows": rows})

    async def create_row(self, request: web.Request) -> web.Response:
        table = self.table(request)
        params = await params_of(request)
        row_id = params.get("rowId")
        row_id = secrets.token_hex(10) if row_id == "unique()" else check_id(row_id, "rowId")
        if row_id in table.rows:
            raise conflict("row_already_exists", "Row")
        self.check_write(request, table, None, params)
        return ok(self.write_row(table, row_id, self.with_owner(request, params), partial=False), 201)

    async def get_row(self, request: web.Request) -> web.Response:
        table = self.table(request)
        row = table.rows.get(request.match_info["row"])
        if row is None or not readable(table, row, request[IDENTITY]):
            raise not_found("row_not_found", "Row")
        return ok(table.row_json(row))

    async def upsert_row(self, request: web.Request) -> web.Response:
        table = self.table(request)
        row_id = check_id(request.match_info["row"], "rowId")
        params: Mapping[str, Any] = await params_of(request)
        row = table.rows.get(row_id)
        self.check_write(request, table, row, params)
        if row is None:
            params = self.with_owner(request, params)
        return ok(self.write_row(table, row_id, params, partial=row is not None))

    async def update_row(self, request: web.Request) -> web.Response:
        table = self.table(request)
        row = table.rows.get(request.match_info["row"])
        if row is None or not readable(table, row, request[IDENTITY]):
            raise not_found("row_not_found", "Row")
        params = await params_of(request)
        self.check_write(request, table, row, params)
        return ok(self.write_row(table, request.match_info["row"], params, partial=True))

    async def delete_row(self, request: web.Request) -> web.Response:
        table = self.table(request)
        row = table.rows.get(request.match_info["row"])
        if row is None or not readable(table, row, request[IDENTITY]):
            raise not_found("row_not_found", "Row")
        self.check_write(request, table, row, {}, action="delete")
        del table.rows[row["$id"]]
        if self.notify is not None:
            self.notify("delete", table, table.row_json(row))
        return no_content()

    def check_write(
        self,
        request: web.Request,
        table: Table,
        row: Mapping[str, Any] | None,
        params: Mapping[str, Any],
        action: str | None = None,
    ) -> None:
        """Appwrite's rules for a caller with a session: `create` from the table, `update` and
        `delete` from the table or (row security) the row, and permissions only for own roles."""
        identity: Identity = request[IDENTITY]
        action = action or ("create" if row is None else "update")
        item = row["$permissions"] if row is not None and table.row_security else None
        if not may(identity, action, table.permissions, item):
            raise unauthorized()
        if "permissions" in params and params["permissions"] is not None:
            check_own_roles(identity, check_permissions(params["permissions"]))

    def with_owner(self, request: web.Request, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """A user's new row with no permissions given is theirs: read, update, delete."""
        identity: Identity = request[IDENTITY]
        if identity.admin or identity.user_id is None or params.get("permissions") is not None:
            return params
        role = f'("user:{identity.user_id}")'
        return {**params, "permissions": [f"read{role}", f"update{role}", f"delete{role}"]}

    def write_row(self, table: Table, row_id: str, params: Mapping[str, Any], *, partial: bool) -> Any:
        data = params.get("data") or {}
        if not isinstance(data, dict):
            raise invalid("Invalid `data` param: Value must be a valid object")
        table.check_row(data, partial=partial)
        stamp = now_iso()
        row = table.rows.get(row_id)
        created = row is None
        if row is None:
            table.sequence += 1
            row = {"$id": row_id, "$sequence": table.sequence, "$createdAt": stamp, "data": {}}
            row["$permissions"] = []
            table.rows[row_id] = row
        row["data"] |= data
        row["$updatedAt"] = stamp
        if "permissions" in params and params["permissions"] is not None:
            row["$permissions"] = check_permissions(params["permissions"])
        answer = table.row_json(row)
        table.history.setdefault(row_id, []).append(answer)
        if self.notify is not None:
            self.notify("create" if created else "update", table, answer)
        return answer


COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "greaterThan": lambda a, b: a > b,
    "greaterThanEqual": lambda a, b: a >= b,
    "lessThan": lambda a, b: a < b,
    "lessThanEqual": lambda a, b: a <= b,
}


def apply_queries(
    rows: list[dict[str, Any]],
    queries: list[dict[str, Any]],
    lookup: Callable[[str], dict[str, Any] | None] = lambda _: None,
) -> tuple[int, list[dict[str, Any]]]:
    """The Query methods our code uses: equal, notEqual, isNull, isNotNull, comparisons,
    orderAsc/Desc, cursorAfter, offset, limit. Rows come in `$sequence` order; a cursor names a row
    of the table (`lookup`), which need not match the filters, as on Appwrite."""
    limit, offset, cursor = 25, 0, None
    order: tuple[str, bool] = ("$sequence", False)
    for query in queries:
        method, attribute = query.get("method"), str(query.get("attribute", ""))
        values = query.get("values") or []
        if method == "equal":
            rows = [r for r in rows if r.get(attribute) in values]
        elif method == "notEqual":
            rows = [r for r in rows if r.get(attribute) not in values]
        elif method in ("isNull", "isNotNull"):
            rows = [r for r in rows if (r.get(attribute) is None) == (method == "isNull")]
        elif method in COMPARISONS:
            compare = COMPARISONS[method]
            rows = [
                r for r in rows if r.get(attribute) is not None and compare(sort_key(r, attribute), values[0])
            ]
        elif method in ("orderAsc", "orderDesc"):
            order = (attribute, method == "orderDesc")
        elif method == "cursorAfter":
            cursor = str(values[0]) if values else None
        elif method == "limit":
            limit = int(values[0])
        elif method == "offset":
            offset = int(values[0])
        elif method != "select":
            raise invalid(f"Invalid query method: {method}")
    attribute, descending = order
    rows = sorted(rows, key=lambda r: (r.get(attribute) is None, sort_key(r, attribute)), reverse=descending)
    total = len(rows)
    if cursor is not None:
        after = lookup(cursor)
        if after is None:
            raise AppwriteError(
                400, "general_cursor_not_found", f"Row '{cursor}' for the 'cursor' value not found."
            )
        mark = sort_key(after, attribute)
        rows = [r for r in rows if after_cursor(sort_key(r, attribute), mark, descending)]
    return total, rows[offset : offset + limit]


def after_cursor(value: Any, mark: Any, descending: bool) -> bool:
    return bool(value < mark) if descending else bool(value > mark)


def sort_key(row: Mapping[str, Any], attribute: str) -> Any:
    value = row.get(attribute)
    return int(value) if attribute == "$sequence" and value is not None else value
