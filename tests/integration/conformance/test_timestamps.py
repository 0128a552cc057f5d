"""Timestamps are stored as Go encodes metav1.Time (RFC 3339, UTC, seconds) and MicroTime (micro-
seconds); a write that changes only a timestamp's spelling is a no-op (apimachinery meta/v1 time.go,
micro_time.go; the registry's no-op update check)."""

from __future__ import annotations

import json
from typing import Any

import kubernetes
import pytest


@pytest.fixture(scope="module")
def core(api: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api)


def test_time_and_micro_time_are_normalised_and_a_respelling_is_a_no_op(
    core: Any, api: kubernetes.client.ApiClient
) -> None:
    body = {
        "metadata": {"name": "stamped"},
        "involvedObject": {"kind": "ConfigMap", "name": "x", "namespace": "default"},
        "reason": "Test",
        "message": "m",
        "firstTimestamp": "2026-01-01T12:00:00.5+02:00",
        "lastTimestamp": "2026-01-01T10:00:01Z",
        "eventTime": "2026-01-01T12:00:00.123+02:00",
        "reportingComponent": "conformance",
        "reportingInstance": "here",
        "action": "Testing",
    }
    core.create_namespaced_event("default", body)
    raw = json.loads(core.read_namespaced_event("stamped", "default", _preload_content=False).data)
    assert raw["firstTimestamp"] == "2026-01-01T10:00:00Z"
    assert raw["eventTime"] == "2026-01-01T10:00:00.123000Z"
    before = raw["metadata"]["resourceVersion"]
    respelled = core.patch_namespaced_event(
        "stamped", "default", {"firstTimestamp": "2026-01-01T11:00:00+01:00"}
    )
    assert respelled.metadata.resource_version == before  # nothing changed: no new version
