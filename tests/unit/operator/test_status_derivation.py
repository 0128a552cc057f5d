"""Scene statuses, the verdict, progress and the whole VideoRequest status, from observed children."""

import dataclasses
import pathlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema
import pytest
import yaml

from scenefarm_contract.renderer import LOG_TAIL_CHARS, TerminationMessage
from scenefarm_operator.engine.observed import JobOutcome, Observed, outcome
from scenefarm_operator.engine.plan_store import SceneEntry, StoredPlan
from scenefarm_operator.engine.status import (
    CANCELLED,
    Note,
    Verdict,
    assemble,
    deadline_verdict,
    progress,
    scene_statuses,
    verdict,
)
from scenefarm_operator.planning.base import TokenUsage

CRD = pathlib.Path(__file__).parents[3] / "crds" / "scenefarm.dev_videorequests.yaml"
T0, T1, T2, T3 = (f"2025-06-01T10:0{m}:00Z" for m in range(4))
PLAN = StoredPlan(
    "Template",
    3,
    tuple(
        SceneEntry(i, name, cls, 1, f"{i}" * 64)
        for i, (name, cls) in enumerate(
            (("intro", "Intro"), ("first-law", "FirstLaw"), ("second-law", "SecondLaw"))
        )
    ),
    TokenUsage(120, 80, 2),
)
VIDEO = TerminationMessage(
    exitClass=0, artifact="videos/newton-6f1c2d3e/video.mp4", durationSeconds=12.5, frames=188,
    sizeBytes=987654, sha256="cd" * 32,
)  # fmt: skip


def _job(name: str, labels: dict[str, str], state: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A Job and its Pods in one of: pending, running, succeeded, failed-<exit class>, oom."""
    status: dict[str, Any] = {"startTime": T0}
    pods: list[dict[str, Any]] = []
    if state == "running":
        status["active"] = 1
        pods = [{"status": {"phase": "Running", "containerStatuses": [{"state": {"running": {}}}]}}]
    elif state == "succeeded":
        index = labels.get("scenefarm.dev/scene")
        key = f"scene-{int(index):02d}.mp4" if index is not None else "video.mp4"
        msg = TerminationMessage(0, artifact=f"videos/newton-6f1c2d3e/{key}") if index is not None else VIDEO
        status |= {"completionTime": T1, "conditions": [{"type": "Complete", "status": "True"}]}
        term = {"exitCode": 0, "reason": "Completed", "message": msg.to_json(), "finishedAt": T1}
        pods = [{"status": {"phase": "Succeeded", "containerStatuses": [{"state": {"terminated": term}}]}}]
    elif state.startswith("failed-") or state == "oom":
        code = 137 if state == "oom" else int(state.removeprefix("failed-"))
        message = (
            "" if state == "oom" else TerminationMessage(code, errorTail=f"Boom{code}: it broke").to_json()
        )
        reason = "OOMKilled" if state == "oom" else "Error"
        cond = {"type": "Failed", "status": "True", "reason": "PodFailurePolicy", "lastTransitionTime": T1}
        status["conditions"] = [cond]
        term = {"exitCode": code, "reason": reason, "message": message, "finishedAt": T1}
        pods = [{"status": {"phase": "Failed", "containerStatuses": [{"state": {"terminated": term}}]}}]
    else:
        assert state == "pending"
    return {"metadata": {"name": name, "labels": labels}, "spec": {}, "status": status}, pods


def children(
    scenes: Mapping[int, Sequence[str]], combine: str | None = None
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The Jobs and Pods of a request. scenes: index -> the states of its attempts 1, 2, ...;
    combine: the combine Job's state."""
    jobs: list[dict[str, Any]] = []
    pods: dict[str, list[dict[str, Any]]] = {}
    for index, states in scenes.items():
        for attempt, state in enumerate(states, start=1):
            name = f"newton-s{index:02d}-a{attempt}"
            labels = {
                "scenefarm.dev/scene": str(index),
                "scenefarm.dev/role": "scene",
                "scenefarm.dev/attempt": str(attempt),
            }
            job, pods[name] = _job(name, labels, state)
            jobs.append(job)
    if combine is not None:
        job, pods["newton-combine"] = _job("newton-combine", {"scenefarm.dev/role": "combine"}, combine)
        jobs.append(job)
    return jobs, pods


def observed(
    scenes: Mapping[int, Sequence[str]], combine: str | None = None, previous: Mapping[str, Any] | None = None
) -> Observed:
    jobs, pods = children(scenes, combine)
    return Observed.of(jobs, pods, previous or {})


NOTHING = observed({})
ALL_DONE = {0: ["succeeded"], 1: ["succeeded"], 2: ["succeeded"]}


# --- scene_statuses ---------------------------------------------------------------------------


def test_each_planned_scene_gets_one_entry_from_its_latest_attempt() -> None:
    obs = observed({0: ["failed-30", "succeeded"], 1: ["running"]})
    entries = scene_statuses(PLAN, obs, queued=[2])
    assert entries == [
        {
            "index": 0,
            "name": "intro",
            "attempt": 2,
            "revision": 1,
            "phase": "Succeeded",
            "job": "newton-s00-a2",
            "startedAt": T0,
            "finishedAt": T1,
            "artifact": "videos/newton-6f1c2d3e/scene-00.mp4",
            "history": [
                {
                    "attempt": 1,
                    "job": "newton-s00-a1",
                    "phase": "Failed",
                    "exitClass": 30,
                    "message": "Boom30: it broke",
                }
            ],
        },
        {
            "index": 1,
            "name": "first-law",
            "attempt": 1,
            "revision": 1,
            "phase": "Running",
            "job": "newton-s01-a1",
            "startedAt": T0,
        },
        {"index": 2, "name": "second-law", "attempt": 0, "phase": "Queued"},
    ]


RECORDED = {
    "index": 0,
    "name": "intro",
    "attempt": 1,
    "revision": 1,
    "phase": "Succeeded",
    "artifact": "a",
}


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_a_finished_scene_whose_jobs_were_cleaned_up_keeps_its_recorded_entry(phase: str) -> None:
    recorded = RECORDED | {"phase": phase}
    obs = observed({}, previous={"scenes": [recorded]})
    assert obs.recorded == {0: recorded}
    assert scene_statuses(PLAN, obs)[0] == recorded


def test_a_record_without_a_revision_is_of_revision_1() -> None:
    recorded = {k: v for k, v in RECORDED.items() if k != "revision"}
    assert scene_statuses(PLAN, observed({}, previous={"scenes": [recorded]}))[0] == recorded


def test_a_recorded_success_of_an_older_revision_does_not_count() -> None:
    obs = Observed({}, {}, {}, recorded={0: RECORDED | {"revision": 0}})
    assert scene_statuses(PLAN, obs)[0]["phase"] == "Pending"


def test_a_scene_with_a_job_is_derived_from_the_job_not_from_its_record() -> None:
    obs = observed({0: ["running"]}, previous={"scenes": [RECORDED]})
    assert scene_statuses(PLAN, obs)[0]["phase"] == "Running"


def test_only_finished_scenes_of_the_previous_status_are_records() -> None:
    previous = {
        "scenes": [
            RECORDED,
            {"index": 1, "name": "first-law", "phase": "Running", "attempt": 1},
            {"index": 2, "name": "second-law", "phase": "Failed", "attempt": 2},
        ]
    }
    assert sorted(observed({}, previous=previous).recorded) == [0, 2]


def test_jobs_are_sorted_into_scene_attempts_and_combines_by_their_labels() -> None:
    jobs, pods = children({0: ["failed-30", "running"], 2: ["pending"]}, combine="running")
    stray = {"metadata": {"name": "stray", "labels": {"scenefarm.dev/scene": "x"}}, "status": {}}
    unlabelled = {"metadata": {"name": "unlabelled"}, "status": {}}
    obs = Observed.of([*jobs, stray, unlabelled], pods, {})
    assert {i: [j["metadata"]["name"] for j in js] for i, js in obs.scene_jobs.items()} == {
        0: ["newton-s00-a1", "newton-s00-a2"],
        2: ["newton-s02-a1"],
    }
    assert list(obs.combines) == ["newton-combine"]
    assert obs.latest(0) is jobs[1]
    assert obs.latest(1) is None


def test_a_failed_scene_reports_its_exit_class_and_error() -> None:
    entry = scene_statuses(PLAN, observed({1: ["failed-11"]}))[1]
    assert entry["phase"] == "Failed"
    assert entry["exitClass"] == 11
    assert entry["message"] == "Boom11: it broke"
    assert entry["finishedAt"] == T1
    assert "artifact" not in entry


def test_a_finished_scene_carries_the_tail_of_its_render_log_and_a_running_one_none() -> None:
    jobs, pods = children({0: ["running"], 1: ["failed-11"], 2: ["succeeded"]})
    for name, tail in (("newton-s01-a1", "animation 1, 15 frames"), ("newton-s02-a1", "done: 30 frames")):
        term = pods[name][0]["status"]["containerStatuses"][0]["state"]["terminated"]
        message = TerminationMessage.from_json(term["message"])
        assert message is not None
        term["message"] = dataclasses.replace(message, logTail=f"scene (Intro): {tail}").to_json()
    entries = scene_statuses(PLAN, Observed.of(jobs, pods, {}))
    assert "logTail" not in entries[0]  # no live log in the status: only a finished render's tail
    assert entries[1]["logTail"] == "scene (Intro): animation 1, 15 frames"
    assert entries[2]["logTail"] == "scene (Intro): done: 30 frames"

    huge = TerminationMessage(0, artifact="videos/x/scene-00.mp4", logTail="frames " * 500 + "end")
    job = {
        "metadata": {"name": "j"},
        "spec": {},
        "status": {"conditions": [{"type": "Complete", "status": "True"}]},
    }
    pod = {
        "status": {
            "containerStatuses": [{"state": {"terminated": {"exitCode": 0, "message": huge.to_json()}}}]
        }
    }
    result = outcome(job, [pod]).result
    assert result is not None and len(result.logTail or "") == LOG_TAIL_CHARS  # the CRD's maxLength


def test_the_crd_bounds_log_tail_as_the_contract_does() -> None:
    crd = yaml.safe_load(CRD.read_text())
    status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert status["properties"]["scenes"]["items"]["properties"]["logTail"]["maxLength"] == LOG_TAIL_CHARS


def test_an_oom_killed_scene_reports_exit_class_137() -> None:
    entry = scene_statuses(PLAN, observed({1: ["oom"]}))[1]
    assert (entry["phase"], entry["exitClass"]) == ("Failed", 137)
    assert "memory" in entry["message"]


def test_the_latest_attempt_is_chosen_by_number_not_by_text() -> None:
    obs = observed({0: ["failed-30"] * 9 + ["running"]})  # attempts 1..10; "10" < "9" as text
    entry = scene_statuses(PLAN, obs)[0]
    assert (entry["attempt"], entry["phase"]) == (10, "Running")


def test_a_scene_without_a_job_is_pending_unless_queued() -> None:
    entries = scene_statuses(PLAN, NOTHING, queued=[1])
    assert [e["phase"] for e in entries] == ["Pending", "Queued", "Pending"]
    assert [e["attempt"] for e in entries] == [0, 0, 0]


@pytest.mark.parametrize("phase", ["Healing", "Retrying"])
def test_a_note_gives_a_failed_scene_its_phase_and_message(phase: str) -> None:
    notes = {2: Note(phase, "asking the planner to fix the code")}
    entries = scene_statuses(PLAN, observed({2: ["failed-11"]}), notes=notes)
    assert entries[2]["phase"] == phase
    assert entries[2]["message"] == "asking the planner to fix the code"
    assert (entries[2]["attempt"], entries[2]["exitClass"]) == (1, 11)


def test_a_note_without_a_phase_keeps_the_failure_and_says_why_it_is_final() -> None:
    notes = {1: Note(None, "the scene code raised (exit 11) after 2 of 2 fix attempts")}
    entry = scene_statuses(PLAN, observed({1: ["failed-11"]}), notes=notes)[1]
    assert (entry["phase"], entry["message"]) == (
        "Failed",
        "the scene code raised (exit 11) after 2 of 2 fix attempts",
    )


def test_when_the_request_ends_every_unfinished_scene_says_it_was_stopped() -> None:
    obs = observed({0: ["succeeded"], 1: ["failed-11"], 2: ["running"]})
    entries = scene_statuses(
        PLAN, obs, notes={1: Note("Healing", "fixing")}, stopped="not finished: cancelled"
    )
    assert [(e["phase"], e.get("message")) for e in entries] == [
        ("Succeeded", None),
        ("Stopped", "not finished: cancelled"),  # its fix will not come any more
        ("Stopped", "not finished: cancelled"),
    ]
    assert entries[2]["job"] == "newton-s02-a1", "the stopped scene still names its last Job"
    never_ran = scene_statuses(PLAN, NOTHING, queued=[0], stopped="not finished: deadline")
    assert {e["phase"] for e in never_ran} == {"Stopped"}


def _held(annotations: dict[str, str], labels: dict[str, str]) -> Observed:
    jobs, pods = children({0: ["pending"]})
    jobs[0]["spec"]["suspend"] = True
    jobs[0]["metadata"]["labels"] |= labels
    jobs[0]["metadata"]["annotations"] = annotations
    return Observed.of(jobs, pods, {})


HELD = [
    # (case, annotations, labels, phase, message)
    (
        "held by Kueue",
        {},
        {"kueue.x-k8s.io/queue-name": "team-a"},
        "Queued",
        "held by Kueue queue 'team-a' until it is admitted",
    ),
    (
        "suspended by another controller",
        {},
        {},
        "Queued",
        "held by its queue (suspended by another controller) until it is admitted",
    ),
    ("suspended by us for spec.suspend", {"scenefarm.dev/suspended": "true"}, {}, "Suspended", None),
]


@pytest.mark.parametrize(
    ("case", "annotations", "labels", "phase", "message"), HELD, ids=[h[0] for h in HELD]
)
def test_a_suspended_job_is_queued_unless_we_suspended_it(
    case: str, annotations: dict[str, str], labels: dict[str, str], phase: str, message: str | None
) -> None:
    entry = scene_statuses(PLAN, _held(annotations, labels))[0]
    assert (entry["phase"], entry.get("message")) == (phase, message)


# --- verdict ----------------------------------------------------------------------------------


def scenes(*phases: str) -> list[dict[str, Any]]:
    return [{"index": i, "name": f"s{i}", "phase": p, "message": f"m{i}"} for i, p in enumerate(phases)]


PENDING, RUNNING = JobOutcome("Pending"), JobOutcome("Running")
COMBINE_FAILED = JobOutcome("Failed", 30, "storage unreachable")
COMBINE_OK = JobOutcome("Succeeded", 0)
FAIL, SKIP = {"output": {"partial": "Fail"}}, {"output": {"partial": "SkipFailed"}}

VERDICTS = [
    # (case, spec, scene phases, combine outcome, phase, reason)
    ("nothing started", {}, ("Pending", "Pending"), None, "Rendering", "Rendering"),
    ("some running", {}, ("Succeeded", "Running", "Queued"), None, "Rendering", "Rendering"),
    ("healing is not done", {}, ("Succeeded", "Healing"), None, "Rendering", "Rendering"),
    ("a failure fails the request by default", {}, ("Failed", "Running"), None, "Failed", "SceneFailed"),
    ("a failure fails the request with Fail", FAIL, ("Succeeded", "Failed"), None, "Failed", "SceneFailed"),
    ("SkipFailed keeps rendering the rest", SKIP, ("Failed", "Running"), None, "Rendering", "Rendering"),
    ("SkipFailed combines the survivors", SKIP, ("Failed", "Succeeded"), None, "Combining", "Combining"),
    ("SkipFailed with no survivor fails", SKIP, ("Failed", "Failed"), None, "Failed", "NoSceneSucceeded"),
    (
        "suspended while scenes remain",
        {"suspend": True},
        ("Succeeded", "Pending"),
        None,
        "Suspended",
        "Suspended",
    ),
    ("a failure beats suspend", {"suspend": True}, ("Failed", "Pending"), None, "Failed", "SceneFailed"),
    ("all done, no combine job yet", {}, ("Succeeded", "Succeeded"), None, "Combining", "Combining"),
    ("all done, combine pending", {}, ("Succeeded", "Succeeded"), PENDING, "Combining", "Combining"),
    ("all done, combine running", {}, ("Succeeded", "Succeeded"), RUNNING, "Combining", "Combining"),
    ("combine failed", {}, ("Succeeded", "Succeeded"), COMBINE_FAILED, "Failed", "CombineFailed"),
    ("combine succeeded", {}, ("Succeeded", "Succeeded"), COMBINE_OK, "Succeeded", "Succeeded"),
    ("SkipFailed video from survivors", SKIP, ("Failed", "Succeeded"), COMBINE_OK, "Succeeded", "Succeeded"),
]


@pytest.mark.parametrize(
    ("case", "spec", "phases", "combine", "phase", "reason"), VERDICTS, ids=[v[0] for v in VERDICTS]
)
def test_verdict(
    case: str,
    spec: dict[str, Any],
    phases: tuple[str, ...],
    combine: JobOutcome | None,
    phase: str,
    reason: str,
) -> None:
    v = verdict(spec, scenes(*phases), combine)
    assert (v.phase, v.reason) == (phase, reason)
    assert v.message


def test_a_scene_failure_message_names_the_scene_and_its_error() -> None:
    v = verdict({}, scenes("Succeeded", "Failed"), None)
    assert v.message == "scene 's1' (#1) failed: m1"


def test_a_combine_failure_message_carries_the_combine_error() -> None:
    assert "storage unreachable" in verdict({}, scenes("Succeeded"), COMBINE_FAILED).message


def test_cancel_beats_everything_and_says_it_is_final() -> None:
    v = verdict({"cancel": True}, scenes("Failed", "Running"), None, deadline_exceeded=True)
    assert v == CANCELLED
    assert (v.phase, v.reason) == ("Cancelled", "Cancelled")
    assert v.message == "cancelled (spec.cancel): every Job was stopped; Cancelled is final"


def test_a_request_past_its_deadline_fails_and_names_the_limit() -> None:
    spec = {"activeDeadlineSeconds": 600}
    v = verdict(spec, scenes("Succeeded", "Running"), None, deadline_exceeded=True)
    assert v == deadline_verdict(spec)
    assert v == Verdict(
        "Failed",
        "DeadlineExceeded",
        "the request ran longer than spec.activeDeadlineSeconds (600s); raise it to continue",
    )


# --- progress ---------------------------------------------------------------------------------

LIFECYCLE = [
    # (scene phases, combine) in the order a healthy request with one healed scene goes through
    (("Pending", "Pending", "Pending"), None),
    (("Queued", "Queued", "Queued"), None),
    (("Running", "Running", "Queued"), None),
    (("Succeeded", "Failed", "Running"), None),
    (("Succeeded", "Healing", "Running"), None),
    (("Succeeded", "Running", "Succeeded"), None),
    (("Succeeded", "Succeeded", "Succeeded"), None),
    (("Succeeded", "Succeeded", "Succeeded"), PENDING),
    (("Succeeded", "Succeeded", "Succeeded"), RUNNING),
    (("Succeeded", "Succeeded", "Succeeded"), COMBINE_OK),
]


def test_progress_never_goes_back_over_a_lifecycle_and_ends_at_100() -> None:
    values = [progress(scenes(*phases), combine) for phases, combine in LIFECYCLE]
    assert values[0] == 0
    assert values == sorted(values)
    assert values[-1] == 100
    assert all(v < 100 for v in values[:-1]), "100 only once the video exists"


PROGRESS = [
    # (case, scene phases, combine, progress)
    ("no scenes", (), None, 0),
    ("one of three", ("Succeeded", "Running", "Pending"), None, 30),
    ("two of three", ("Succeeded", "Succeeded", "Failed"), None, 60),
    ("all scenes, combining", ("Succeeded",) * 3, RUNNING, 90),
    ("combine failed", ("Succeeded",) * 3, COMBINE_FAILED, 90),
    ("done", ("Succeeded",) * 3, COMBINE_OK, 100),
    (
        "rounds down",
        ("Succeeded", "Running", "Running", "Running", "Running", "Running", "Running"),
        None,
        12,
    ),
]


@pytest.mark.parametrize(("case", "phases", "combine", "expected"), PROGRESS, ids=[p[0] for p in PROGRESS])
def test_progress(case: str, phases: tuple[str, ...], combine: JobOutcome | None, expected: int) -> None:
    assert progress(scenes(*phases), combine) == expected


# --- status -----------------------------------------------------------------------------------

STATUS_SCHEMA = yaml.safe_load(CRD.read_text())["spec"]["versions"][0]["schema"]["openAPIV3Schema"][
    "properties"
]["status"]
REASON = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")  # metav1.Condition reason
PLANNING = Verdict("Planning", "Planning", "planning the scenes")
PLANNING_FAILED = Verdict("Failed", "PlanningFailed", "Gemini answered 403: API key not valid")


def build(
    spec: dict[str, Any],
    plan: StoredPlan | None,
    obs: Observed,
    given: Verdict | None = None,
    *,
    stopped: str | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """The status as the decider assembles it: scenes, then the verdict (unless `given`), then all."""
    scenes = scene_statuses(plan, obs, stopped=stopped) if plan else []
    combine_job = next(iter(obs.combines.values()), None)
    combine = outcome(combine_job, obs.pods[combine_job["metadata"]["name"]]) if combine_job else None
    args: dict[str, Any] = {"generation": 4, "previous": {}, "now": T2} | kw
    return assemble(
        spec=spec,
        scenes=scenes,
        verdict=given or verdict(spec, scenes, combine),
        plan=plan,
        combine_job=combine_job,
        combine=combine,
        **args,
    )


PHASES = [
    # (case, spec, plan, observed, given verdict, phase, Ready, Reconciling, Stalled)
    ("planning", {}, None, NOTHING, PLANNING, "Planning", False, True, False),
    ("planning failed", {}, None, NOTHING, PLANNING_FAILED, "Failed", False, False, True),
    ("rendering", {}, PLAN, observed({0: ["running"]}), None, "Rendering", False, True, False),
    (
        "suspended",
        {"suspend": True},
        PLAN,
        observed({0: ["succeeded"]}),
        None,
        "Suspended",
        False,
        False,
        False,
    ),
    (
        "scene failed",
        {},
        PLAN,
        observed({0: ["succeeded"], 1: ["failed-20"]}),
        None,
        "Failed",
        False,
        False,
        True,
    ),
    ("combining", {}, PLAN, observed(ALL_DONE, "running"), None, "Combining", False, True, False),
    ("combine failed", {}, PLAN, observed(ALL_DONE, "failed-30"), None, "Failed", False, False, True),
    ("succeeded", {}, PLAN, observed(ALL_DONE, "succeeded"), None, "Succeeded", True, False, False),
    ("cancelled", {"cancel": True}, PLAN, observed({0: ["running"]}), None, "Cancelled", False, False, False),
    (
        "past its deadline",
        {"activeDeadlineSeconds": 60},
        PLAN,
        observed({0: ["running"]}),
        deadline_verdict({"activeDeadlineSeconds": 60}),
        "Failed",
        False,
        False,
        True,
    ),
]
PHASE_ARGS = ("case", "spec", "plan", "obs", "given", "phase", "ready", "reconciling", "stalled")


@pytest.mark.parametrize(PHASE_ARGS, PHASES, ids=[p[0] for p in PHASES])
def test_status_phase_and_kstatus_conditions(
    case: str,
    spec: dict[str, Any],
    plan: StoredPlan | None,
    obs: Observed,
    given: Verdict | None,
    phase: str,
    ready: bool,
    reconciling: bool,
    stalled: bool,
) -> None:
    result = build(spec, plan, obs, given)
    assert result["phase"] == phase
    assert result["observedGeneration"] == 4
    conds = {c["type"]: c for c in result["conditions"]}
    assert {t: c["status"] for t, c in conds.items()} == {
        "Ready": str(ready),
        "Reconciling": str(reconciling),
        "Stalled": str(stalled),
    }
    for c in conds.values():
        assert c["observedGeneration"] == 4
        assert c["lastTransitionTime"] == T2
        assert REASON.match(c["reason"]), c["reason"]
        assert c["message"]
    assert conds["Ready"]["message"] == result["message"]
    assert [c["type"] for c in conds.values() if result["message"] in c["message"]] == ["Ready"], (
        "kubectl describe shows the message once"
    )
    assert not (reconciling and stalled), "kstatus: never in progress and stalled at once"
    jsonschema.validate(result, STATUS_SCHEMA)


@pytest.mark.parametrize(PHASE_ARGS, PHASES, ids=[p[0] for p in PHASES])
def test_a_published_status_recomputed_later_with_nothing_changed_is_the_same(
    case: str,
    spec: dict[str, Any],
    plan: StoredPlan | None,
    obs: Observed,
    given: Verdict | None,
    phase: str,
    ready: bool,
    reconciling: bool,
    stalled: bool,
) -> None:
    first = build(spec, plan, obs, given, now=T1)
    # Not a byte moves, timestamps included: a pass with nothing new can skip its status patch.
    assert build(spec, plan, obs, given, previous=first, now=T3) == first
    assert first["startedAt"] == T1
    assert all(c["lastTransitionTime"] == T1 for c in first["conditions"])


def test_finished_at_is_set_only_at_the_end_and_then_kept() -> None:
    running = build({}, PLAN, observed({0: ["running"]}), now=T1)
    assert "finishedAt" not in running
    done = build({}, PLAN, observed(ALL_DONE, "succeeded"), previous=running, now=T2)
    assert (done["startedAt"], done["finishedAt"]) == (T1, T2)
    again = build({}, PLAN, observed(ALL_DONE, "succeeded"), previous=done, now=T3)
    assert again["finishedAt"] == T2


def test_transition_times_move_only_for_conditions_whose_status_changed() -> None:
    rendering = build({}, PLAN, observed({0: ["running"]}), now=T1)
    combining = build({}, PLAN, observed(ALL_DONE, "running"), previous=rendering, now=T2)
    done = build({}, PLAN, observed(ALL_DONE, "succeeded"), previous=combining, now=T3)
    times = {c["type"]: c["lastTransitionTime"] for c in combining["conditions"]}
    assert times == {"Ready": T1, "Reconciling": T1, "Stalled": T1}
    times = {c["type"]: c["lastTransitionTime"] for c in done["conditions"]}
    assert times == {"Ready": T3, "Reconciling": T3, "Stalled": T1}


def test_status_counts_scenes_and_names_the_current_one() -> None:
    obs = observed({0: ["succeeded"], 1: ["running"], 2: ["running"]})
    result = build({}, PLAN, obs)
    assert (result["scenesTotal"], result["scenesSucceeded"], result["scenesFailed"]) == (3, 1, 0)
    assert result["currentScene"] == "first-law"
    assert result["progress"] == 30
    assert result["planner"] == {"mode": "Template", "promptTokens": 120, "candidateTokens": 80, "calls": 2}


def test_status_counts_failed_scenes_under_skip_failed() -> None:
    obs = observed({0: ["succeeded"], 1: ["failed-11"], 2: ["succeeded"]}, "running")
    result = build({"output": {"partial": "SkipFailed"}}, PLAN, obs)
    assert (result["phase"], result["scenesSucceeded"], result["scenesFailed"]) == ("Combining", 2, 1)
    assert "currentScene" not in result


def test_a_finished_request_reports_the_video_from_the_combine_termination_message() -> None:
    result = build({}, PLAN, observed(ALL_DONE, "succeeded"))
    assert result["output"] == {
        "uri": "videos/newton-6f1c2d3e/video.mp4",
        "durationSeconds": 12.5,
        "sizeBytes": 987654,
        "sha256": "cd" * 32,
        "frames": 188,
    }
    assert result["combine"] == {"phase": "Succeeded", "job": "newton-combine"}
    assert result["progress"] == 100


def test_a_video_combined_without_a_failed_scene_says_it_is_partial() -> None:
    obs = observed({0: ["succeeded"], 1: ["failed-11"], 2: ["succeeded"]}, "succeeded")
    result = build({"output": {"partial": "SkipFailed"}}, PLAN, obs)
    assert result["phase"] == "Succeeded"
    assert (result["output"]["partial"], result["output"]["missingScenes"]) == (True, ["first-law"])


def test_a_failed_combine_reports_its_error_and_no_output() -> None:
    result = build({}, PLAN, observed(ALL_DONE, "failed-30"))
    assert result["combine"] == {"phase": "Failed", "job": "newton-combine", "message": "Boom30: it broke"}
    assert "output" not in result
    assert result["message"] == "combine failed: Boom30: it broke"


def test_a_planning_failure_is_the_status_message_with_its_bookkeeping() -> None:
    planning = {"outages": 0, "error": "Gemini answered 403: API key not valid"}
    result = build({}, None, NOTHING, PLANNING_FAILED, extra={"planning": planning})
    assert result["message"] == "Gemini answered 403: API key not valid"
    assert {c["reason"] for c in result["conditions"]} == {"PlanningFailed"}
    assert result["scenes"] == []
    assert result["finishedAt"] == T2
    assert result["planning"] == planning
    assert "planner" not in result, "no plan, no planner usage"
    jsonschema.validate(result, STATUS_SCHEMA)


def test_a_stopped_request_publishes_every_scene_as_stopped_or_finished() -> None:
    obs = observed({0: ["succeeded"], 1: ["running"]})
    result = build({"cancel": True}, PLAN, obs, stopped=f"not finished: {CANCELLED.message}")
    assert [s["phase"] for s in result["scenes"]] == ["Succeeded", "Stopped", "Stopped"]
    assert "currentScene" not in result, "nothing runs any more"
    assert (result["phase"], result["finishedAt"]) == ("Cancelled", T2)
    jsonschema.validate(result, STATUS_SCHEMA)


def test_the_decider_bookkeeping_is_published_and_empty_parts_are_left_out() -> None:
    healing = [{"index": 1, "attempt": 1, "outages": 1, "nextAttemptAt": T3, "message": "503"}]
    extra = {"healing": healing, "planning": {}, "refusal": None}
    obs = observed({0: ["succeeded"], 1: ["failed-11"]})
    result = build({"output": {"partial": "SkipFailed"}}, PLAN, obs, extra=extra, retry_generation=2)
    assert result["healing"] == healing
    assert "planning" not in result and "refusal" not in result
    assert result["retryGeneration"] == 2
    jsonschema.validate(result, STATUS_SCHEMA)
    assert "retryGeneration" not in build({}, PLAN, obs, retry_generation=None)


@pytest.mark.parametrize(
    ("obs", "shown"),
    [(observed({0: ["running"]}), True), (observed(ALL_DONE, "running"), False)],
    ids=["rendering", "combining"],
)
def test_the_queue_position_is_shown_only_while_rendering(obs: Observed, shown: bool) -> None:
    assert ("queuePosition" in build({}, PLAN, obs, queue_position=2)) is shown


def test_other_condition_types_survive_a_status_update() -> None:
    synced = {
        "type": "AppwriteSynced",
        "status": "True",
        "reason": "Synced",
        "message": "",
        "lastTransitionTime": T0,
    }
    result = build({}, PLAN, NOTHING, previous={"conditions": [synced]})
    assert synced in result["conditions"]


def test_the_videos_poster_from_the_combine_message_is_in_the_output() -> None:
    from scenefarm_contract.renderer import TerminationMessage
    from scenefarm_operator.engine.status import _output

    message = TerminationMessage(
        exitClass=0, artifact="volume:v/n-1/video.mp4", poster="volume:v/n-1/video.png"
    )
    assert _output(message) == {"uri": "volume:v/n-1/video.mp4", "poster": "volume:v/n-1/video.png"}
