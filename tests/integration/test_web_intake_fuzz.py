"""Thousands of generated request rows at the web intake of a running operator (`make web`'s
stack, instant renders), beside one ordinary user's submission: the ordinary submission renders,
every bad row ends refused with a message, nothing of anyone else's is touched, and the intake
never dies (kopf's liveness endpoint runs its probe).

Rows are generated with hypothesis: random unicode (lone surrogates included), control
characters, huge and empty fields, wrong types, forged operator columns, forged owners and ids,
and ids that collide with requests made with kubectl. What a real Appwrite would refuse at the
door (lone surrogates, permissions for someone else) is planted straight into the double's
store, so the intake is tried on it anyway.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from lightkube import codecs

from scenefarm_devkit.appwrite_double import AppwriteDoubleThread
from scenefarm_devkit.web import NAMESPACE, WebStack
from scenefarm_operator.runtime.kube import VideoRequest

pytestmark = pytest.mark.integration
ROWS = 3000
VICTIMS = ("victim-0", "victim-1", "victim-2")  # requests made with kubectl in the intake namespace
ID = st.from_regex(r"\A[a-zA-Z0-9][a-zA-Z0-9._-]{0,35}\Z")
LONE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
CONTROL = st.one_of(st.characters(max_codepoint=0x1F), st.sampled_from("\x7f\x85\u2028\u202e\u2066"))
ANY_TEXT = st.text(st.one_of(st.characters(), LONE, CONTROL), max_size=40)


def defects() -> st.SearchStrategy[tuple[str, dict[str, Any], bool]]:
    """(kind, data changes, planted): each one makes a row that must be refused."""
    text = st.text(max_size=30)
    return st.one_of(
        st.tuples(
            st.just("lone surrogate"), st.builds(lambda a, s: {"topic": a + s + a}, text, LONE), st.just(True)
        ),
        st.tuples(
            st.just("control"), st.builds(lambda a, c: {"topic": a + c + "x"}, text, CONTROL), st.just(False)
        ),
        st.tuples(
            st.just("empty"),
            st.sampled_from([{"topic": ""}, {"topic": "  \t "}, {"topic": None}]),
            st.just(False),
        ),
        st.tuples(
            st.just("huge topic"),
            st.builds(lambda n: {"topic": "t" * n}, st.integers(201, 512)),
            st.just(False),
        ),
        st.tuples(
            st.just("huge description"),
            st.builds(lambda n: {"description": "d" * n}, st.integers(2001, 16_000)),
            st.just(False),
        ),
        st.tuples(st.just("quality"), st.builds(lambda q: {"quality": "q" + q[:15]}, text), st.just(False)),
        st.tuples(
            st.just("planner"), st.builds(lambda m: {"planner_mode": "Gemini" + m[:10]}, text), st.just(False)
        ),
        st.tuples(
            st.just("forged uid"),
            st.builds(
                lambda u, s: {"k8s_uid": str(u), "status": s},
                st.uuids(),
                st.sampled_from(["queued", "planning", "rendering"]),
            ),
            st.just(False),
        ),
        st.tuples(
            st.just("forged columns"),
            st.fixed_dictionaries(
                {},
                optional={
                    "k8s_name": st.sampled_from(["web-victim-0", "scenefarm", "web--x"]),
                    "k8s_namespace": st.sampled_from(["default", NAMESPACE]),
                    "combined_video_url": ID,
                    "error_message": st.text(min_size=1, max_size=30),
                },
            ).filter(bool),
            st.just(False),
        ),
        st.tuples(
            st.just("forged status"),
            st.builds(lambda s: {"status": s}, st.sampled_from(["planning", "rendering"])),
            st.just(False),
        ),
        st.tuples(
            st.just("progress"), st.builds(lambda p: {"progress": p}, st.integers(1, 100)), st.just(False)
        ),
        st.tuples(st.just("cancel"), st.just({"cancel_requested": True}), st.just(False)),
        st.tuples(
            st.just("wrong types"),
            st.sampled_from(
                [{"topic": 42}, {"topic": ["a"]}, {"description": {"x": 1}}, {"cancel_requested": "yes"}]
            ),
            st.just(True),
        ),
    )


ROW = st.fixed_dictionaries(
    {
        "id": st.one_of(
            st.just("unique()"), st.just("unique()"), st.just("unique()"), ID, st.sampled_from(VICTIMS)
        ),
        "defect": defects(),
        "topic": ANY_TEXT,
        "owner": st.sampled_from(["self", "self", "self", "other", "any", "nobody"]),
    }
)


def generate(count: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(ROW)
    def collect(row: dict[str, Any]) -> None:
        rows.append(row)

    collect()
    return rows


class Guest:
    def __init__(self, double: AppwriteDoubleThread) -> None:
        self.http = requests.Session()
        self.http.headers["x-appwrite-project"] = double.double.project
        self.endpoint = double.endpoint
        self.id = self.http.post(f"{self.endpoint}/account/sessions/anonymous", timeout=5).json()["userId"]

    def create(self, row_id: str, data: dict[str, Any]) -> requests.Response:
        body: dict[str, Any] = {"rowId": row_id, "data": data}
        return self.http.post(f"{self.endpoint}/tablesdb/scenefarm/tables/videos/rows", json=body, timeout=10)


def plant(double: AppwriteDoubleThread, row_id: str, permissions: list[str], data: dict[str, Any]) -> bool:
    def write() -> bool:
        table = double.double.tablesdb.tables[("scenefarm", "videos")]
        if row_id in table.rows:
            return False
        table.sequence += 1
        stamp = "2026-12-07T00:00:00.000+00:00"
        table.rows[row_id] = {
            "$id": row_id,
            "$sequence": table.sequence,
            "$createdAt": stamp,
            "$updatedAt": stamp,
            "$permissions": permissions,
            "data": data,
        }
        return True

    return double.call(write)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def kubectl_request(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"topic": "made with kubectl", "planner": {"mode": "Template", "maxScenes": 1}},
    }


def test_thousands_of_generated_rows_never_stop_the_intake_and_an_ordinary_submission_renders(
    tmp_path: Path,
) -> None:
    generated = generate(ROWS)
    port = free_port()
    with WebStack(
        tmp_path, page=False, instant=True, liveness_port=port, poll_seconds="0.2", max_scenes="1"
    ) as stack:
        client = stack.env.client()
        for victim in VICTIMS:
            client.create(codecs.from_dict(kubectl_request(f"web-{victim}")))
        double = stack.double
        guests = [Guest(double) for _ in range(5)]
        alice = Guest(double)
        made: dict[str, dict[str, Any]] = {}  # row id -> what it was made from
        ordinary = ""
        for n, row in enumerate(generated):
            if n == ROWS // 2:  # the ordinary user submits in the middle of it all
                answer = alice.create(
                    "unique()", {"topic": "Newton's laws", "status": "queued", "progress": 0}
                )
                assert answer.status_code == 201, answer.text
                ordinary = answer.json()["$id"]
            guest = guests[n % len(guests)]
            _kind, changes, planted = row["defect"]
            data = {"topic": row["topic"] or "x", "status": "queued"} | changes
            data = {k: v for k, v in data.items() if v is not None}
            owner = {
                "self": [f'read("user:{guest.id}")', f'update("user:{guest.id}")'],
                "other": [f'read("user:{alice.id}")', f'read("user:{guest.id}")'],
                "any": ['read("any")'],
                "nobody": [],
            }[row["owner"]]
            row_id = row["id"] if row["id"] != "unique()" else uuid.uuid4().hex[:20]
            if planted or row["owner"] != "self":
                if plant(double, row_id, owner, data):
                    made[row_id] = row
            else:
                answer = guest.create(row_id, data)
                if answer.status_code == 201:
                    made[answer.json()["$id"]] = row
                else:  # refused at the door, as Appwrite refuses it (size, duplicate id, ...)
                    assert answer.status_code in (400, 409), answer.text
        assert ordinary and len(made) > ROWS // 2  # the rest Appwrite refused at the door

        def settled() -> bool:
            rows = double.rows("scenefarm", "videos")
            return rows[ordinary]["status"] == "completed" and all(
                rows[r]["status"] == "failed" for r in made if r in rows
            )

        deadline = time.monotonic() + 600
        while not settled():
            health = requests.get(stack.liveness_url, timeout=10)
            assert health.status_code == 200, health.text  # the intake's probe passes throughout
            if time.monotonic() > deadline:
                rows = double.rows("scenefarm", "videos")
                waiting = {
                    r: (rows[r]["status"], made[r]["defect"][0])
                    for r in made
                    if rows[r]["status"] != "failed"
                }
                raise AssertionError(
                    f"ordinary: {rows[ordinary]['status']}; not refused: {list(waiting.items())[:10]}"
                )
            time.sleep(1)

        rows = double.rows("scenefarm", "videos")
        for row_id in made:
            assert rows[row_id]["error_message"], (row_id, made[row_id]["defect"][0])
        health = json.loads(requests.get(stack.liveness_url, timeout=10).text)["webIntake"]
        assert health["healthy"] and health["restarts"] == 0 and health["running"]
        # Only the ordinary request and the kubectl ones exist; none of those was cancelled or changed.
        found = {str(r["metadata"]["name"]): r for r in client.list(VideoRequest, namespace=NAMESPACE)}
        assert sorted(found) == sorted([f"web-{ordinary}", *(f"web-{v}" for v in VICTIMS)])
        for victim in VICTIMS:
            assert not (found[f"web-{victim}"].get("spec") or {}).get("cancel")
        assert (found[f"web-{ordinary}"].get("status") or {}).get("phase") == "Succeeded"
        log = (stack.state_dir / "operator.log").read_text(errors="replace")
        assert "Web intake loop crashed" not in log
