"""The garbage collector as a controller of its own: synchronous mode and the delayed mode."""

from __future__ import annotations

import uuid
from typing import Any

from scenefarm_devkit.apiserver.operations import Api
from scenefarm_devkit.apiserver.resources import Registry
from scenefarm_devkit.apiserver.store import Store


def _api(gc_delay: float | None) -> tuple[Api, Any]:
    registry = Registry()
    api = Api(registry, Store())
    api.gc_delay = gc_delay
    return api, registry.get("", "v1", "configmaps")


def _owned(api: Api, rt: Any, name: str, owner_uid: str) -> None:
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner_uid}
    api.create(rt, "default", {"metadata": {"name": name, "ownerReferences": [ref]}})


def test_synchronous_mode_collects_with_the_owners_delete_and_sweeps_dangling_owners() -> None:
    api, rt = _api(None)
    owner, _ = api.create(rt, "default", {"metadata": {"name": "owner"}})
    _owned(api, rt, "child", owner["metadata"]["uid"])
    api.delete(rt, "default", "owner")
    assert api.store.get(("", "configmaps", "default", "child")) is None  # in the same request
    _owned(api, rt, "stray", str(uuid.uuid4()))  # an owner that never existed: no delete happens
    assert api.store.get(("", "configmaps", "default", "stray")) is not None
    assert api.collect_garbage(clock=0.0) == 1  # the background pass
    assert api.store.get(("", "configmaps", "default", "stray")) is None


def test_delayed_mode_leaves_dependents_until_the_delay_has_passed() -> None:
    api, rt = _api(5.0)
    owner, _ = api.create(rt, "default", {"metadata": {"name": "owner"}})
    _owned(api, rt, "child", owner["metadata"]["uid"])
    api.delete(rt, "default", "owner")
    assert api.store.get(("", "configmaps", "default", "child")) is not None  # not with the delete
    assert api.collect_garbage(clock=100.0) == 0  # first seen orphaned now
    assert api.collect_garbage(clock=104.9) == 0
    assert api.collect_garbage(clock=105.0) == 1
    assert api.store.get(("", "configmaps", "default", "child")) is None
