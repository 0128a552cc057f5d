"""The dev API server checks Indexed Jobs as pkg/apis/batch/validation does, with its messages."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import Client

JOBS = "/apis/batch/v1/namespaces/default/jobs"


def job(name: str = "chunks", **spec: Any) -> dict[str, Any]:
    container = {"name": "render", "image": "renderer:1"}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container]}}, **spec},
    }


INDEXED: dict[str, Any] = {"completionMode": "Indexed", "completions": 3, "parallelism": 3}


async def test_a_chunk_shaped_indexed_job_is_accepted(client: Client) -> None:
    policy = {
        "rules": [
            {
                "action": "FailJob",
                "onExitCodes": {"containerName": "render", "operator": "In", "values": [10, 11]},
            },
            {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [42]}},
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        ]
    }
    body = job(**INDEXED, backoffLimitPerIndex=2, maxFailedIndexes=0, podFailurePolicy=policy)
    status, answer = await client.post(JOBS, body)
    assert status == 201, answer
    assert answer["spec"]["completionMode"] == "Indexed" and answer["spec"]["maxFailedIndexes"] == 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"completionMode": "Indexed", "parallelism": 2},
            "spec.completions: Required value: when completion mode is Indexed",
        ),
        (
            {"completions": 3, "backoffLimitPerIndex": 1},
            "spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode",
        ),
        (
            {**INDEXED, "maxFailedIndexes": 1},
            "spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified",
        ),
        (
            {
                "completionMode": "NonIndexed",
                "completions": 3,
                "backoffLimitPerIndex": 1,
                "maxFailedIndexes": 0,
            },
            "[spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode, "
            "spec.maxFailedIndexes: Invalid value: 0: requires indexed completion mode]",
        ),
        (
            {**INDEXED, "backoffLimitPerIndex": 1, "maxFailedIndexes": 4},
            "spec.maxFailedIndexes: Invalid value: 4: must be less than or equal to completions",
        ),
        (
            {**INDEXED, "backoffLimitPerIndex": -1},
            "spec.backoffLimitPerIndex: Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            {
                "completionMode": "Indexed",
                "completions": 100_001,
                "parallelism": 4,
                "backoffLimitPerIndex": 1,
            },
            "spec.maxFailedIndexes: Required value: must be specified when completions is above 100000",
        ),
        (
            {"completionMode": "Sorted", "completions": 3},
            'spec.completionMode: Unsupported value: "Sorted": supported values: "NonIndexed", "Indexed"',
        ),
        (
            {
                **INDEXED,
                "podFailurePolicy": {
                    "rules": [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [1]}}]
                },
            },
            'spec.podFailurePolicy.rules[0].action: Invalid value: "FailIndex": '
            "requires the backoffLimitPerIndex to be set",
        ),
    ],
)
async def test_indexed_job_rules(client: Client, spec: dict[str, Any], message: str) -> None:
    status, answer = await client.post(JOBS, job(**spec))
    assert status == 422, answer
    assert answer["message"] == f'Job.batch "chunks" is invalid: {message}'


async def test_completion_mode_and_backoff_limit_per_index_are_immutable(client: Client) -> None:
    status, _ = await client.post(JOBS, job(**INDEXED, backoffLimitPerIndex=1))
    assert status == 201
    status, answer = await client.patch(f"{JOBS}/chunks", {"spec": {"completionMode": "NonIndexed"}})
    assert status == 422, answer
    assert 'spec.completionMode: Invalid value: "NonIndexed": field is immutable' in answer["message"]
    status, answer = await client.patch(f"{JOBS}/chunks", {"spec": {"backoffLimitPerIndex": 2}})
    assert status == 422, answer
    assert "spec.backoffLimitPerIndex: Invalid value: 2: field is immutable" in answer["message"]
    # A Job created without a completion mode is NonIndexed: saying so is no change.
    status, _ = await client.post(JOBS, job("plain", completions=1))
    assert status == 201
    status, answer = await client.patch(f"{JOBS}/plain", {"spec": {"completionMode": "NonIndexed"}})
    assert status == 200, answer
