import json
import time
from collections.abc import Mapping
from typing import Any

from scenefarm_operator.observe import eta
from scenefarm_operator.observe.accounting import Accountant
from scenefarm_operator.observe.telemetry import Change, Telemetry
from scenefarm_operator.support.settings import Settings

PRICES = json.dumps({"gemini-2.5-flash": {"inputPerMillion": 1.0, "outputPerMillion": 2.0}})


class Cluster:
    def __init__(self) -> None:
        self.configmaps: dict[tuple[str, str], dict[str, str]] = {}
        self.patches: list[tuple[str, dict[str, Any]]] = []

    async def read(self, namespace: str, name: str) -> Mapping[str, str] | None:
        return self.configmaps.get((namespace, name))

    async def write(self, namespace: str, name: str, data: Mapping[str, str]) -> None:
        self.configmaps.setdefault((namespace, name), {}).update(data)

    async def patch(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        self.patches.append((name, dict(status)))


def accountant(cluster: Cluster) -> Accountant:
    settings = Settings(llm_prices=PRICES)
    return Accountant(settings, Telemetry(), cluster.read, cluster.write, cluster.patch)


def body(phase: str, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "videos", "name": "newton", "uid": "u-1"},
        "spec": {"topic": "t", "planner": {"mode": "Gemini"}, "render": {"quality": "low", "parallelism": 2}},
        "status": {"phase": phase, **status},
    }


async def test_a_request_in_progress_gets_an_estimate_and_its_llm_cost() -> None:
    cluster = Cluster()
    planner = {"mode": "Gemini", "promptTokens": 1_000_000, "candidateTokens": 500_000, "calls": 2}
    scenes = [{"index": i, "phase": "Queued"} for i in range(4)]
    before = time.time()
    await accountant(cluster).on_request(
        body("Rendering", scenes=scenes, planner=planner), Change(None, "Rendering")
    )
    after = time.time()
    ((_, patch),) = cluster.patches
    # 4 scenes on 2 slots = two waves of the prior, then the combine (published to the second)
    rest = 2 * eta.PRIOR_SECONDS["low"] + eta.PRIOR_SECONDS["combine"]
    assert before + rest - 1 <= eta.parse_time(patch["estimatedCompletionTime"]) <= after + rest
    assert patch["cost"]["llmCalls"] == 2 and patch["cost"]["llmCostUSD"] == "2.000000"


async def test_nothing_is_patched_when_nothing_changed() -> None:
    cluster = Cluster()
    acc = accountant(cluster)
    await acc.on_request(body("Rendering"), Change(None, "Rendering"))
    published = cluster.patches[-1][1]
    await acc.on_request(body("Rendering", **published), Change("Rendering", "Rendering"))
    assert len(cluster.patches) == 1


async def test_a_finished_request_loses_its_estimate() -> None:
    cluster = Cluster()
    await accountant(cluster).on_request(
        body("Succeeded", estimatedCompletionTime="2026-11-28T10:00:00Z", cost={"llmCalls": 0}),
        Change("Combining", "Succeeded"),
    )
    assert cluster.patches[0][1]["estimatedCompletionTime"] is None


async def test_scene_durations_are_learned_and_stored_for_the_next_process() -> None:
    cluster = Cluster()
    acc = accountant(cluster)
    await acc.on_request(
        body("Rendering"), Change("Rendering", "Rendering", finished_scenes=(30.0, 50.0), combine_seconds=4.0)
    )
    await acc.close()  # flushes
    stored = eta.stats_from_data(cluster.configmaps[("videos", eta.CONFIGMAP)])
    assert stored["low"].count == 2 and stored["combine"].mean == 4.0
    restarted = accountant(cluster)
    assert (await restarted._stats("videos"))["low"] == stored["low"]


async def test_the_plan_configmap_is_read_only_when_the_status_does_not_carry_the_usage() -> None:
    cluster = Cluster()
    usage = {"prompt_tokens": 10, "candidate_tokens": 20, "calls": 1}
    cluster.configmaps[("videos", "newton-plan")] = {"plan.json": json.dumps({"usage": usage})}
    await accountant(cluster).on_request(body("Rendering"), Change(None, "Rendering"))
    assert cluster.patches[0][1]["cost"]["llmCandidateTokens"] == 20


async def test_the_reconcile_write_carries_the_eta_and_cost_and_the_accountant_then_writes_nothing() -> None:
    cluster = Cluster()
    acc = accountant(cluster)
    scenes = [{"index": i, "phase": "Pending"} for i in range(4)]
    proposed = body("Rendering", scenes=scenes)

    fields = await acc.fields(proposed, {})  # what the server has: nothing yet

    assert set(fields) == {"estimatedCompletionTime", "cost"}
    # the status as written (the reconcile's fields and these) comes back through the watch
    written = body("Rendering", scenes=scenes, **fields)
    await acc.on_request(written, Change("Rendering", "Rendering"))
    assert cluster.patches == []
    assert await acc.fields(written, written["status"]) == {}  # the next write: nothing changed


async def test_a_request_the_reconcile_has_not_published_yet_gets_no_write_of_its_own() -> None:
    cluster = Cluster()
    fresh = body("")
    fresh["status"] = {}
    await accountant(cluster).on_request(fresh, Change(None, "Pending"))
    assert cluster.patches == []
