"""Schema bootstrap with the real SDK against the double."""

from __future__ import annotations

from appwrite.client import Client
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB

from scenefarm_devkit.appwrite_double import AppwriteDoubleThread
from scenefarm_operator.web.layout import SCENES, VIDEOS
from scenefarm_operator.web.schema import ensure_schema


def test_bootstrap_creates_database_tables_columns_indexes_and_bucket(
    double: AppwriteDoubleThread, client: Client
) -> None:
    changes = ensure_schema(client, "scenefarm", "videos")
    assert "database scenefarm" in changes
    assert "table videos" in changes and "table scenes" in changes
    assert "bucket videos" in changes
    tables = TablesDB(client)
    for spec in (VIDEOS, SCENES):
        table = tables.get_table("scenefarm", spec.id)
        assert table.rowsecurity is True
        assert table.permissions == []
        assert {c.key for c in table.columns} == {c.key for c in spec.columns}
        assert {i.key for i in table.indexes} == {i.key for i in spec.indexes}
    bucket = Storage(client).get_bucket("videos")
    assert bucket.filesecurity is True
    assert bucket.permissions == []


def test_columns_are_available_when_bootstrap_returns(double: AppwriteDoubleThread, client: Client) -> None:
    double.double.tablesdb.column_delay = 0.3
    ensure_schema(client, "scenefarm", "videos", poll_seconds=0.05)
    columns = TablesDB(client).list_columns("scenefarm", "videos").columns
    assert {getattr(c.status, "value", c.status) for c in columns} == {"available"}


def test_a_second_bootstrap_changes_nothing(double: AppwriteDoubleThread, client: Client) -> None:
    ensure_schema(client, "scenefarm", "videos")
    double.faults.clear_log()
    assert ensure_schema(client, "scenefarm", "videos") == []
    requests = double.requests()
    assert requests, "the second run should still read"
    assert [r for r in requests if r.is_write] == []


def test_bootstrap_turns_row_security_back_on_and_drops_table_wide_read(
    double: AppwriteDoubleThread, client: Client
) -> None:
    ensure_schema(client, "scenefarm", "videos")
    TablesDB(client).update_table(
        "scenefarm", "videos", name="videos", permissions=['read("any")'], row_security=False
    )
    assert ensure_schema(client, "scenefarm", "videos") == ["table videos security"]
    table = TablesDB(client).get_table("scenefarm", "videos")
    assert (table.rowsecurity, table.permissions) == (True, [])


def test_bootstrap_adds_a_column_that_is_missing(double: AppwriteDoubleThread, client: Client) -> None:
    ensure_schema(client, "scenefarm", "videos")
    TablesDB(client).delete_column("scenefarm", "scenes", "code_url")
    assert ensure_schema(client, "scenefarm", "videos") == ["column scenes.code_url"]
