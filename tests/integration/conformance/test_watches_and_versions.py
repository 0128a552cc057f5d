"""Watches and resourceVersions: compaction gives 410 Expired, a future version 504.

Sources: apiserver storage/cacher (waitUntilFreshAndBlock, NewTooLargeResourceVersionError),
etcd3 compaction (`--etcd-compaction-interval`), the watch protocol's ERROR event.
"""

from __future__ import annotations

import json
import time
from typing import Any

import kubernetes
import pytest
from kubernetes.client.rest import ApiException

from .conftest import COMPACTION_INTERVAL


@pytest.fixture(scope="module")
def core(api: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api)


def test_a_watch_from_a_compacted_resource_version_gets_410_expired(core: Any) -> None:
    first = core.create_namespaced_config_map("default", {"metadata": {"name": "w1"}})
    old_rv = first.metadata.resource_version
    core.patch_namespaced_config_map("w1", "default", {"data": {"a": "b"}})
    time.sleep(COMPACTION_INTERVAL * 2.5)  # two compactions: the first covers everything up to old_rv
    response = core.list_namespaced_config_map(
        "default", watch=True, resource_version=old_rv, timeout_seconds=2, _preload_content=False
    )
    events = [json.loads(line) for line in response.read().decode().splitlines() if line.strip()]
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert (status["code"], status["reason"]) == (410, "Expired")
    assert status["message"].startswith(f"too old resource version: {old_rv}")
    # the client's answer: relist, then watch from the list's resourceVersion
    listed = core.list_namespaced_config_map("default")
    assert "w1" in {cm.metadata.name for cm in listed.items}


def test_a_list_at_a_future_resource_version_is_504_too_large(core: Any) -> None:
    current = int(core.list_namespaced_config_map("default").metadata.resource_version)
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map("default", resource_version=str(current + 1000))
    assert caught.value.status == 504
    status = json.loads(caught.value.body)
    assert status["reason"] == "Timeout"
    assert status["message"].startswith(f"Too large resource version: {current + 1000}, current: ")
    assert status["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
