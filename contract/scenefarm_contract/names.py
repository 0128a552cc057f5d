"""The names and labels of a request's children, shared by the operator (which makes them) and
the CLI (which finds a request's Jobs and Pods by them).

Names are deterministic: the operator restarted at any moment finds the children it made instead
of making them twice. Job names are label values, so they stay within 63 chars; the Job
controller then appends a 6-char suffix for Pods, which it truncates itself.
"""

from __future__ import annotations

import hashlib

from scenefarm_contract.keys import MANAGED_BY, MANAGER, REQUEST_LABEL

JOB_BASE_MAX = 46  # leaves room for "-sNN-aK" (up to "-s49-a99") within 63


def base_name(request: str, limit: int = JOB_BASE_MAX) -> str:
    """The request name, or a truncated name plus a hash of the whole when it is too long."""
    if len(request) <= limit:
        return request
    digest = hashlib.sha256(request.encode()).hexdigest()[:6]
    return f"{request[: limit - 7].rstrip('-.')}-{digest}"


def job_base(request: str, limit: int = JOB_BASE_MAX) -> str:
    """The start of every Job name of a request: `base_name`, made a DNS-1123 label.

    A request's name is a DNS subdomain (`intro.v2` is legal), but an Indexed Job's Pod hostname
    `<job-name>-<index>` must be a DNS label (no dots): the API server refuses the Job otherwise.
    A dotted name gets dashes for its dots and a hash of the whole, so `a.b` and `a-b` never
    share a Job name; a name without dots is unchanged.
    """
    if "." not in request:
        return base_name(request, limit)
    digest = hashlib.sha256(request.encode()).hexdigest()[:6]
    return f"{request.replace('.', '-')[: limit - 7].rstrip('-')}-{digest}"


def scene_job_name(request: str, index: int, attempt: int) -> str:
    """The Job of attempt `attempt` of scene `index`."""
    return f"{job_base(request)}-s{index:02d}-a{attempt}"


def request_labels(request: str) -> dict[str, str]:
    """Labels shared by every child of one request (a label value is at most 63 chars)."""
    return {MANAGED_BY: MANAGER, REQUEST_LABEL: base_name(request, 63)}
