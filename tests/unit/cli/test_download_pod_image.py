"""The download Pod runs the renderer image as the render ServiceAccount and uid, never a public
fallback image: from the request's own Jobs, else from the chart's annotation on the account."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ServiceAccount

from scenefarm_cli.errors import CliError, NotFound
from scenefarm_cli.fetch.volume import Store, pod_manifest, store_of
from scenefarm_contract.keys import RENDER_UID_ANNOTATION, RENDER_UID_ASSIGNED, RENDERER_IMAGE_ANNOTATION
from scenefarm_operator.engine.manifests import jobs as operator_manifests
from scenefarm_operator.engine.plan_store import SceneEntry
from scenefarm_operator.support.settings import Settings

REQUEST = {
    "apiVersion": "scenefarm.dev/v1alpha1",
    "kind": "VideoRequest",
    "metadata": {"name": "newton", "namespace": "videos", "uid": "0123456789abcdef"},
    "spec": {"topic": "Newton's laws"},
}
SCENE = SceneEntry(index=0, name="intro", class_name="Intro", revision=1, sha256="ab" * 32)
PRIVATE = "registry.internal/scenefarm/renderer@sha256:" + "c" * 64


class FakeClient:
    def __init__(self, jobs: list[dict[str, Any]], accounts: dict[str, dict[str, str]]) -> None:
        self.jobs, self.accounts = jobs, accounts

    def list(self, kind: type, namespace: str, labels: dict[str, str]) -> list[Any]:
        assert kind is Job and namespace == "videos"
        return [Job.from_dict(job) for job in self.jobs]

    def get(self, kind: type, name: str, namespace: str) -> Any:
        assert kind is ServiceAccount and namespace == "videos"
        if name not in self.accounts:
            raise NotFound(f"serviceaccount/{name} not found")
        return ServiceAccount.from_dict({"metadata": {"name": name, "annotations": self.accounts[name]}})


class FakeConnection:
    namespace = "videos"

    def __init__(self, client: FakeClient) -> None:
        self._client = client

    def client(self) -> FakeClient:
        return self._client

    @contextlib.contextmanager
    def talking(self, what: str) -> Iterator[None]:
        yield


def store(jobs: list[dict[str, Any]], accounts: dict[str, dict[str, str]], **flags: Any) -> Store:
    conn = FakeConnection(FakeClient(jobs, accounts))
    return store_of(conn, REQUEST, flags.get("claim"), flags.get("image"))  # type: ignore[arg-type]


def test_a_remaining_job_gives_image_claim_account_and_uid() -> None:
    settings = Settings(renderer_image=PRIVATE, render_service_account="renderers", artifact_claim="rwx")
    job = operator_manifests.scene_job(REQUEST, settings, SCENE, 1)
    got = store([job], {"renderers": {}})
    assert got == Store(
        claim="rwx", image=PRIVATE, service_account="renderers", run_as_user=10001, run_as_group=10001
    )
    assert store([job], {}, image="mine:1", claim="c").image == "mine:1"


def test_with_no_job_left_the_image_comes_from_the_render_accounts_annotation() -> None:
    got = store([], {"scenefarm-render": {RENDERER_IMAGE_ANNOTATION: PRIVATE}})
    assert (got.image, got.service_account, got.claim) == (PRIVATE, "scenefarm-render", "scenefarm-artifacts")
    pod = pod_manifest(REQUEST, got)
    assert pod["spec"]["serviceAccountName"] == "scenefarm-render"  # its imagePullSecrets pull the image
    assert pod["spec"]["containers"][0]["image"] == PRIVATE
    assert pod["spec"]["securityContext"]["runAsUser"] == 10001  # the render Pods' uid owns the files


def test_with_no_job_and_no_annotation_it_asks_for_the_image_instead_of_pulling_busybox() -> None:
    no_image: list[dict[str, dict[str, str]]] = [{}, {"scenefarm-render": {}}]
    for accounts in no_image:
        with pytest.raises(CliError, match="pass --image"):
            store([], accounts)
    got = store([], {}, image="registry.internal/renderer:1")
    assert got.image == "registry.internal/renderer:1"
    assert "serviceAccountName" not in pod_manifest(REQUEST, got)["spec"]  # no account to name


def test_a_job_without_a_fixed_uid_gives_a_pod_without_one() -> None:
    job = operator_manifests.scene_job(REQUEST, Settings(), SCENE, 1)
    job["spec"]["template"]["spec"]["securityContext"] = {"runAsNonRoot": True}
    context = pod_manifest(REQUEST, store([job], {"scenefarm-render": {}}))["spec"]["securityContext"]
    assert context["runAsNonRoot"] is True
    assert "runAsUser" not in context and "runAsGroup" not in context


def test_with_no_job_left_on_openshift_the_pod_fixes_no_uid() -> None:
    """The chart annotates the render account `render-uid: assigned` with `openshift: true`."""
    openshift = {RENDERER_IMAGE_ANNOTATION: PRIVATE, RENDER_UID_ANNOTATION: RENDER_UID_ASSIGNED}
    context = pod_manifest(REQUEST, store([], {"scenefarm-render": openshift}))["spec"]["securityContext"]
    assert "runAsUser" not in context and "runAsGroup" not in context
    plain = {RENDERER_IMAGE_ANNOTATION: PRIVATE, RENDER_UID_ANNOTATION: "10001"}
    assert store([], {"scenefarm-render": plain}).run_as_user == 10001
    job = operator_manifests.scene_job(REQUEST, Settings(), SCENE, 1)
    assert store([job], {"scenefarm-render": openshift}).run_as_user == 10001  # the Jobs' own uid wins
