import json

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from scenefarm_contract.phases import REQUEST_PHASES
from scenefarm_contract.renderer import TerminationMessage
from scenefarm_operator.observe import metrics
from scenefarm_operator.observe.telemetry import Telemetry, triage_of


def request(uid: str, phase: str, **status: object) -> dict:
    return {
        "metadata": {
            "namespace": "videos",
            "name": f"vr-{uid}",
            "uid": uid,
            "creationTimestamp": "2026-11-28T10:00:00Z",
        },
        "status": {"phase": phase, **status},
    }


def pod(
    uid: str, message: dict | None, exit_code: int = 0, reason: str = "Completed", role: str = "scene"
) -> dict:
    terminated = {"exitCode": exit_code, "reason": reason, "startedAt": "2026-11-28T10:00:05Z"}
    if message is not None:
        terminated["message"] = json.dumps(message)
    return {
        "metadata": {
            "namespace": "videos",
            "name": f"pod-{uid}",
            "uid": uid,
            "creationTimestamp": "2026-11-28T10:00:02Z",
            "labels": {"scenefarm.dev/request": "vr-a", "scenefarm.dev/role": role},
        },
        "spec": {"containers": [{"args": ["render", "--quality", "medium"]}]},
        "status": {"containerStatuses": [{"state": {"terminated": terminated}}]},
    }


def sample(name: str, **labels: str) -> float:
    text = generate_latest(metrics.REGISTRY).decode()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return 0.0


def test_the_gauges_follow_the_latest_status_of_each_request() -> None:
    t = Telemetry()
    t.observe_request(request("a", "Rendering", scenes=[{"phase": "Queued"}, {"phase": "Running"}]), None)
    t.observe_request(request("b", "Succeeded", appwrite={"synced": False}), None)
    assert t.phase_counts() == {"Rendering": 1, "Succeeded": 1}
    assert t.queued_scenes() == 1 and t.unsynced() == 1
    t.forget_request("b")
    assert t.phase_counts() == {"Rendering": 1} and t.unsynced() == 0


def test_a_transition_to_a_final_phase_is_counted_once_and_a_listed_one_never() -> None:
    before = sample("scenefarm_requests_finished_total", outcome="failed")
    t = Telemetry()
    t.observe_request(request("old", "Failed"), None)  # listed at startup: finished before
    t.observe_request(request("c", "Rendering"), "ADDED")
    change = t.observe_request(request("c", "Failed"), "MODIFIED")
    t.observe_request(request("c", "Failed"), "MODIFIED")
    assert (change.old_phase, change.new_phase) == ("Rendering", "Failed")
    assert sample("scenefarm_requests_finished_total", outcome="failed") == before + 1


def test_scene_durations_are_reported_once_per_finished_attempt() -> None:
    t = Telemetry()
    scene = {
        "index": 0,
        "attempt": 1,
        "phase": "Succeeded",
        "startedAt": "2026-11-28T10:00:00Z",
        "finishedAt": "2026-11-28T10:00:30Z",
    }
    t.observe_request(request("d", "Rendering", scenes=[{"index": 0, "phase": "Running"}]), "ADDED")
    first = t.observe_request(request("d", "Rendering", scenes=[scene]), "MODIFIED")
    again = t.observe_request(request("d", "Rendering", scenes=[scene]), "MODIFIED")
    assert first.finished_scenes == (30.0,) and again.finished_scenes == ()


def test_a_request_first_seen_after_a_restart_teaches_no_durations() -> None:
    t = Telemetry()
    scene = {
        "index": 0,
        "attempt": 1,
        "phase": "Succeeded",
        "startedAt": "2026-11-28T10:00:00Z",
        "finishedAt": "2026-11-28T10:00:30Z",
    }
    assert t.observe_request(request("e", "Rendering", scenes=[scene]), None).finished_scenes == ()


def test_a_finished_pod_feeds_attempts_render_time_and_queue_wait_once() -> None:
    attempts = sample("scenefarm_scene_attempts_total", triage="ok")
    renders = sample("scenefarm_scene_render_seconds_count", quality="medium", outcome="ok")
    waits = sample("scenefarm_queue_wait_seconds_count")
    t = Telemetry()
    body = pod("p1", {"exitClass": 0, "renderSeconds": 12.5, "cpuSeconds": 18.0})
    assert t.observe_pod(body, "MODIFIED") == ("videos", "vr-a")
    assert t.observe_pod(body, "MODIFIED") is None  # the same Pod again: not counted twice
    assert sample("scenefarm_scene_attempts_total", triage="ok") == attempts + 1
    assert sample("scenefarm_scene_render_seconds_count", quality="medium", outcome="ok") == renders + 1
    assert sample("scenefarm_queue_wait_seconds_count") == waits + 1
    assert t.render_seconds(("videos", "vr-a")) == (12.5, 18.0)


def test_pods_listed_at_startup_count_for_cost_but_not_for_the_counters() -> None:
    attempts = sample("scenefarm_scene_attempts_total", triage="fix")
    t = Telemetry()
    t.observe_pod(pod("p2", {"exitClass": 11, "renderSeconds": 3.0}, exit_code=11, reason="Error"), None)
    assert sample("scenefarm_scene_attempts_total", triage="fix") == attempts
    assert t.render_seconds(("videos", "vr-a")) == (3.0, 0.0)


def test_triage_tells_oom_fix_environment_and_transient_apart() -> None:
    def triage(code: int, reason: str = "Error") -> str:
        return triage_of({"exitCode": code, "reason": reason}, TerminationMessage(exitClass=code))

    assert triage(137, "OOMKilled") == "oom"
    assert [triage(c) for c in (0, 10, 11, 20, 30, 3)] == [
        "ok",
        "fix",
        "fix",
        "environment",
        "transient",
        "other",
    ]


def test_the_request_collector_exposes_every_phase_and_the_appwrite_health() -> None:
    t = Telemetry()
    t.observe_request(request("f", "Planning"), None)
    registry = CollectorRegistry()
    registry.register(
        metrics.RequestCollector(t, lambda: {"writes": 7, "errors": 1, "up": 1, "pending": 2, "lag": 3.5})
    )
    families = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}
    phases = {s.labels["phase"]: s.value for s in families["scenefarm_requests"].samples}
    assert phases["Planning"] == 1 and phases["Succeeded"] == 0 and len(phases) == len(REQUEST_PHASES)
    assert families["scenefarm_appwrite_writes"].samples[0].value == 7
    assert families["scenefarm_appwrite_sync_lag_seconds"].samples[0].value == 3.5
    ages = {s.labels["phase"]: s.value for s in families["scenefarm_request_phase_age_seconds_max"].samples}
    assert ages["Planning"] > 0 and ages["Succeeded"] == 0


def test_model_and_quality_labels_are_bounded() -> None:
    assert metrics.model_label("gemini-2.5-flash", {"gemini-2.5-flash"}) == "gemini-2.5-flash"
    assert metrics.model_label("anything-a-user-types", {"gemini-2.5-flash"}) == "other"
    assert metrics.quality_label("weird", {"low": 1}) == "other"


def test_the_time_a_scene_sat_in_queued_is_observed_when_it_leaves() -> None:
    before = sample("scenefarm_scene_queue_seconds_count")
    t = Telemetry()
    t.observe_request(request("q", "Rendering", scenes=[{"index": 0, "phase": "Running"}]), "ADDED")
    t.observe_request(request("q", "Rendering", scenes=[{"index": 0, "phase": "Queued"}]), "MODIFIED")
    t.observe_request(request("q", "Rendering", scenes=[{"index": 0, "phase": "Queued"}]), "MODIFIED")
    assert sample("scenefarm_scene_queue_seconds_count") == before
    t.observe_request(request("q", "Rendering", scenes=[{"index": 0, "phase": "Running"}]), "MODIFIED")
    assert sample("scenefarm_scene_queue_seconds_count") == before + 1
