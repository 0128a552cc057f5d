"""Names and labels of everything the operator creates for a VideoRequest.

Names are deterministic: the operator restarted at any moment finds the children it made
instead of making them twice. Job names are label values, so they stay within 63 chars;
the Job controller then appends a 6-char suffix for Pods, which it truncates itself.
"""

from __future__ import annotations

from scenefarm_contract.keys import (
    API_VERSION,
    ATTEMPT_LABEL,
    CLEANUP_OF_LABEL,
    CODE_KEY_ANNOTATION,
    GROUP,
    KIND,
    KUEUE_QUEUE_LABEL,
    MANAGED_BY,
    MANAGER,
    PLURAL,
    REQUEST_LABEL,
    RESULT_ANNOTATION,
    RETRY_GENERATION_ANNOTATION,
    ROLE_LABEL,
    SCENE_LABEL,
    SUSPENDED_BY_US_ANNOTATION,
    VERSION,
)
from scenefarm_contract.names import base_name, job_base, request_labels, scene_job_name

__all__ = [
    "API_VERSION",
    "ATTEMPT_LABEL",
    "CLEANUP_OF_LABEL",
    "CODE_KEY_ANNOTATION",
    "GROUP",
    "KIND",
    "KUEUE_QUEUE_LABEL",
    "MANAGED_BY",
    "MANAGER",
    "PLURAL",
    "REQUEST_LABEL",
    "RESULT_ANNOTATION",
    "RETRY_GENERATION_ANNOTATION",
    "ROLE_LABEL",
    "SCENE_LABEL",
    "SUSPENDED_BY_US_ANNOTATION",
    "VERSION",
    "RequestKey",
    "base_name",
    "combine_job_name",
    "combine_labels",
    "job_base",
    "plan_configmap_name",
    "request_key",
    "request_labels",
    "scene_job_name",
    "scene_labels",
]


RequestKey = tuple[str, str]  # (namespace, request label value): what children are indexed by


def request_key(namespace: str, name: str) -> RequestKey:
    return namespace, base_name(name, 63)


def combine_job_name(request: str, inputs: str = "") -> str:
    """`inputs` is a digest of what is combined: new inputs (a retry, an edit) -> a new Job."""
    suffix = f"-{inputs[:5]}" if inputs else ""
    return f"{job_base(request)}-combine{suffix}"


def plan_configmap_name(request: str) -> str:
    return f"{base_name(request, 248)}-plan"


def scene_labels(request: str, index: int, attempt: int) -> dict[str, str]:
    return request_labels(request) | {
        SCENE_LABEL: str(index),
        ROLE_LABEL: "scene",
        ATTEMPT_LABEL: str(attempt),
    }


def combine_labels(request: str) -> dict[str, str]:
    return request_labels(request) | {ROLE_LABEL: "combine"}
