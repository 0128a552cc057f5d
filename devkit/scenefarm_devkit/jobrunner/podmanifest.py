"""Pods of a Job, built like the real Job controller builds them."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from typing import Any

from lightkube.utils.quantity import parse_quantity

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


def build_pod(job: Mapping[str, Any], suffix: str | None = None) -> dict[str, Any]:
    """A Pod for `job` from its template: name `<job>-<5 random>`, job labels, owner, finalizer."""
    meta = job["metadata"]
    template = copy.deepcopy(job["spec"]["template"])
    template_meta = template.get("metadata") or {}
    labels = dict(template_meta.get("labels") or {})
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
        "name": f"{meta['name']}-{suffix or random_suffix()}",
        "namespace": meta["namespace"],
        "labels": labels,
        "ownerReferences": [owner],
        "finalizers": [TRACKING_FINALIZER],
    }
    if template_meta.get("annotations"):
        pod_meta["annotations"] = dict(template_meta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template.get("spec") or {}}


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
