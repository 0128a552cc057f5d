"""The Appwrite double answers like Appwrite where our code depends on it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.tables_db import TablesDB

from scenefarm_devkit.appwrite_double import AppwriteDouble, AppwriteDoubleThread, Fault


@pytest.fixture
def tables(client: Client) -> TablesDB:
    tables = TablesDB(client)
    tables.create("db", "db")
    tables.create_table("db", "t", "t", row_security=True)
    tables.create_varchar_column("db", "t", "name", 8, False)
    tables.create_integer_column("db", "t", "n", False, min=0, max=10)
    return tables


def wait_available(tables: TablesDB) -> None:
    deadline = time.monotonic() + 5
    while any(
        getattr(c.status, "value", c.status) != "available" for c in tables.list_columns("db", "t").columns
    ):
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_requests_without_the_right_key_are_refused_without_echoing_it(double: AppwriteDoubleThread) -> None:
    client = Client().set_endpoint(double.endpoint).set_project(double.double.project).set_key("nope")
    with pytest.raises(AppwriteException) as raised:
        TablesDB(client).list()
    assert raised.value.code == 401
    assert "nope" not in str(raised.value.response)


def test_a_new_column_is_processing_and_rows_naming_it_are_refused_until_available() -> None:
    # A column that takes a whole second to become available: the check cannot race a busy machine.
    key = "sk-slow-columns"
    with AppwriteDoubleThread(api_key=key, column_delay=1.0) as double:
        client = Client().set_endpoint(double.endpoint).set_project(double.double.project).set_key(key)
        tables = TablesDB(client)
        tables.create("db", "db")
        tables.create_table("db", "t", "t", row_security=True)
        tables.create_varchar_column("db", "t", "name", 8, False)
        assert getattr(tables.get_column("db", "t", "name").status, "value", None) == "processing"
        with pytest.raises(AppwriteException, match="Unknown attribute"):
            tables.upsert_row("db", "t", "r1", {"name": "a"})
        deadline = time.monotonic() + 10
        while getattr(tables.get_column("db", "t", "name").status, "value", None) != "available":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert tables.upsert_row("db", "t", "r1", {"name": "a"}).data["name"] == "a"


def test_rows_are_checked_against_their_columns(tables: TablesDB) -> None:
    wait_available(tables)
    with pytest.raises(AppwriteException, match="no longer than 8"):
        tables.upsert_row("db", "t", "r1", {"name": "much too long"})
    with pytest.raises(AppwriteException, match="out of range"):
        tables.upsert_row("db", "t", "r1", {"n": 11})
    with pytest.raises(AppwriteException, match="must contain at most 36 chars"):
        tables.upsert_row("db", "t", "-bad", {"n": 1})


def test_rows_keep_their_permissions_and_can_be_listed_by_query(tables: TablesDB) -> None:
    wait_available(tables)
    tables.upsert_row("db", "t", "r1", {"n": 1}, ['read("user:u1")'])
    tables.upsert_row("db", "t", "r2", {"n": 2})
    tables.upsert_row("db", "t", "r1", {"name": "x"})  # an upsert without permissions keeps them
    found = tables.list_rows("db", "t", [Query.equal("n", 1)])
    assert [r.id for r in found.rows] == ["r1"]
    assert found.rows[0].permissions == ['read("user:u1")']
    assert found.rows[0].data["name"] == "x"


def test_injected_faults_answer_their_status_the_given_number_of_times(
    tables: TablesDB, double: AppwriteDoubleThread
) -> None:
    double.inject(Fault(path="/tablesdb/db$", method="GET", status=503, times=2))
    for _ in range(2):
        with pytest.raises(AppwriteException) as raised:
            tables.get("db")
        assert raised.value.code == 503
    assert tables.get("db").id == "db"


def test_a_reset_outage_looks_like_a_dropped_connection(
    tables: TablesDB, double: AppwriteDoubleThread
) -> None:
    double.faults.outage(5, kind="reset")
    with pytest.raises(AppwriteException) as raised:
        tables.get("db")
    assert raised.value.code == 0
    double.faults.end_outage()
    assert tables.get("db").id == "db"


async def test_the_double_runs_in_the_callers_event_loop_too() -> None:
    async with AppwriteDouble(api_key="k") as double:
        response = await asyncio_get(f"{double.endpoint}/health")
        assert response == 200


async def asyncio_get(url: str) -> int:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status


def test_the_double_runs_as_a_module(tmp_path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {"APPWRITE_DOUBLE_API_KEY": "cli-key"}
    process = subprocess.Popen(
        [sys.executable, "-m", "scenefarm_devkit.appwrite_double", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert "Appwrite double on" in (process.stdout.readline() if process.stdout else "")
        answer = requests.get(
            f"http://127.0.0.1:{port}/v1/tablesdb",
            headers={"x-appwrite-project": "scenefarm-dev", "x-appwrite-key": "cli-key"},
            timeout=5,
        )
        assert answer.json() == {"total": 0, "databases": []}
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()
