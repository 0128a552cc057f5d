"""The row queries the web intake relies on, with the real SDK: isNull, comparisons and a
cursor that names a row of the table (not of the filtered result), as on Appwrite."""

from __future__ import annotations

import time

import pytest
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.tables_db import TablesDB


@pytest.fixture
def tables(client: Client) -> TablesDB:
    tables = TablesDB(client)
    tables.create("db", "db")
    tables.create_table("db", "t", "t", row_security=True)
    tables.create_varchar_column("db", "t", "status", 16, False)
    tables.create_varchar_column("db", "t", "uid", 36, False)
    deadline = time.monotonic() + 5
    while any(
        getattr(c.status, "value", c.status) != "available" for c in tables.list_columns("db", "t").columns
    ):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    for row_id, status in (("a", "queued"), ("b", "planning"), ("c", "queued"), ("d", "queued")):
        tables.upsert_row("db", "t", row_id, {"status": status})
    tables.upsert_row("db", "t", "d", {"uid": "u-d"})
    return tables


def ids(tables: TablesDB, queries: list[str]) -> list[str]:
    return [row.id for row in tables.list_rows("db", "t", queries).rows]


def test_is_null_and_equal_select_new_request_rows(tables: TablesDB) -> None:
    assert ids(tables, [Query.equal("status", ["queued"]), Query.is_null("uid")]) == ["a", "c"]
    assert ids(tables, [Query.is_not_null("uid")]) == ["d"]


def test_a_cursor_on_a_row_outside_the_filter_still_pages_after_it(tables: TablesDB) -> None:
    queued = [Query.equal("status", ["queued"])]
    assert ids(tables, [*queued, Query.cursor_after("b")]) == ["c", "d"]  # b is planning: still a cursor
    assert ids(tables, [*queued, Query.cursor_after("a"), Query.limit(1)]) == ["c"]


def test_a_cursor_on_a_deleted_row_is_refused_as_on_appwrite(tables: TablesDB) -> None:
    tables.delete_row("db", "t", "b")
    with pytest.raises(AppwriteException) as raised:
        ids(tables, [Query.cursor_after("b")])
    assert (raised.value.code, raised.value.type) == (400, "general_cursor_not_found")
