"""Names and labels of everything the operator creates for a VideoRequest.

Names are deterministic: the operator restarted at any moment finds the children it made
instead of making them twice. Job names are label values, so they stay within 63 chars;
the Job controller then appends a 6-char suffix for Pods, which it truncates itself.
"""

from __future__ import annotations

import hashlib

GROUP = "scenefarm.dev"
VERSION = "v1alpha1"
PLURAL = "videorequests"
KIND = "VideoRequest"
API_VERSION = f"{GROUP}/{VERSION}"

MANAGED_BY = "app.kubernetes.io/managed-by"
REQUEST_LABEL = "scenefarm.dev/request"
SCENE_LABEL = "scenefarm.dev/scene"
ROLE_LABEL = "scenefarm.dev/role"
ATTEMPT_LABEL = "scenefarm.dev/attempt"
CODE_KEY_ANNOTATION = "scenefarm.dev/code-key"
# On an attempt a user's retry forced: which spec.retryGeneration it serves.
RETRY_GENERATION_ANNOTATION = "scenefarm.dev/retry-generation"
# On a Job the operator suspended for spec.suspend: only those does it resume (Kueue holds others).
SUSPENDED_BY_US_ANNOTATION = "scenefarm.dev/suspended"
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"

_JOB_BASE_MAX = 46  # leaves room for "-sNN-aK" (up to "-s49-a99") within 63


RequestKey = tuple[str, str]  # (namespace, request label value): what children are indexed by


def request_key(namespace: str, name: str) -> RequestKey:
    return namespace, base_name(name, 63)


def base_name(request: str, limit: int = _JOB_BASE_MAX) -> str:
    """The request name, or a truncated name plus a hash of the whole when it is too long."""
    if len(request) <= limit:
        return request
    digest = hashlib.sha256(request.encode()).hexdigest()[:6]
    return f"{request[: limit - 7].rstrip('-.')}-{digest}"


def scene_job_name(request: str, index: int, attempt: int) -> str:
    return f"{base_name(request)}-s{index:02d}-a{attempt}"


def combine_job_name(request: str, inputs: str = "") -> str:
    """`inputs` is a digest of what is combined: new inputs (a retry, an edit) -> a new Job."""
    suffix = f"-{inputs[:5]}" if inputs else ""
    return f"{base_name(request)}-combine{suffix}"


def plan_configmap_name(request: str) -> str:
    return f"{base_name(request, 248)}-plan"


def request_labels(request: str) -> dict[str, str]:
    """Labels shared by every child of one request (a label value is at most 63 chars)."""
    return {MANAGED_BY: "scenefarm", REQUEST_LABEL: base_name(request, 63)}


def scene_labels(request: str, index: int, attempt: int) -> dict[str, str]:
    return request_labels(request) | {
        SCENE_LABEL: str(index),
        ROLE_LABEL: "scene",
        ATTEMPT_LABEL: str(attempt),
    }


def combine_labels(request: str) -> dict[str, str]:
    return request_labels(request) | {ROLE_LABEL: "combine"}
