"""The plan, chunk (Indexed) and stitch Jobs of a chunked scene."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from scenefarm_contract.chunks import Unit, encode_units
from scenefarm_operator.engine.chunking import ChunkingPolicy, decide
from scenefarm_operator.engine.manifests import chunks as chunk_manifests
from scenefarm_operator.engine.manifests import jobs as manifests
from scenefarm_operator.engine.manifests import naming
from scenefarm_renderer.cli import build_parser

from .test_manifests import K8S_VERSION, SCENE, SETTINGS, container, owner

DECISION = decide(ChunkingPolicy("Auto", 10, 3), 900, 30, encode_units([Unit(60)] * 15))


def chunks_job(**spec: Any) -> dict[str, Any]:
    return chunk_manifests.chunks_job(owner(**spec), SETTINGS, SCENE, 2, DECISION)


BUILT = [
    ("plan", lambda: chunk_manifests.plan_job(owner(), SETTINGS, SCENE, 2)),
    ("chunks", chunks_job),
    ("stitch", lambda: chunk_manifests.stitch_job(owner(), SETTINGS, SCENE, 2, DECISION)),
]


@pytest.mark.parametrize(("role", "build"), BUILT, ids=[r for r, _ in BUILT])
def test_each_job_is_a_valid_restricted_kubernetes_job(role: str, build: Any) -> None:
    job = build()

    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    assert job["metadata"]["name"] == f"newton-s01-a2-{role}"
    assert job["metadata"]["labels"][naming.ROLE_LABEL] == role
    assert job["metadata"]["labels"][naming.SCENE_LABEL] == "1"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "VideoRequest"
    plain = manifests.scene_job(owner(), SETTINGS, SCENE, 2)
    assert container(job)["securityContext"] == container(plain)["securityContext"]
    pod, plain_pod = job["spec"]["template"]["spec"], plain["spec"]["template"]["spec"]
    assert pod["securityContext"] == plain_pod["securityContext"]
    assert pod["automountServiceAccountToken"] is False


def test_the_chunk_job_is_indexed_with_a_retry_budget_per_chunk() -> None:
    spec = chunks_job(render={"backoffLimit": 3})["spec"]

    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    assert spec["backoffLimitPerIndex"] == 3 and spec["maxFailedIndexes"] == 0
    assert "backoffLimit" not in spec
    assert spec["podFailurePolicy"]["rules"][0]["action"] == "FailJob"  # fixable code fails the scene


def test_every_job_runs_a_command_line_the_renderer_accepts() -> None:
    plan, chunks, stitch = (build() for _, build in BUILT)

    parsed_plan = build_parser().parse_args(container(plan)["args"])
    parsed_chunks = build_parser().parse_args(container(chunks)["args"])
    parsed_stitch = build_parser().parse_args(container(stitch)["args"])

    assert parsed_plan.command == "plan" and parsed_plan.class_name == "SecondLaw"
    assert parsed_chunks.chunk_layout == [0, *(c.end_frame for c in DECISION.chunks)]
    assert len(parsed_chunks.chunk_layout) == 4 and parsed_chunks.chunk_layout[-1] == 900
    assert (
        parsed_stitch.input == [f"scene-01.chunk-0{k}.mp4" for k in range(3)] and parsed_stitch.frames == 900
    )


def test_a_scene_rendered_whole_has_no_chunk_job() -> None:
    whole = decide(ChunkingPolicy(), 900, 30, encode_units([Unit(60)] * 15))

    with pytest.raises(ValueError, match="rendered whole"):
        chunk_manifests.chunks_job(owner(), SETTINGS, SCENE, 2, whole)


def test_long_request_names_still_fit_in_a_label() -> None:
    body = owner()
    body["metadata"]["name"] = "n" * 253

    job = chunk_manifests.chunks_job(body, SETTINGS, SCENE, 99, DECISION)

    assert len(job["metadata"]["name"]) <= 63
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)


NAMES = ["intro.v2", "a.b", "a-b", "x" * 60 + ".y" * 40, "v1.2.3-final"]


@pytest.mark.parametrize("name", NAMES)
def test_every_job_name_is_one_the_api_server_accepts_whatever_the_requests_legal_name(name: str) -> None:
    """A request name is a DNS subdomain; every Job it makes is accepted by the server's rules,
    including the Indexed Job's Pod hostname `<job-name>-<index>` (a DNS-1123 label)."""
    from scenefarm_devkit.apiserver import jobrules

    body = owner()
    body["metadata"]["name"] = name
    jobs = [
        chunk_manifests.plan_job(body, SETTINGS, SCENE, 99),
        chunk_manifests.chunks_job(body, SETTINGS, SCENE, 99, DECISION),
        chunk_manifests.stitch_job(body, SETTINGS, SCENE, 99, DECISION),
        manifests.scene_job(body, SETTINGS, SCENE, 99),
        manifests.combine_job(body, SETTINGS, [0, 1], "abcdef0123"),
    ]
    for job in jobs:
        job_name = job["metadata"]["name"]
        assert len(job_name) <= 63 and jobrules._DNS1123_LABEL.fullmatch(job_name), job_name
        assert jobrules.hostname_causes(job_name, job["spec"]) == []
        kubernetes_validate.validate(job, K8S_VERSION, strict=True)


def test_dotted_and_dashed_namesakes_never_share_a_job_name() -> None:
    assert naming.scene_job_name("a.b", 0, 1) != naming.scene_job_name("a-b", 0, 1)
    assert naming.scene_job_name("newton", 0, 1) == "newton-s00-a1"  # undotted names unchanged
