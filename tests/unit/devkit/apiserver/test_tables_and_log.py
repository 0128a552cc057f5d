"""Tables for kubectl, the request log, fault injection and the command-line lifecycle."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import aiohttp

from scenefarm_devkit.apiserver import DevCluster, FaultRule

from .helpers import CM, VR, Client, cm, vr

TABLE = "application/json;as=Table;g=meta.k8s.io;v=v1,application/json"


async def test_tables_use_the_crd_printer_columns_with_name_first(client: Client) -> None:
    await client.post(VR, vr("v"))
    await client.patch(f"{VR}/v/status", {"status": {"phase": "Rendering", "progress": 50}})
    status, table = await client.request("GET", VR, headers={"Accept": TABLE})
    assert status == 200 and table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Phase", "Progress", "Age"]
    cells = table["rows"][0]["cells"]
    assert cells[:3] == ["v", "Rendering", 50]
    assert cells[3].endswith("s")
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


async def test_built_in_tables_show_status_for_pods_and_completions_for_jobs(client: Client) -> None:
    await client.post(
        "/apis/batch/v1/namespaces/default/jobs",
        {
            "metadata": {"name": "j"},
            "spec": {
                "completions": 1,
                "template": {"spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "Never"}},
            },
        },
    )
    _, jobs = await client.request("GET", "/apis/batch/v1/namespaces/default/jobs", headers={"Accept": TABLE})
    assert [c["name"] for c in jobs["columnDefinitions"]] == ["Name", "Status", "Completions", "Age"]
    assert jobs["rows"][0]["cells"][:3] == ["j", "Running", "0/1"]
    _, pods = await client.request("GET", "/api/v1/namespaces/default/pods", headers={"Accept": TABLE})
    assert [c["name"] for c in pods["columnDefinitions"]] == ["Name", "Ready", "Status", "Restarts", "Age"]


async def test_every_request_is_logged_with_verb_resource_and_identity(
    cluster: DevCluster, client: Client
) -> None:
    await client.post(CM, cm("a"))
    async with aiohttp.ClientSession() as session:
        runner = Client(session, cluster.url, cluster.token_for("job-controller"))
        await runner.patch(f"{CM}/a", {"data": {"x": "y"}})
        await runner.get(f"{CM}/a")
    records = [r for r in cluster.request_log if r.resource == "configmaps"]
    assert [(r.verb, r.identity, r.status, r.name) for r in records] == [
        ("create", "admin", 201, ""),
        ("patch", "job-controller", 200, "a"),
        ("get", "job-controller", 200, "a"),
    ]
    assert cluster.request_log.writes_by_identity() == {"admin": 1, "job-controller": 1}


async def test_the_request_log_can_be_appended_to_a_json_lines_file(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    async with DevCluster(tmp_path, request_log_path=log) as cluster, aiohttp.ClientSession() as session:
        await Client(session, cluster.url, cluster.token_for("operator")).post(CM, cm("a"))
    (line,) = [json.loads(x) for x in log.read_text().splitlines() if '"configmaps"' in x]
    assert (line["verb"], line["identity"], line["status"]) == ("create", "operator", 201)


async def test_fault_rules_fail_matching_writes_of_one_identity_reproducibly(
    cluster: DevCluster, client: Client
) -> None:
    cluster.faults.append(
        FaultRule(verbs={"create"}, probability=0.5, status=500, seed=7, identities={"admin"})
    )
    outcomes = [(await client.post(CM, cm(f"c{i}")))[0] for i in range(20)]
    assert set(outcomes) == {201, 500}
    cluster.faults[:] = [
        FaultRule(verbs={"create"}, probability=0.5, status=500, seed=7, identities={"admin"})
    ]
    again = [(await client.post(CM, cm(f"d{i}")))[0] for i in range(20)]
    assert again == outcomes
    async with aiohttp.ClientSession() as session:
        other = Client(session, cluster.url, cluster.token_for("operator"))
        assert (await other.post(CM, cm("unaffected")))[0] == 201


async def test_a_conflict_fault_answers_409_in_status_shape(cluster: DevCluster, client: Client) -> None:
    await client.post(CM, cm("a"))
    cluster.faults.append(FaultRule(verbs={"patch"}, status=409, limit=1))
    status, body = await client.patch(f"{CM}/a", {"data": {"x": "1"}})
    assert (status, body["reason"]) == (409, "Conflict")
    assert (await client.patch(f"{CM}/a", {"data": {"x": "1"}}))[0] == 200


async def test_the_command_line_serves_until_sigterm(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scenefarm_devkit",
        "up",
        "--state-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        kubeconfig = Path((await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode().strip())
        assert kubeconfig == (tmp_path / "kubeconfig").resolve()
        assert "current-context: scenefarm-dev" in kubeconfig.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0


async def test_events_print_the_real_columns_without_a_leading_name(client: Client) -> None:
    event = {
        "metadata": {"name": "newton.1"},
        "involvedObject": {"kind": "VideoRequest", "name": "newton", "namespace": "default"},
        "type": "Warning",
        "reason": "SceneFailed",
        "message": "scene 2 raised NameError",
        "lastTimestamp": "2026-01-01T00:00:00Z",
    }
    await client.post("/api/v1/namespaces/default/events", event)
    _, table = await client.request("GET", "/api/v1/namespaces/default/events", headers={"Accept": TABLE})
    visible = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert visible == ["Last Seen", "Type", "Reason", "Object", "Message"]
    cells = [
        c
        for c, d in zip(table["rows"][0]["cells"], table["columnDefinitions"], strict=True)
        if d["priority"] == 0
    ]
    assert cells[1:] == ["Warning", "SceneFailed", "videorequest/newton", "scene 2 raised NameError"]
