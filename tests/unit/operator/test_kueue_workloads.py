"""Kueue's Workloads are read in its storage version (v1beta2), falling back to v1beta1, and only
those of the given Jobs (Kueue's job-uid label), never the whole namespace."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import pytest
from lightkube.core.exceptions import ApiError

from scenefarm_operator.runtime import kube


def api_error(code: int) -> ApiError:
    response = httpx.Response(code, json={"kind": "Status", "code": code, "message": "not served"})
    return ApiError(response=response)  # type: ignore[arg-type]


class Listing:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def __aiter__(self) -> Any:
        async def gen() -> Any:
            for item in self.items:
                yield type("W", (), {"to_dict": lambda self, i=item: i})()

        return gen()


class FakeClient:
    def __init__(self, served: tuple[str, ...]) -> None:
        self.served = served
        self.calls: list[tuple[str, Any]] = []

    def list(self, resource: Any, namespace: str, labels: Any) -> Any:
        version = resource._api_info.resource.version
        self.calls.append((version, labels))
        if version not in self.served:
            raise api_error(404)
        return Listing([{"apiVersion": f"kueue.x-k8s.io/{version}", "kind": "Workload"}])


@pytest.mark.parametrize(("served", "used"), [(("v1beta2", "v1beta1"), "v1beta2"), (("v1beta1",), "v1beta1")])
async def test_workloads_are_read_in_v1beta2_else_v1beta1_by_job_uid(monkeypatch, served, used) -> None:
    fake = FakeClient(served)
    monkeypatch.setattr(kube, "_client", fake)
    found = await kube.kueue_workloads("videos", ["uid-b", "uid-a"])
    assert [w["apiVersion"] for w in found] == [f"kueue.x-k8s.io/{used}"]
    assert fake.calls[0][0] == "v1beta2"
    selector = fake.calls[-1][1][kube.KUEUE_JOB_UID_LABEL]
    assert (selector.op, sorted(selector.value)) == ("in", ["uid-a", "uid-b"])


async def test_no_held_job_reads_nothing_and_kueue_missing_reads_as_none(monkeypatch) -> None:
    fake = FakeClient(())
    monkeypatch.setattr(kube, "_client", fake)
    assert await kube.kueue_workloads("videos", []) == [] and fake.calls == []
    assert await kube.kueue_workloads("videos", ["uid-a"]) == []
    assert [v for v, _ in fake.calls] == ["v1beta2", "v1beta1"]
