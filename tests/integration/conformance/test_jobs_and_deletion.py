"""Jobs, defaulting, deletion, garbage collection, namespaces and finalizers as a real server answers.

Sources: pkg/apis/batch/validation/validation.go (validateJobSpec, ValidateJob,
ValidateJobSpecUpdate), pkg/apis/{batch,core}/v1/defaults.go, pkg/registry/batch/job/storage
(deleteOptionWarnings), pkg/registry/core/pod/strategy.go (status on create),
plugin/pkg/admission/namespace/lifecycle, apimachinery ValidateObjectMetaUpdate.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import kubernetes
import pytest
from kubernetes.client.rest import ApiException

from .conftest import job_body

T = TypeVar("T")


def wait_for(fn: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def refused(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)


@pytest.fixture(scope="module")
def batch(api: kubernetes.client.ApiClient) -> kubernetes.client.BatchV1Api:
    return kubernetes.client.BatchV1Api(api)


@pytest.fixture(scope="module")
def core(api: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api)


# -- Jobs: validation -------------------------------------------------------------------------


@pytest.mark.parametrize("restart", [None, "Always"])
def test_a_job_needs_restart_policy_on_failure_or_never(batch: Any, restart: str | None) -> None:
    code, status = refused(
        lambda: batch.create_namespaced_job("default", job_body(f"r-{restart or 'unset'}".lower(), restart))
    )
    assert code == 422
    assert (
        'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'
        in (status["message"])
    )


def test_immutable_job_fields_are_refused_on_update(batch: Any) -> None:
    batch.create_namespaced_job("default", job_body("frozen", completions=2, parallelism=1))
    for patch, field in (
        ({"spec": {"completions": 3}}, "spec.completions"),
        ({"spec": {"template": {"metadata": {"labels": {"x": "y"}}}}}, "spec.template"),
    ):
        code, status = refused(lambda patch=patch: batch.patch_namespaced_job("frozen", "default", patch))
        assert code == 422
        assert f"{field}: Invalid value" in status["message"]
        assert "field is immutable" in status["message"]
    # parallelism may change
    assert batch.patch_namespaced_job("frozen", "default", {"spec": {"parallelism": 2}}).spec.parallelism == 2


def test_success_policy_needs_indexed_completion(batch: Any) -> None:
    policy = {"rules": [{"succeededCount": 1}]}
    code, status = refused(
        lambda: batch.create_namespaced_job("default", job_body("sp", successPolicy=policy, completions=2))
    )
    assert code == 422
    assert "spec.successPolicy: Invalid value" in status["message"]
    assert "requires indexed completion mode" in status["message"]


def test_an_indexed_jobs_last_hostname_must_be_a_dns_label(batch: Any) -> None:
    name = "a" * 62  # a valid Job name; "<name>-1" is 64 characters
    code, status = refused(
        lambda: batch.create_namespaced_job(
            "default", job_body(name, completionMode="Indexed", completions=2, parallelism=1)
        )
    )
    assert code == 422
    assert f"will not able to create pod with invalid DNS label: {name}-1" in status["message"]
    # one character shorter fits: "<61 a>-1" is 63
    created = batch.create_namespaced_job(
        "default", job_body("b" * 61, completionMode="Indexed", completions=2, parallelism=1, suspend=True)
    )
    assert created.spec.completion_mode == "Indexed"


def test_a_job_managed_by_another_controller_gets_no_pods(batch: Any, core: Any) -> None:
    batch.create_namespaced_job("default", job_body("foreign", managedBy="example.com/other"))
    batch.create_namespaced_job("default", job_body("ours"))
    wait_for(
        lambda: core.list_namespaced_pod("default", label_selector="job-name=ours").items, 30, "ours' Pod"
    )
    assert core.list_namespaced_pod("default", label_selector="job-name=foreign").items == []
    assert batch.read_namespaced_job("foreign", "default").status.start_time is None


# -- defaulting ---------------------------------------------------------------------------------


def test_a_job_is_defaulted_as_set_defaults_job_pod_spec_and_container_do(batch: Any, kubectl: Any) -> None:
    job = batch.create_namespaced_job("default", job_body("defaults", suspend=True))
    spec = job.spec
    assert (spec.backoff_limit, spec.completions, spec.parallelism) == (6, 1, 1)
    assert (spec.completion_mode, spec.suspend, spec.manual_selector) == ("NonIndexed", True, False)
    assert spec.pod_replacement_policy == "TerminatingOrFailed"
    pod = spec.template.spec
    assert (pod.dns_policy, pod.scheduler_name, pod.termination_grace_period_seconds) == (
        "ClusterFirst",
        "default-scheduler",
        30,
    )
    assert pod.security_context is not None
    container = pod.containers[0]
    assert (container.termination_message_path, container.termination_message_policy) == (
        "/dev/termination-log",
        "File",
    )
    assert container.image_pull_policy == "IfNotPresent"  # a tag other than latest
    assert job.metadata.labels["batch.kubernetes.io/job-name"] == "defaults"  # from the template
    printed = kubectl("get", "job", "defaults", "-o", "jsonpath={.spec.backoffLimit}").stdout
    assert printed == "6"


def test_a_pod_has_status_pending_and_a_qos_class_on_create(core: Any) -> None:
    body = {
        "metadata": {"name": f"p-{uuid.uuid4().hex[:6]}"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "0"]}],
        },
    }
    pod = core.create_namespaced_pod("default", body)
    assert (pod.status.phase, pod.status.qos_class) == ("Pending", "BestEffort")
    assert pod.spec.containers[0].image_pull_policy == "Always"  # no tag means latest
    assert pod.spec.enable_service_links is True
    assert {t.key for t in pod.spec.tolerations} >= {
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    }


# -- deletion and garbage collection --------------------------------------------------------------


def test_deleting_a_batch_v1_job_without_options_orphans_its_pods_with_a_warning(
    batch: Any, core: Any
) -> None:
    batch.create_namespaced_job("default", job_body("orphaner"))
    pods = wait_for(
        lambda: core.list_namespaced_pod("default", label_selector="job-name=orphaner").items, 30, "a Pod"
    )
    _, code, headers = batch.delete_namespaced_job_with_http_info("orphaner", "default")
    assert code == 200
    assert "child pods are preserved by default when jobs are deleted" in headers["Warning"]
    assert headers["Warning"].startswith("299 ")
    pod = core.read_namespaced_pod(pods[0].metadata.name, "default")
    assert not pod.metadata.owner_references  # orphaned: the reference is gone, the Pod stays


def test_the_garbage_collector_removes_dependents_of_a_vanished_owner_on_its_own(core: Any) -> None:
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "dependent", "ownerReferences": [ref]}}
    )
    dangling = dict(ref, uid=str(uuid.uuid4()), name="never-was")
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "dangling", "ownerReferences": [dangling]}}
    )
    core.delete_namespaced_config_map("owner", "default")

    def gone(name: str) -> bool:
        try:
            core.read_namespaced_config_map(name, "default")
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(lambda: gone("dependent"), 10, "the dependent to be collected")
    wait_for(lambda: gone("dangling"), 10, "the dependent of a never-existing owner to be collected")


def test_a_namespace_is_terminating_until_empty_and_refuses_new_content(core: Any) -> None:
    core.create_namespace({"metadata": {"name": "doomed"}})
    core.create_namespaced_config_map(
        "doomed", {"metadata": {"name": "held", "finalizers": ["example.com/x"]}}
    )
    core.delete_namespace("doomed")
    assert core.read_namespace("doomed").status.phase == "Terminating"
    code, status = refused(lambda: core.create_namespaced_config_map("doomed", {"metadata": {"name": "new"}}))
    assert code == 403
    assert (
        "unable to create new content in namespace doomed because it is being terminated"
        in (status["message"])
    )
    held = core.read_namespaced_config_map("held", "doomed")
    assert held.metadata.deletion_timestamp is not None
    # adding a finalizer to an object being deleted: 422
    code, status = refused(
        lambda: core.patch_namespaced_config_map(
            "held", "doomed", {"metadata": {"finalizers": ["example.com/x", "example.com/y"]}}
        )
    )
    assert code == 422
    assert "no new finalizers can be added if the object is being deleted" in status["message"]
    core.patch_namespaced_config_map("held", "doomed", {"metadata": {"finalizers": None}})

    def namespace_gone() -> bool:
        try:
            core.read_namespace("doomed")
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(namespace_gone, 10, "the emptied namespace to go")
