"""The scene cache: keys, and lookup of verified scenes among a namespace's requests."""

from __future__ import annotations

from typing import Any

from scenefarm_contract.chunks import cache_key
from scenefarm_operator.engine import scene_cache
from scenefarm_operator.engine.scene_cache import cache_enabled, key_for, lookup, offer

CODE = "from manim import *\nclass Intro(Scene):\n    def construct(self):\n        self.wait()\n"
KEY = key_for(CODE, "Intro", "medium")


def request(
    name: str, scenes: list[dict[str, Any]], *, namespace: str = "videos", **spec: Any
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"{name}-0123456789",
            "creationTimestamp": f"2026-01-0{len(name) % 9 + 1}T00:00:00Z",
        },
        "spec": {"topic": "t", **spec},
        "status": {"scenes": scenes},
    }


def scene(index: int = 0, key: str = KEY, **extra: Any) -> dict[str, Any]:
    entry = {
        "index": index,
        "phase": "Succeeded",
        "cacheKey": key,
        "artifact": f"volume:x/scene-{index:02d}.mp4",
    }
    return entry | {"sha256": "ab" * 32} | extra


def find(requests: list[dict[str, Any]], key: str = KEY) -> Any:
    return lookup(key, requests, namespace="videos", store="Volume", default_store="Volume")


def test_the_key_changes_with_code_class_quality_and_versions() -> None:
    keys = {
        KEY,
        key_for(CODE + "\n", "Intro", "medium"),
        key_for(CODE, "Outro", "medium"),
        key_for(CODE, "Intro", "high"),
        cache_key(CODE, "Intro", "medium", renderer_version="999"),
        cache_key(CODE, "Intro", "medium", manim_version="0.99.0"),
    }

    assert len(keys) == 6
    assert key_for(CODE, "Intro", "medium") == KEY  # stable


def test_a_verified_scene_with_the_same_key_is_found_with_its_source() -> None:
    hit = find([request("newton", [scene(0, key="other"), scene(3)])])

    assert hit is not None
    assert hit.request == "videos/newton" and hit.scene == 3
    assert hit.source == "videos/newton-newton-0/scene-03.mp4"
    assert hit.to_status()["request"] == "videos/newton"


def test_the_cache_never_serves_different_code_or_a_different_quality() -> None:
    requests = [request("newton", [scene(0)])]

    assert find(requests, key_for(CODE.replace("wait()", "wait(2)"), "Intro", "medium")) is None
    assert find(requests, key_for(CODE, "Intro", "low")) is None


def test_unverified_failed_or_foreign_scenes_are_never_served() -> None:
    assert find([request("a", [scene(0, phase="Running")])]) is None
    assert find([request("a", [scene(0, sha256=None)])]) is None
    assert find([request("a", [scene(0)], namespace="elsewhere")]) is None
    assert find([request("a", [scene(0)], output={"store": "Appwrite"})]) is None
    assert find([request("a", [scene(0)], render={"cache": False})]) is None


def test_a_reused_scene_points_at_its_origin() -> None:
    origin = {"request": "videos/first", "scene": 2, "source": "videos/first-first-01/scene-02.mp4"}
    hit = find([request("second", [scene(0, reused=origin)])])

    assert hit is not None and (hit.request, hit.scene, hit.source) == ("videos/first", 2, origin["source"])


def test_the_oldest_entry_wins_so_lookups_are_stable() -> None:
    young, old = request("abcdefgh", [scene(1)]), request("ab", [scene(4)])

    assert find([young, old]).request == find([old, young]).request == "videos/ab"


def test_the_cache_is_on_unless_the_spec_opts_out() -> None:
    assert cache_enabled({}) and not cache_enabled({"render": {"cache": False}})


def test_a_web_user_is_served_only_from_their_own_requests() -> None:
    alice, bob = {"appwriteUserId": "alice"}, {"appwriteUserId": "bob"}
    requests = [request("bobs", [scene(0)], owner=bob), request("cli", [scene(1)])]

    def find_for(owner: str | None) -> Any:
        return lookup(KEY, requests, namespace="videos", store="Volume", default_store="Volume", owner=owner)

    assert find_for("alice") is None
    assert find_for("bob").request == "videos/bobs"
    assert find_for(None).request == "videos/cli"  # kubectl users share a namespace's cache
    assert find([request("alices", [scene(0)], owner=alice)]) is None


def test_the_index_keeps_only_what_lookup_reads_and_finds_the_same_hit() -> None:
    body = request("newton", [scene(0), scene(1, sha256=None)], owner={"appwriteUserId": "bob"})
    body["spec"]["scenes"] = [{"code": "x" * 1000}]

    offered = offer(body)
    assert offered is not None and "scenes" not in offered["spec"]
    assert [s["index"] for s in offered["status"]["scenes"]] == [0]  # unverified scenes are never offered
    assert lookup(
        KEY, [offered], namespace="videos", store="Volume", default_store="Volume", owner="bob"
    ) == lookup(KEY, [body], namespace="videos", store="Volume", default_store="Volume", owner="bob")
    assert offer(request("out", [scene(0)], render={"cache": False})) is None
    assert offer(request("none", [])) is None


def _request(name: str, uid: str, reused: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    scenes = [{"index": i, "phase": "Succeeded", "reused": {"source": s}} for i, s in enumerate(reused)]
    return {"metadata": {"name": name, "namespace": "default", "uid": uid}, "status": {"scenes": scenes}}


def test_a_deleted_requests_clean_up_keeps_what_live_requests_reuse_and_takes_orphaned_reuses() -> None:
    deleted = _request("intro", "aaaaaaaa-1", reused=["default/gone-cccccccc/scene-00.mp4",
                                                      "default/alive-dddddddd/scene-01.mp4"])  # fmt: skip
    reader = _request("later", "bbbbbbbb-2", reused=["default/intro-aaaaaaaa/scene-02.mp4"])
    alive = _request("alive", "dddddddd-4")
    keep, also = scene_cache.cleanup_targets(deleted, [deleted, reader, alive])
    assert keep == ["scene-02.mp4"]  # `later` still combines it
    assert also == ["default/gone-cccccccc/scene-00.mp4"]  # its origin is gone and nobody else reads it
