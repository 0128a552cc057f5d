"""Schema bootstrap: the database, the `videos` and `scenes` tables, their columns and indexes,
and the video bucket. Idempotent: it reads first and writes only what is missing or wrong, so a
second run makes no write. Synchronous (SDK calls); the mirror runs it in a worker thread.

Security: rows and files carry their own permissions (row security / file security on) and the
tables and bucket grant nothing, so only the owner named in a row can read it; API keys bypass.
With the web intake on (`user_requests`), the `videos` table grants `create("users")`: any
signed-in user may create a request row, which the intake checks before it becomes a request.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from appwrite.client import Client
from appwrite.enums.tables_db_index_type import TablesDBIndexType
from appwrite.exception import AppwriteException
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB

from scenefarm_operator.support.errors import ScenefarmError
from scenefarm_operator.web.layout import TABLES, VIDEOS, ColumnSpec, TableSpec

logger = logging.getLogger(__name__)


class SchemaError(ScenefarmError):
    """The schema could not be brought to the wanted shape (e.g. columns never became available)."""


USER_REQUESTS = ('create("users")',)  # table-level grant on `videos` when the web intake is on


def ensure_schema(
    client: Client,
    database: str,
    bucket: str,
    *,
    user_requests: bool = False,
    wait_seconds: float = 30.0,
    poll_seconds: float = 0.1,
) -> list[str]:
    """Create what is missing; returns what was changed, e.g. ["table videos", "column videos.topic"]."""
    tables = TablesDB(client)
    changes: list[str] = []
    if not exists(lambda: tables.get(database)):
        tables.create(database, "scenefarm")
        changes.append(f"database {database}")
    for spec in TABLES:
        grants = USER_REQUESTS if user_requests and spec.id == VIDEOS.id else ()
        changes += ensure_table(tables, database, spec, grants)
    for spec in TABLES:
        wait_for_columns(tables, database, spec, wait_seconds, poll_seconds)
        changes += ensure_indexes(tables, database, spec)
    changes += ensure_bucket(Storage(client), bucket)
    if changes:
        logger.info("Appwrite schema bootstrap changed: %s", ", ".join(changes))
    return changes


def exists(get: Any) -> bool:
    try:
        get()
    except AppwriteException as error:
        if error.code == 404:
            return False
        raise
    return True


def ensure_table(tables: TablesDB, database: str, spec: TableSpec, grants: tuple[str, ...] = ()) -> list[str]:
    changes = []
    try:
        table = tables.get_table(database, spec.id)
    except AppwriteException as error:
        if error.code != 404:
            raise
        table = tables.create_table(database, spec.id, spec.id, permissions=list(grants), row_security=True)
        changes.append(f"table {spec.id}")
    if not table.rowsecurity or sorted(table.permissions) != sorted(grants):
        tables.update_table(database, spec.id, name=table.name, permissions=list(grants), row_security=True)
        changes.append(f"table {spec.id} security")
    present = {column.key: column for column in table.columns}
    for column in spec.columns:
        if column.key not in present:
            create_column(tables, database, spec.id, column)
            changes.append(f"column {spec.id}.{column.key}")
        elif not kind_matches(column, present[column.key].type):
            # Changing a column's type would drop data: tell a person instead.
            logger.warning(
                "Appwrite column %s.%s is %s, not %s; leaving it as it is (a table made by an older "
                "scenefarm: delete the column and restart the operator to recreate it)",
                spec.id,
                column.key,
                present[column.key].type,
                column.kind,
            )
    return changes


def kind_matches(column: ColumnSpec, actual: str) -> bool:
    # Appwrite reports enums as `string` columns with format `enum`.
    return actual == ("string" if column.kind == "enum" else column.kind)


def create_column(tables: TablesDB, database: str, table: str, column: ColumnSpec) -> None:
    if column.kind == "varchar":
        tables.create_varchar_column(database, table, column.key, column.size or 255, False)
    elif column.kind == "text":
        tables.create_text_column(database, table, column.key, False)
    elif column.kind == "integer":
        tables.create_integer_column(database, table, column.key, False, min=column.min, max=column.max)
    elif column.kind == "enum":
        tables.create_enum_column(database, table, column.key, list(column.elements), False)
    elif column.kind == "boolean":
        tables.create_boolean_column(database, table, column.key, False)
    elif column.kind == "datetime":
        tables.create_datetime_column(database, table, column.key, False)
    else:
        raise SchemaError(f"unknown column kind {column.kind!r}")


def wait_for_columns(
    tables: TablesDB, database: str, spec: TableSpec, wait_seconds: float, poll_seconds: float
) -> None:
    """Appwrite adds columns asynchronously; rows naming a `processing` column are rejected."""
    deadline = time.monotonic() + wait_seconds
    wanted = {c.key for c in spec.columns}
    while True:
        columns = tables.list_columns(database, spec.id).columns
        states = {c.key: getattr(c.status, "value", c.status) for c in columns if c.key in wanted}
        pending = sorted(k for k in wanted if states.get(k) != "available")
        failed = sorted(k for k in pending if states.get(k) in ("failed", "stuck"))
        if failed:
            raise SchemaError(f"Appwrite failed to add columns {', '.join(failed)} to {spec.id}")
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise SchemaError(
                f"columns {', '.join(pending)} of {spec.id} not available after {wait_seconds}s"
            )
        time.sleep(poll_seconds)


def ensure_indexes(tables: TablesDB, database: str, spec: TableSpec) -> list[str]:
    present = {index.key for index in tables.list_indexes(database, spec.id).indexes}
    changes = []
    for index in spec.indexes:
        if index.key not in present:
            tables.create_index(database, spec.id, index.key, TablesDBIndexType.KEY, list(index.columns))
            changes.append(f"index {spec.id}.{index.key}")
    return changes


def ensure_bucket(storage: Storage, bucket: str) -> list[str]:
    try:
        found = storage.get_bucket(bucket)
    except AppwriteException as error:
        if error.code != 404:
            raise
        storage.create_bucket(bucket, bucket, permissions=[], file_security=True)
        return [f"bucket {bucket}"]
    if not found.filesecurity or found.permissions:
        storage.update_bucket(bucket, found.name, permissions=[], file_security=True)
        return [f"bucket {bucket} security"]
    return []
