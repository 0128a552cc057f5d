"""Pods of a Job, built like the real Job controller builds them."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from typing import Any

from lightkube.utils.quantity import parse_quantity

from scenefarm_devkit.jobrunner import indexed

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_JOB_NAME_LABEL = "job-name"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
# The real controller keeps this finalizer on Pods until it has counted them in Job status, so
# a Pod deleted right after it finished is still counted once.
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"

# The apiserver's generateName alphabet: no vowels (no words), no look-alike characters.
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def random_suffix(length: int = 5) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def build_pod(
    job: Mapping[str, Any], suffix: str | None = None, index: indexed.NewPod | None = None
) -> dict[str, Any]:
    """A Pod for `job` from its template: name `<job>-<5 random>`, job labels, owner, finalizer.

    With an `index` (Indexed Jobs), as the real controller: name `<job>-<i>-<5 random>`, the
    completion index as annotation and label, `JOB_COMPLETION_INDEX` in every container from the
    label (downward API), hostname `<job>-<i>`, and the index's failure counts as annotations.
    """
    meta = job["metadata"]
    template = copy.deepcopy(job["spec"]["template"])
    template_meta = template.get("metadata") or {}
    annotations = dict(template_meta.get("annotations") or {})
    labels = dict(template_meta.get("labels") or {})
    spec = template.get("spec") or {}
    prefix = f"{meta['name']}-"
    if index is not None:
        prefix = indexed.generate_name(meta["name"], index.index)
        annotations[indexed.COMPLETION_INDEX] = labels[indexed.COMPLETION_INDEX] = str(index.index)
        if index.failure_count is not None:
            annotations[indexed.FAILURE_COUNT] = str(index.failure_count)
        if index.ignored_failure_count:
            annotations[indexed.IGNORED_FAILURE_COUNT] = str(index.ignored_failure_count)
        spec["hostname"] = f"{meta['name']}-{index.index}"
        for kind in ("initContainers", "containers"):
            for container in spec.get(kind) or []:
                _add_index_env(container)
    labels.update(
        {
            JOB_NAME_LABEL: meta["name"],
            LEGACY_JOB_NAME_LABEL: meta["name"],
            CONTROLLER_UID_LABEL: meta["uid"],
            LEGACY_CONTROLLER_UID_LABEL: meta["uid"],
        }
    )
    owner = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    pod_meta: dict[str, Any] = {
        "name": f"{prefix}{suffix or random_suffix()}",
        "namespace": meta["namespace"],
        "labels": labels,
        "ownerReferences": [owner],
        "finalizers": [TRACKING_FINALIZER],
    }
    if annotations:
        pod_meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


def _add_index_env(container: dict[str, Any]) -> None:
    env = container.setdefault("env", [])
    if any(var.get("name") == indexed.COMPLETION_INDEX_ENV for var in env):
        return
    path = f"metadata.labels['{indexed.COMPLETION_INDEX}']"
    env.append({"name": indexed.COMPLETION_INDEX_ENV, "valueFrom": {"fieldRef": {"fieldPath": path}}})


def owned_by(pod: Mapping[str, Any], job_uid: str) -> bool:
    """Whether `pod` is one of the Job's: its controller ownerReference points at the Job."""
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("uid") == job_uid:
            return True
    return False


def memory_limit_bytes(container: Mapping[str, Any]) -> int | None:
    """`resources.limits.memory` in bytes, or None when unlimited."""
    memory = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    return None if memory is None else int(parse_quantity(str(memory)) or 0)
