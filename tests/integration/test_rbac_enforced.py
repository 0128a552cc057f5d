"""The chart's RBAC, enforced by the dev cluster on the operator: sufficient, necessary, minimal.

The dev cluster loads the ClusterRole and binding `helm template` renders and answers every
request of the operator's identity that they do not allow with 403, as a cluster would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Event
from lightkube.resources.rbac_authorization_v1 import ClusterRole

from scenefarm_devkit.chart_rbac import CHART
from scenefarm_devkit.devenv import DevEnv
from scenefarm_operator.runtime.kube import VideoRequest

from .conftest import create, jobs_of, status_of, video_request, wait_for, wait_terminal

pytestmark = pytest.mark.integration

# The operator runs as the chart's default: all namespaces, one replica (kopf --standalone).
ACTIVE_CONDITIONS = {"always", "clusterwide"}
TTL_SECONDS = 4


class Call(NamedTuple):
    group: str
    resource: str
    subresource: str
    verb: str


def operator_calls(env: DevEnv) -> list[Any]:
    return [r for r in env.cluster.request_log if r.identity == "operator" and r.verb]


def requirements() -> list[dict[str, Any]]:
    return list(yaml.safe_load((CHART / "rbac-requirements.yaml").read_text())["requirements"])


def required(entries: list[dict[str, Any]]) -> set[Call]:
    return {
        Call(e["group"], e["resource"], e.get("subresource", ""), verb)
        for e in entries
        if e["when"] in ACTIVE_CONDITIONS
        for verb in e["verbs"]
    }


def explained(entries: list[dict[str, Any]]) -> set[Call]:
    """Permissions the file says the suite does not exercise, each with its reason."""
    return {
        Call(e["group"], e["resource"], e.get("subresource", ""), verb)
        for e in entries
        for verb, why in (e.get("notExercised") or {}).items()
        if why.strip()
    }


class Run(NamedTuple):
    env: DevEnv
    status: dict[str, Any]
    calls: set[Call]
    denied: list[Any]
    output_written: bool  # the video was in the store when the request succeeded


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Two real low-quality scenes rendered and combined under the chart's RBAC; then TTL deletion."""
    with DevEnv(tmp_path_factory.mktemp("rbac"), rbac_from_chart=True) as env:
        env.start_operator()
        client = env.client()
        body = video_request(
            "rbac-shapes",
            [
                ("circle", "self.add(Circle()); self.wait(0.3)"),
                ("square", "self.add(Square()); self.wait(0.3)"),
            ],
            ttlSecondsAfterFinished=TTL_SECONDS,
        )
        create(client, body)
        try:
            status = wait_terminal(client, "rbac-shapes")
            output = status.get("output") or {}
            written = "uri" in output and env.artifact_path("default", output["uri"]).is_file()
            # The TTL deletes the request; kopf then removes its finalizer: the deletion path runs too.
            wait_for(lambda: not _exists(client, "rbac-shapes"), 60, "the request to be deleted by its TTL")
        except AssertionError as e:
            refused = {(r.verb, r.resource, r.subresource) for r in operator_calls(env) if r.status == 403}
            raise AssertionError(f"{e}; requests of the operator refused with 403: {sorted(refused)}") from e
        # Watches are logged when they end: stop the operator so its long-running watches close.
        env.stop_operator()

        def watches_settled() -> set[Any] | None:  # every closed watch has reached the log
            before = {(r.group, r.resource) for r in operator_calls(env) if r.verb == "watch"}
            time.sleep(1.0)
            after = {(r.group, r.resource) for r in operator_calls(env) if r.verb == "watch"}
            return after if after and after == before else None

        wait_for(watches_settled, 20, "the operator's watches to be logged")
        log = operator_calls(env)
        calls = {Call(r.group, r.resource, r.subresource, r.verb) for r in log}
        yield Run(env, status, calls, [r for r in log if r.status == 403], written)


def _exists(client: Any, name: str) -> bool:
    try:
        client.get(VideoRequest, name, namespace="default")
    except ApiError as e:
        if e.status.code == 404:
            return False
        raise
    return True


def test_a_request_renders_to_the_end_with_only_the_charts_permissions(rendered: Run) -> None:
    assert rendered.status["phase"] == "Succeeded", rendered.status.get("message")
    assert [s["phase"] for s in rendered.status["scenes"]] == ["Succeeded", "Succeeded"]
    assert rendered.output_written
    # The TTL deleted the request: its files went with it (the clean-up ran under the chart's RBAC).
    assert not rendered.env.artifact_path("default", rendered.status["output"]["uri"]).exists()
    assert rendered.denied == []


def test_every_call_the_operator_made_is_listed_in_the_rbac_requirements(rendered: Run) -> None:
    assert rendered.calls - required(requirements()) == set()


def test_every_listed_permission_was_used_or_says_why_the_suite_does_not_use_it(rendered: Run) -> None:
    entries = requirements()
    unused = required(entries) - rendered.calls
    assert unused - explained(entries) == set()
    # An explanation for something the run did use is stale: remove it.
    assert explained(entries) & rendered.calls == set()


def test_without_jobs_create_the_request_stalls_and_the_operator_reports_403(tmp_path: Path) -> None:
    with DevEnv(tmp_path, instant=True, rbac_from_chart=True) as env:
        client = env.client()
        role = client.get(ClusterRole, "scenefarm")
        for rule in role.rules or []:
            if rule.resources == ["jobs"]:
                rule.verbs = [v for v in rule.verbs if v != "create"]
        client.replace(role)
        env.start_operator()
        create(client, video_request("no-jobs", [("only", "self.wait(0.2)")]))

        def denied() -> list[Any]:
            return [
                r for r in operator_calls(env) if (r.resource, r.verb, r.status) == ("jobs", "create", 403)
            ]

        wait_for(denied, 60, "the operator's Job creation to be refused")
        wait_for(lambda: len(denied()) >= 2, 60, "the operator to retry the refused Job creation")

        def reported() -> dict[str, Any] | None:
            status = status_of(client, "no-jobs")
            reconciling = next((c for c in status.get("conditions", []) if c["type"] == "Reconciling"), {})
            return status if reconciling.get("reason") == "ApiError" else None

        # Not progressing, and the refusal is visible on the resource: a condition and an Event.
        status = wait_for(reported, 30, "the refusal to show in the request's conditions")
        reconciling = next(c for c in status["conditions"] if c["type"] == "Reconciling")
        assert 'cannot create resource "jobs" in API group "batch"' in reconciling["message"]
        assert status.get("phase") in ("Pending", "Planning", "Rendering"), status
        assert jobs_of(client, "no-jobs") == []
        events = client.list(Event, namespace="default", fields={"involvedObject.name": "no-jobs"})
        assert any(e.reason == "ApiError" for e in events)
        log = (env.state_dir / "operator.log").read_text(errors="replace")
        assert 'cannot create resource "jobs" in API group "batch"' in log


def test_without_the_finalizers_grant_owner_reference_enforcement_refuses_the_children(
    tmp_path: Path,
) -> None:
    # OwnerReferencesPermissionEnforcement (OpenShift, hardened clusters): the plan ConfigMap and
    # every Job carry blockOwnerDeletion, which needs `update` on videorequests/finalizers.
    with DevEnv(tmp_path, instant=True, rbac_from_chart=True) as env:
        client = env.client()
        role = client.get(ClusterRole, "scenefarm")
        role.rules = [r for r in role.rules or [] if r.resources != ["videorequests/finalizers"]]
        client.replace(role)
        env.start_operator()
        create(client, video_request("no-finalizers", [("only", "self.wait(0.2)")]))

        def refused() -> list[Any]:
            return [
                r
                for r in operator_calls(env)
                if r.verb == "create" and r.resource in ("configmaps", "jobs") and r.status == 403
            ]

        wait_for(refused, 60, "the operator's child creation to be refused by admission")
        wait_for(
            lambda: (
                "cannot set blockOwnerDeletion"
                in (env.state_dir / "operator.log").read_text(errors="replace")
            ),
            30,
            "the refusal in the operator log",
        )
        assert jobs_of(client, "no-finalizers") == []
