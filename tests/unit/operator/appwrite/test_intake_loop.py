"""The web intake loop against the Appwrite double (real SDK) with Kubernetes faked: one
VideoRequest per request row however often it polls or restarts, refusals written back to the
row, cancel flags passed on, outages retried."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import requests
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import Status

from scenefarm_devkit.appwrite_double import AppwriteDoubleThread
from scenefarm_operator.appwrite.calls import AppwriteConfig, make_client
from scenefarm_operator.appwrite.intake import Limits
from scenefarm_operator.appwrite.intake_loop import Intake
from scenefarm_operator.appwrite.schema import ensure_schema


class FakeKube:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.cancelled: list[str] = []
        self.refuse: ApiError | None = None

    async def create(self, obj: Mapping[str, Any]) -> bool:
        if self.refuse is not None:
            raise self.refuse
        name = obj["metadata"]["name"]
        if name in self.objects:
            return False
        created = {"metadata": dict(obj["metadata"]) | {"creationTimestamp": "2999-01-01T00:00:00Z"}}
        self.objects[name] = created | {"spec": obj["spec"], "status": {"phase": "Pending"}}
        return True

    async def list_of_user(self, namespace: str, user_label: str) -> list[dict[str, Any]]:
        key = "scenefarm.dev/appwrite-user"
        return [o for o in self.objects.values() if o["metadata"]["labels"][key] == user_label]

    async def cancel(self, namespace: str, name: str) -> None:
        self.cancelled.append(name)


def api_error(code: int, message: str) -> ApiError:
    return ApiError(status=Status(code=code, message=message, reason="Invalid"))


@pytest.fixture
def schema(client, config: AppwriteConfig) -> None:
    ensure_schema(client, config.database, config.bucket, user_requests=True, poll_seconds=0.01)


class User:
    def __init__(self, double: AppwriteDoubleThread) -> None:
        self.http = requests.Session()
        self.http.headers["x-appwrite-project"] = double.double.project
        self.endpoint = double.endpoint
        self.id = self.http.post(f"{self.endpoint}/account/sessions/anonymous", timeout=5).json()["userId"]

    def submit(self, row_id: str, **data: Any) -> dict[str, Any]:
        body = {"rowId": row_id, "data": {"topic": "Newton's laws", "status": "queued"} | data}
        answer = self.http.post(
            f"{self.endpoint}/tablesdb/scenefarm/tables/videos/rows", json=body, timeout=5
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())


def intake(config: AppwriteConfig, kube: FakeKube, **limits: Any) -> Intake:
    return Intake(config, "web", Limits(**limits), kube=kube, client=make_client(config))


async def test_each_request_row_becomes_one_videorequest_even_across_restarts(double, config, schema) -> None:
    alice, kube = User(double), FakeKube()
    alice.submit("r1")
    alice.submit("r2", planner_mode="Template", quality="medium")
    first = intake(config, kube)
    assert await first.poll_once() == 2
    assert await first.poll_once() == 0  # the cursor is past both
    assert sorted(kube.objects) == ["web-r1", "web-r2"]
    assert kube.objects["web-r2"]["spec"]["owner"] == {"appwriteUserId": alice.id}
    row = double.rows("scenefarm", "videos")["r1"]
    assert (row["status"], row["k8s_name"]) == ("planning", "web-r1")  # picked up, as the old worker did
    # A new operator (no cursor, the mirror has not written the uid yet) sees the row again.
    restarted = intake(config, kube)
    assert await restarted.poll_once() == 2
    assert (restarted.created, len(kube.objects)) == (0, 2)  # nothing is made twice
    assert double.rows("scenefarm", "videos")["r1"]["status"] == "planning"


async def test_a_refused_row_ends_failed_with_its_reason(double, config, schema) -> None:
    alice, kube = User(double), FakeKube()
    alice.submit("big", quality="fourk")
    alice.submit("one")
    alice.submit("two")
    loop = intake(config, kube, max_active_per_user=1)
    await loop.poll_once()
    rows = double.rows("scenefarm", "videos")
    assert (rows["big"]["status"], rows["big"]["phase"]) == ("failed", "Failed")
    assert "Quality 'fourk' is not offered here" in rows["big"]["error_message"]
    assert "1 videos in progress" in rows["two"]["error_message"]
    assert list(kube.objects) == ["web-one"]


async def test_a_request_kubernetes_refuses_ends_failed_with_the_api_servers_words(double, config, schema):
    alice, kube = User(double), FakeKube()
    alice.submit("bad")
    kube.refuse = api_error(422, 'VideoRequest.scenefarm.dev "web-bad" is invalid: spec.topic: Too long')
    await intake(config, kube).poll_once()
    row = double.rows("scenefarm", "videos")["bad"]
    assert row["status"] == "failed" and "Kubernetes refused the request" in row["error_message"]
    assert "spec.topic: Too long" in row["error_message"]


async def test_an_outage_leaves_the_row_for_the_next_pass(double, config, schema) -> None:
    alice, kube = User(double), FakeKube()
    alice.submit("later")
    kube.refuse = api_error(503, "the server is currently unable to handle the request")
    loop = intake(config, kube)
    with pytest.raises(ApiError):
        await loop.poll_once()
    assert double.rows("scenefarm", "videos")["later"]["k8s_uid"] is None  # not handled: asked again
    kube.refuse = None
    assert await loop.poll_once() == 1 and list(kube.objects) == ["web-later"]


async def test_a_cancel_flag_sets_spec_cancel_and_a_cancel_before_the_start_needs_no_request(
    double, config, schema
) -> None:
    alice, kube = User(double), FakeKube()
    alice.submit("go")
    loop = intake(config, kube)
    await loop.poll_once()
    # The mirror has written the row by now (it carries the k8s_uid); the user sets the flag.
    double.call(
        lambda: (
            double.double.tablesdb.tables[("scenefarm", "videos")]
            .rows["go"]["data"]
            .update({"k8s_uid": "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", "status": "rendering"})
        )
    )
    answer = alice.http.patch(
        f"{alice.endpoint}/tablesdb/scenefarm/tables/videos/rows/go",
        json={"data": {"cancel_requested": True}},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    alice.submit("never", cancel_requested=True)
    await loop.poll_once()
    assert "web-go" in kube.cancelled
    never = double.rows("scenefarm", "videos")["never"]
    assert (never["status"], never["phase"], never["error_message"]) == (
        "failed",
        "Cancelled",
        "Cancelled before it started.",
    )
    assert "web-never" not in kube.objects
