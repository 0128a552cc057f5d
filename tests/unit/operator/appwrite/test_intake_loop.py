"""The web intake loop against the Appwrite double (real SDK) with Kubernetes faked: one
VideoRequest per request row however often it polls or restarts, refusals written back to the
row, cancel flags passed on, outages retried; and rows written as an attacker would: one row never
stops the intake, nothing of anyone else's is changed, guests cannot dodge the limits."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx2
import pytest
import requests
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import Status

from scenefarm_contract.backoff import Backoff
from scenefarm_devkit.appwrite_double import AppwriteDoubleThread
from scenefarm_devkit.appwrite_double.faults import Fault
from scenefarm_operator.web.calls import AppwriteConfig, make_client
from scenefarm_operator.web.intake import Limits, video_request
from scenefarm_operator.web.intake_loop import Intake, IntakeRunner


class FakeKube:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.cancelled: list[str] = []
        self.refuse: ApiError | None = None
        self.configmaps: dict[str, dict[str, str]] = {}

    async def create(self, obj: Mapping[str, Any]) -> bool:
        if self.refuse is not None:
            raise self.refuse
        name = obj["metadata"]["name"]
        if name in self.objects:
            return False
        created = {"metadata": dict(obj["metadata"]) | {"creationTimestamp": "2999-01-01T00:00:00Z"}}
        self.objects[name] = created | {"spec": obj["spec"], "status": {"phase": "Pending"}}
        return True

    async def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get(name)

    async def list_of(self, namespace: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        def matches(obj: Mapping[str, Any]) -> bool:
            mine = obj["metadata"].get("labels") or {}
            return all(mine.get(k) == v for k, v in labels.items())

        return [o for o in self.objects.values() if matches(o)]

    async def cancel(self, namespace: str, name: str) -> None:
        self.cancelled.append(name)
        self.objects[name]["spec"]["cancel"] = True

    async def retry(self, namespace: str, name: str, generation: int) -> None:
        self.objects[name]["spec"]["retryGeneration"] = generation

    async def delete(self, namespace: str, name: str) -> None:
        self.objects.pop(name, None)

    async def read_configmap(self, namespace: str, name: str) -> dict[str, str] | None:
        found = self.configmaps.get(name)
        return dict(found) if found is not None else None

    async def patch_configmap(self, namespace: str, name: str, data: Mapping[str, str | None]) -> None:
        merged = self.configmaps.setdefault(name, {})
        for key, value in data.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value


def api_error(code: int, message: str) -> ApiError:
    return ApiError(status=Status(code=code, message=message, reason="Invalid"))


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
    limits.setdefault("anonymous", True)  # the test users are guests
    return Intake(
        config, "web", Limits(**limits), kube=kube, client=make_client(config), transport_backoff=QUICK
    )


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
    assert kube.configmaps["scenefarm-intake-ledger"] == {}  # none was made: not counted


async def test_an_outage_leaves_the_row_for_the_next_pass(double, config, schema) -> None:
    alice, kube = User(double), FakeKube()
    alice.submit("later")
    kube.refuse = api_error(503, "the server is currently unable to handle the request")
    loop = intake(config, kube)
    with pytest.raises(ApiError):
        await loop.poll_once()  # a transport error: the pass stops, the runner backs off
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


# ---- rows written as an attacker would -------------------------------------------------------

QUICK = Backoff(base=0.01, cap=0.05)


def plant(double: AppwriteDoubleThread, row_id: str, owner: str, **data: Any) -> None:
    """A row as a store that accepted anything would hold it (Appwrite refuses some of these at
    the door; the intake must not depend on that)."""

    def write() -> None:
        table = double.double.tablesdb.tables[("scenefarm", "videos")]
        table.sequence += 1
        perms = [f'read("user:{owner}")', f'update("user:{owner}")']
        table.rows[row_id] = {
            "$id": row_id,
            "$sequence": table.sequence,
            "$createdAt": "2026-12-07T00:00:00.000+00:00",
            "$updatedAt": "2026-12-07T00:00:00.000+00:00",
            "$permissions": perms,
            "data": {"status": "queued", "topic": "x"} | data,
        }

    double.call(write)


def row_of(double: AppwriteDoubleThread, row_id: str) -> dict[str, Any]:
    return double.rows("scenefarm", "videos")[row_id]


class BrokenKube(FakeKube):
    """Kubernetes that fails in given ways for given request names."""

    def __init__(self) -> None:
        super().__init__()
        self.fail: dict[str, list[BaseException]] = {}

    async def create(self, obj: Mapping[str, Any]) -> bool:
        queue = self.fail.get(obj["metadata"]["name"]) or []
        if queue:
            raise queue.pop(0)
        return await super().create(obj)


async def test_a_row_whose_take_raises_anything_is_refused_and_the_next_row_still_becomes_a_request(
    double, config, schema
) -> None:
    alice, kube = User(double), BrokenKube()
    alice.submit("poison")
    alice.submit("fine")
    plant(double, "surrogate", alice.id, topic="Newton \ud800 laws")
    # What httpx does with a lone surrogate in a body: UnicodeEncodeError, inside the create.
    kube.fail["web-poison"] = [UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")]
    loop = intake(config, kube)
    await loop.poll_once()
    assert row_of(double, "poison")["status"] == "failed"
    assert "error on our side" in row_of(double, "poison")["error_message"]
    assert "not valid text" in row_of(double, "surrogate")["error_message"]
    assert sorted(kube.objects) == ["web-fine"]
    assert await loop.poll_once() == 0  # refused once, never taken again


async def test_transport_errors_back_off_and_the_row_is_taken_once_they_pass(double, config, schema) -> None:
    alice, kube = User(double), BrokenKube()
    alice.submit("blip")
    kube.fail["web-blip"] = [httpx2.ReadTimeout("read timed out"), httpx2.ConnectError("refused")]
    runner = IntakeRunner(intake(config, kube, **{}), restart_backoff=QUICK)
    runner.intake.poll_seconds = 0.05
    runner.start()
    try:
        for _ in range(2400):  # up to 2 min on a loaded machine; the backoff is 0.01 s doubling to 0.05 s
            if "web-blip" in kube.objects:
                break
            await asyncio.sleep(0.05)
        assert "web-blip" in kube.objects
        assert runner.running and runner.restarts == 0 and runner.health()["healthy"]
        assert row_of(double, "blip")["status"] == "planning"
    finally:
        await runner.stop()
        runner.close()


async def test_a_crashed_loop_is_restarted_and_its_health_shows_it(double, config, schema) -> None:
    loop = intake(config, FakeKube())
    crashes = [RuntimeError("a bug")]
    real = loop.poll_once
    passes: list[int] = []

    async def poll_once() -> int:
        if crashes:
            raise crashes.pop()
        passes.append(await real())
        return passes[-1]

    loop.poll_once = poll_once  # type: ignore[method-assign]
    loop.poll_seconds = 0.05
    runner = IntakeRunner(loop, restart_backoff=QUICK)
    runner.start()
    try:
        for _ in range(2400):  # until the restarted loop has gone round twice (up to 2 min when loaded)
            if len(passes) >= 2:
                break
            await asyncio.sleep(0.05)
        health = runner.health()
        assert len(passes) >= 2 and health["restarts"] == 1 and "a bug" in health["lastCrash"]
        assert health["running"] and health["healthy"]
        assert runner.stats()["up"] == 1.0
    finally:
        await runner.stop()
        runner.close()
    assert runner.health()["healthy"]  # stopped on purpose is not dead


async def test_a_guest_cannot_cancel_a_request_the_row_did_not_make(double, config, schema) -> None:
    guest, kube = User(double), FakeKube()
    # A request made with kubectl in the intake namespace, named as if from row "foo".
    kube.objects["web-foo"] = {
        "metadata": {"name": "web-foo", "labels": {}, "annotations": {}},
        "spec": {"topic": "not yours"},
        "status": {"phase": "Running"},
    }
    guest.submit(
        "foo", status="rendering", cancel_requested=True, k8s_uid="3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
    )
    guest.submit("web-foo", status="rendering", cancel_requested=True)  # no uid: a forged new row
    await intake(config, kube).poll_once()
    assert "status is 'rendering'" in row_of(double, "web-foo")["error_message"]
    assert kube.cancelled == [] and "cancel" not in kube.objects["web-foo"]["spec"]
    assert row_of(double, "foo")["status"] == "failed"
    assert "web-foo belongs to another request" in row_of(double, "foo")["error_message"]


async def test_another_users_row_with_the_same_id_cannot_cancel_a_web_request(double, config, schema) -> None:
    alice, mallory, kube = User(double), User(double), FakeKube()
    alice.submit("mine")
    loop = intake(config, kube)
    await loop.poll_once()
    # Mallory's row names Alice's request (a forged k8s_name) and asks for a cancel.
    mallory.submit("other", status="rendering", cancel_requested=True, k8s_name="web-mine")
    await loop.poll_once()
    assert kube.cancelled == []
    assert row_of(double, "other")["status"] == "failed"


async def test_a_name_collision_is_refused_and_leaves_the_other_request_alone(double, config, schema) -> None:
    mallory, kube = User(double), FakeKube()
    kube.objects["web-taken"] = {
        "metadata": {
            "name": "web-taken",
            "labels": {},
            "annotations": {},
            "creationTimestamp": "2999-01-01T00:00:00Z",
        },
        "spec": {"topic": "someone else's"},
        "status": {"phase": "Running"},
    }
    mallory.submit("taken")
    loop = intake(config, kube)
    await loop.poll_once()
    refused = row_of(double, "taken")
    assert refused["status"] == "failed" and "belongs to another request" in refused["error_message"]
    assert refused["k8s_name"] is None  # never pointed at the other request
    assert kube.objects["web-taken"]["spec"] == {"topic": "someone else's"}
    assert await intake(config, kube).poll_once() == 0  # a restart does not take it again


async def test_a_row_with_a_preset_uid_or_operator_columns_is_refused_with_a_message(double, config, schema):
    mallory, kube = User(double), FakeKube()
    mallory.submit("uid", k8s_uid="3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b")
    mallory.submit("done", status="completed", combined_video_url="someone-elses-file")
    mallory.submit("ghost", status="rendering")
    await intake(config, kube).poll_once()
    assert "k8s_uid" in row_of(double, "uid")["error_message"] and row_of(double, "uid")["status"] == "failed"
    assert "status is 'rendering'" in row_of(double, "ghost")["error_message"]
    assert kube.objects == {}


async def test_guests_from_one_address_share_a_per_source_cap_and_all_share_a_global_one(
    double, config, schema
) -> None:
    guests, kube = [User(double) for _ in range(4)], FakeKube()
    for n, guest in enumerate(guests):
        guest.submit(f"g{n}")
    await intake(config, kube, max_active_per_source=2).poll_once()
    assert sorted(kube.objects) == ["web-g0", "web-g1"]  # every guest is a new user, all from 127.0.0.1
    assert "Your network has 2 videos in progress" in row_of(double, "g2")["error_message"]
    kube2 = FakeKube()
    for n, guest in enumerate(guests):
        guest.submit(f"h{n}")
    await intake(config, kube2, max_active_total=3).poll_once()
    assert (
        len(kube2.objects) == 3
        and "The service is rendering 3 videos" in row_of(double, "h3")["error_message"]
    )


async def test_guests_may_be_turned_away_in_the_operator_and_in_the_project(double, config, schema) -> None:
    guest, kube = User(double), FakeKube()
    guest.submit("anon")
    await intake(config, kube, anonymous=False).poll_once()
    assert "Guests may not submit here" in row_of(double, "anon")["error_message"] and kube.objects == {}
    with AppwriteDoubleThread(anonymous_sessions=False) as closed:
        answer = requests.post(
            f"{closed.endpoint}/account/sessions/anonymous",
            headers={"x-appwrite-project": closed.double.project},
            timeout=5,
        )
        assert (answer.status_code, answer.json()["type"]) == (501, "user_auth_method_unsupported")


@pytest.mark.parametrize("refusal_status", [400])
async def test_a_row_whose_refusal_cannot_be_written_is_skipped_and_does_not_block_the_others(
    double, config, schema, refusal_status
) -> None:
    alice, kube = User(double), FakeKube()
    alice.submit("stuck", quality="fourk")
    alice.submit("after")
    double.inject(
        Fault(
            method="PATCH",
            path="/v1/tablesdb/scenefarm/tables/videos/rows/stuck",
            status=refusal_status,
            times=100,
        )
    )
    loop = intake(config, kube)
    await loop.poll_once()
    assert "stuck" in loop.skipped and sorted(kube.objects) == ["web-after"]
    assert await loop.poll_once() == 0


async def test_the_intakes_health_reaches_the_metrics_endpoint(double, config, schema) -> None:
    from scenefarm_operator.observe.metrics import _intake_families
    from scenefarm_operator.web.handlers import WebPath, intake_health, stats_of

    runner = IntakeRunner(intake(config, FakeKube()), restart_backoff=QUICK)
    web = WebPath(code_files=None, intake=runner)  # type: ignore[arg-type]
    runner.start()
    try:
        await asyncio.sleep(0.1)
        stats = stats_of(None, web)() or {}
        families = {f.name: f.samples[0].value for f in _intake_families(stats)}
        assert families["scenefarm_intake_up"] == 1.0 and families["scenefarm_intake_restarts"] == 0
        assert intake_health(web)["healthy"]  # type: ignore[index]
        task = runner.task
        assert task is not None
        task.cancel()  # a dead loop: unhealthy, up 0
        await asyncio.wait([task])
        assert not intake_health(web)["healthy"]  # type: ignore[index]
        assert {f.name: f.samples[0].value for f in _intake_families(stats_of(None, web)() or {})}[
            "scenefarm_intake_up"
        ] == 0.0
    finally:
        await runner.stop()
        runner.close()


async def test_the_pages_retry_and_delete_flags_reach_the_users_own_request(double, config, schema) -> None:
    alice, kube = User(double), FakeKube()
    alice.submit("bad-scene")
    alice.submit("refused", quality="fourk")
    loop = intake(config, kube)
    await loop.poll_once()

    def mirrored(row: str, status: str) -> None:  # what the mirror writes as the request ends
        uid = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
        double.call(
            lambda: (
                double.double.tablesdb.tables[("scenefarm", "videos")]
                .rows[row]["data"]
                .update({"k8s_uid": uid, "status": status})
            )
        )

    def update(row: str, **data: Any) -> None:
        answer = alice.http.patch(
            f"{alice.endpoint}/tablesdb/scenefarm/tables/videos/rows/{row}", json={"data": data}, timeout=5
        )
        assert answer.status_code == 200, answer.text

    kube.objects["web-bad-scene"]["status"]["phase"] = "Failed"
    mirrored("bad-scene", "failed")
    update("bad-scene", retry_requested=1)
    await loop.poll_once()
    assert kube.objects["web-bad-scene"]["spec"]["retryGeneration"] == 1
    assert double.rows("scenefarm", "videos")["bad-scene"]["retry_requested"] == 0  # served: cleared
    update("bad-scene", retry_requested=1)  # clicked again before the retry was served: no second one
    await loop.poll_once()
    assert kube.objects["web-bad-scene"]["spec"]["retryGeneration"] == 1
    kube.objects["web-bad-scene"]["status"]["retryGeneration"] = 1  # served, and failed again
    update("bad-scene", retry_requested=1)  # the page's count after the clear: 0 + 1
    await loop.poll_once()
    assert kube.objects["web-bad-scene"]["spec"]["retryGeneration"] == 2
    update("bad-scene", delete_requested=True)
    update("refused", delete_requested=True)  # no request was made from it: the row goes
    await loop.poll_once()
    assert "web-bad-scene" not in kube.objects  # the mirror deletes its rows after the request
    assert "refused" not in double.rows("scenefarm", "videos")
    alice.submit("sneaky", retry_requested=3)  # a new row cannot come with the flags set
    await loop.poll_once()
    sneaky = double.rows("scenefarm", "videos")["sneaky"]
    assert sneaky["status"] == "failed" and "cannot ask for a retry or a delete" in sneaky["error_message"]


async def test_stop_ends_the_loop_even_when_a_cancellation_is_lost_on_the_way(double, config, schema) -> None:
    """On Python 3.11 asyncio.wait_for swallows a cancellation that arrives as its call completes
    (gh-86296): the loop then polls on, and a stop that cancels once waited for ever (CI hung 300 s)."""
    loop = intake(config, FakeKube())
    lost: list[int] = []

    async def run() -> None:
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if lost:
                    raise
                lost.append(1)  # the first cancellation vanishes, as inside wait_for

    loop.run = run  # type: ignore[method-assign]
    runner = IntakeRunner(loop, restart_backoff=QUICK)
    runner.start()
    await asyncio.sleep(0.05)
    task = runner.task
    assert task is not None
    stopping = asyncio.ensure_future(runner.stop())
    done, _ = await asyncio.wait({stopping}, timeout=30)  # (no cancel of its own reaching the loop)
    task.cancel()  # whatever happened: leave nothing running
    assert stopping in done and lost == [1] and task.done()
    runner.close()


# ---- flags nobody can hold back, caps nobody can reset ---------------------------------------


def fail(double: AppwriteDoubleThread, row_id: str) -> None:
    """What the mirror writes on a row whose request failed."""
    uid = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
    double.call(
        lambda: (
            double.double.tablesdb.tables[("scenefarm", "videos")]
            .rows[row_id]["data"]
            .update({"k8s_uid": uid, "status": "failed"})
        )
    )


def flag(user: User, row_id: str, **data: Any) -> None:
    answer = user.http.patch(
        f"{user.endpoint}/tablesdb/scenefarm/tables/videos/rows/{row_id}", json={"data": data}, timeout=5
    )
    assert answer.status_code == 200, answer.text


async def test_sixty_refused_delete_flags_of_one_user_do_not_hold_back_another_users_delete(
    double, config, schema
) -> None:
    mallory, alice, kube = User(double), User(double), FakeKube()
    shared = [f'read("user:{mallory.id}")', 'read("any")', f'update("user:{mallory.id}")']
    for n in range(60):  # rows no request was made from, that anyone may read: each delete is refused
        body = {"rowId": f"m{n}", "data": {"topic": "x", "status": "failed", "delete_requested": True}}
        answer = mallory.http.post(
            f"{mallory.endpoint}/tablesdb/scenefarm/tables/videos/rows",
            json=body | {"permissions": shared},
            timeout=5,
        )
        assert answer.status_code == 201, answer.text
    alice.submit("alice1")
    loop = intake(config, kube)
    await loop.poll_once()
    assert "web-alice1" in kube.objects
    flag(alice, "alice1", delete_requested=True)
    await loop.poll_once()  # one pass
    assert "web-alice1" not in kube.objects
    blocker = row_of(double, "m7")
    assert blocker["delete_requested"] is False and "exactly one user" in blocker["error_message"]


async def test_sixty_retry_flags_without_a_request_do_not_hold_back_another_users_retry(
    double, config, schema
) -> None:
    mallory, alice, kube = User(double), User(double), FakeKube()
    for n in range(60):  # rows that claim to have failed, with no request to retry
        mallory.submit(f"m{n}", status="failed", retry_requested=1)
    alice.submit("alice1")
    loop = intake(config, kube)
    await loop.poll_once()
    kube.objects["web-alice1"]["status"]["phase"] = "Failed"
    fail(double, "alice1")
    flag(alice, "alice1", retry_requested=1)
    await loop.poll_once()  # one pass
    assert kube.objects["web-alice1"]["spec"]["retryGeneration"] == 1
    assert row_of(double, "alice1")["retry_requested"] == 0  # the count was served: the row leaves the query
    blocker = row_of(double, "m7")
    assert blocker["retry_requested"] == 0 and "no request of this row to retry" in blocker["error_message"]


class SlowDeleteKube(FakeKube):
    """A deletion that waits on a finalizer: the request stays, its row keeps its delete flag."""

    async def delete(self, namespace: str, name: str) -> None:
        self.objects[name]["metadata"]["deletionTimestamp"] = "2026-12-07T00:00:00Z"


async def test_flags_that_stay_set_are_read_in_turn_so_a_later_row_is_reached_within_passes(
    double, config, schema
) -> None:
    mallory, alice, kube = User(double), User(double), SlowDeleteKube()
    for n in range(60):  # requests being deleted: their rows stay in the delete query meanwhile
        plant(double, f"m{n}", mallory.id, status="rendering", delete_requested=True)
        body = video_request({"$id": f"m{n}", "topic": "x"}, mallory.id, "web", Limits())
        kube.objects[f"web-m{n}"] = body | {"status": {"phase": "Running"}}
    alice.submit("alice1")
    loop = intake(config, kube, max_active_total=100)
    loop.flag_pages = 1  # 50 rows of each flag query a pass
    await loop.poll_once()
    await loop.poll_once()  # the second page of unfinished rows: Alice's
    flag(alice, "alice1", delete_requested=True)
    passes = 0
    while "deletionTimestamp" not in kube.objects["web-alice1"]["metadata"]:
        passes += 1
        assert passes <= 2, "the same first page every pass"
        await loop.poll_once()


async def test_deleting_requests_does_not_give_the_daily_cap_back(double, config, schema) -> None:
    alice, kube = User(double), FakeKube()
    alice.submit("r1")
    alice.submit("r2")
    loop = intake(config, kube, max_per_user_per_day=2, max_active_per_user=5)
    await loop.poll_once()
    assert sorted(kube.objects) == ["web-r1", "web-r2"]
    flag(alice, "r1", delete_requested=True)
    flag(alice, "r2", delete_requested=True)
    await loop.poll_once()  # the requests go
    await loop.poll_once()  # and, with no request left, their rows
    assert kube.objects == {} and "r1" not in double.rows("scenefarm", "videos")
    alice.submit("r3")
    await loop.poll_once()
    assert "You have asked for 2 videos in the last 24 hours" in row_of(double, "r3")["error_message"]
    alice.submit("r1")  # the same row id again is a new request too
    await intake(config, kube, max_per_user_per_day=2, max_active_per_user=5).poll_once()  # a restart
    assert "You have asked for 2 videos in the last 24 hours" in row_of(double, "r1")["error_message"]
    assert kube.objects == {}
    assert len(kube.configmaps["scenefarm-intake-ledger"]) == 2  # refusals are not counted
