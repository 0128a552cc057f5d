import copy
import json
from typing import Any

import kubernetes_validate
import pytest

from scenefarm_contract.renderer import combine_argv, render_argv
from scenefarm_operator.engine.manifests import jobs as manifests
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.engine.plan_store import SceneEntry
from scenefarm_operator.support.settings import Settings

K8S_VERSION = "1.33"
UID = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f"


def owner(**spec: Any) -> dict[str, Any]:
    """A VideoRequest body as the API server hands it to a kopf handler."""
    return {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {
            "name": "newton",
            "namespace": "videos",
            "uid": UID,
            "generation": 3,
            "resourceVersion": "48213",
            "creationTimestamp": "2025-06-01T10:00:00Z",
            "labels": {"app.kubernetes.io/managed-by": "Helm", "team": "physics"},
        },
        "spec": {"topic": "Newton's laws", **spec},
    }


SCENE = SceneEntry(index=1, name="second-law", class_name="SecondLaw", revision=2, sha256="ab" * 32)
SETTINGS = Settings()
APPWRITE_SETTINGS = Settings(
    artifact_store="Appwrite",
    appwrite_credentials_secret="scenefarm-appwrite",
    appwrite_endpoint="https://appwrite.example/v1",
    appwrite_project="scenefarm",
    appwrite_api_key="sekrit-api-key-value",
)
KUEUE_SETTINGS = Settings(kueue_queue_name="render-queue")


def container(job: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = job["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(job)["env"]}


def scene_job(body: dict[str, Any] | None = None, settings: Settings = SETTINGS, **kw: Any) -> dict[str, Any]:
    return manifests.scene_job(body or owner(), settings, SCENE, kw.pop("attempt", 2), **kw)


def combine_job(body: dict[str, Any] | None = None, settings: Settings = SETTINGS) -> dict[str, Any]:
    return manifests.combine_job(body or owner(), settings, [0, 2, 3])


BUILT = [
    # (case, build) — every shape of child the operator creates
    ("scene job, defaults", scene_job),
    ("scene job, memory override", lambda: scene_job(memory_limit="4Gi")),
    (
        "scene job, custom render settings",
        lambda: scene_job(
            owner(
                render={
                    "quality": "high",
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": 120,
                    "resources": {"requests": {"cpu": "1", "memory": "3Gi"}, "limits": {"memory": "6Gi"}},
                }
            )
        ),
    ),
    (
        "scene job, Appwrite store",
        lambda: scene_job(owner(owner={"appwriteUserId": "u-1"}), APPWRITE_SETTINGS),
    ),
    ("scene job, kueue", lambda: scene_job(settings=KUEUE_SETTINGS)),
    ("combine job, defaults", combine_job),
    ("combine job, Appwrite store", lambda: combine_job(settings=APPWRITE_SETTINGS)),
    ("combine job, kueue", lambda: combine_job(settings=KUEUE_SETTINGS)),
]
BUILT_IDS = [case for case, _ in BUILT]


@pytest.mark.parametrize(("case", "build"), BUILT, ids=BUILT_IDS)
def test_every_job_is_a_valid_kubernetes_job(case: str, build: Any) -> None:
    kubernetes_validate.validate(build(), K8S_VERSION, strict=True)


def test_the_plan_configmap_is_a_valid_kubernetes_configmap() -> None:
    cm = manifests.plan_configmap(owner(), {"plan.json": "{}", "scene-00.r1.py": "from manim import *\n"})
    kubernetes_validate.validate(cm, K8S_VERSION, strict=True)


def test_the_plan_configmap_is_named_labelled_and_owned_by_the_request() -> None:
    data = {"plan.json": "{}", "scene-00.r1.py": "code"}
    cm = manifests.plan_configmap(owner(), data)
    assert cm["metadata"]["name"] == "newton-plan"
    assert cm["metadata"]["namespace"] == "videos"
    assert cm["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "scenefarm"
    assert cm["metadata"]["labels"]["scenefarm.dev/request"] == "newton"
    assert cm["data"] == data
    assert [r["uid"] for r in cm["metadata"]["ownerReferences"]] == [UID]


@pytest.mark.parametrize(("case", "build"), BUILT, ids=BUILT_IDS)
def test_every_job_is_owned_by_its_request_as_controller(case: str, build: Any) -> None:
    job = build()
    assert job["metadata"]["namespace"] == "videos"
    assert job["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "scenefarm.dev/v1alpha1",
            "kind": "VideoRequest",
            "name": "newton",
            "uid": UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


@pytest.mark.parametrize(("case", "build"), BUILT, ids=BUILT_IDS)
def test_every_pod_runs_restricted(case: str, build: Any) -> None:
    pod = build()["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "scenefarm-render"
    assert pod["restartPolicy"] == "Never"
    sc = container(build())["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] != 0
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "privileged" not in sc


@pytest.mark.parametrize(("case", "build"), BUILT, ids=BUILT_IDS)
def test_every_job_fails_fast_on_code_and_environment_errors_and_ignores_disruptions(
    case: str, build: Any
) -> None:
    job = build()
    assert job["spec"]["podFailurePolicy"] == {
        "rules": [
            {
                "action": "FailJob",
                "onExitCodes": {"containerName": "render", "operator": "In", "values": [10, 11, 20]},
            },
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        ]
    }
    assert container(job)["name"] == "render"


@pytest.mark.parametrize(("case", "build"), BUILT, ids=BUILT_IDS)
def test_every_container_writes_its_termination_message_to_a_file(case: str, build: Any) -> None:
    c = container(build())
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert env_of(build())["SCENEFARM_TERMINATION_LOG"]["value"] == "/dev/termination-log"


@pytest.mark.parametrize(("case", "build"), BUILT, ids=BUILT_IDS)
def test_scratch_paths_point_at_the_writable_emptydir(case: str, build: Any) -> None:
    job = build()
    env = env_of(job)
    mounts = {m["name"]: m for m in container(job)["volumeMounts"]}
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes["scratch"]
    for var in ("HOME", "TMPDIR", "MPLCONFIGDIR"):
        assert env[var]["value"] == mounts["scratch"]["mountPath"]


@pytest.mark.parametrize(("case", "build"), BUILT, ids=BUILT_IDS)
def test_every_env_value_is_inline_text_or_a_secret_reference(case: str, build: Any) -> None:
    job = build()
    for var in container(job)["env"]:
        assert set(var) in ({"name", "value"}, {"name", "valueFrom"})
        if "valueFrom" in var:
            assert set(var["valueFrom"]) == {"secretKeyRef"}
    assert "sekrit-api-key-value" not in json.dumps(job)


LABELS = [
    # (case, build, expected labels)
    (
        "scene job",
        lambda: scene_job(attempt=3),
        {
            "app.kubernetes.io/managed-by": "scenefarm",
            "scenefarm.dev/request": "newton",
            "scenefarm.dev/scene": "1",
            "scenefarm.dev/role": "scene",
            "scenefarm.dev/attempt": "3",
        },
    ),
    (
        "combine job",
        combine_job,
        {
            "app.kubernetes.io/managed-by": "scenefarm",
            "scenefarm.dev/request": "newton",
            "scenefarm.dev/role": "combine",
        },
    ),
    (
        "scene job with kueue",
        lambda: scene_job(settings=KUEUE_SETTINGS, attempt=1),
        {
            "app.kubernetes.io/managed-by": "scenefarm",
            "scenefarm.dev/request": "newton",
            "scenefarm.dev/scene": "1",
            "scenefarm.dev/role": "scene",
            "scenefarm.dev/attempt": "1",
            "kueue.x-k8s.io/queue-name": "render-queue",
        },
    ),
    (
        "combine job with kueue",
        lambda: combine_job(settings=KUEUE_SETTINGS),
        {
            "app.kubernetes.io/managed-by": "scenefarm",
            "scenefarm.dev/request": "newton",
            "scenefarm.dev/role": "combine",
            "kueue.x-k8s.io/queue-name": "render-queue",
        },
    ),
]


@pytest.mark.parametrize(("case", "build", "expected"), LABELS, ids=[c for c, _, _ in LABELS])
def test_jobs_and_their_pods_carry_the_scenefarm_labels(
    case: str, build: Any, expected: dict[str, str]
) -> None:
    job = build()
    for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
        assert {k: v for k, v in labels.items() if k in expected} == expected


def test_the_owners_own_managed_by_label_does_not_replace_scenefarms() -> None:
    # A VideoRequest applied by Helm carries managed-by: Helm; kopf.adopt copies owner labels.
    job = scene_job()
    assert job["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "scenefarm"


def test_without_kueue_no_queue_label_is_set() -> None:
    job = scene_job()
    assert naming.KUEUE_QUEUE_LABEL not in job["metadata"]["labels"]
    assert naming.KUEUE_QUEUE_LABEL not in job["spec"]["template"]["metadata"]["labels"]


def test_scene_job_name_and_code_key_annotation() -> None:
    job = scene_job(attempt=2)
    assert job["metadata"]["name"] == "newton-s01-a2"
    assert job["metadata"]["annotations"] == {"scenefarm.dev/code-key": "scene-01.r2.py"}


def test_combine_job_name() -> None:
    assert combine_job()["metadata"]["name"] == "newton-combine"


def test_a_long_request_name_gives_job_names_that_fit_in_a_label() -> None:
    body = owner()
    body["metadata"]["name"] = "n" * 253
    job = manifests.scene_job(body, SETTINGS, SCENE, 1)
    assert len(job["metadata"]["name"]) <= 63
    assert len(job["metadata"]["labels"]["scenefarm.dev/request"]) <= 63
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)


ARGV = [
    # (case, body, settings, expected store, expected quality, expected --deadline)
    ("defaults", owner(), SETTINGS, "volume", "low", 885),
    ("settings default quality", owner(), Settings(default_quality="medium"), "volume", "medium", 885),
    (
        "spec quality wins",
        owner(render={"quality": "fourk"}),
        Settings(default_quality="medium"),
        "volume",
        "fourk",
        885,
    ),
    ("spec store wins", owner(output={"store": "Appwrite"}), SETTINGS, "appwrite", "low", 885),
    ("settings store", owner(), APPWRITE_SETTINGS, "appwrite", "low", 885),
    (
        "short deadline keeps a margin",
        owner(render={"activeDeadlineSeconds": 120}),
        SETTINGS,
        "volume",
        "low",
        105,
    ),
    (
        "shortest deadline is floored",
        owner(render={"activeDeadlineSeconds": 20}),
        SETTINGS,
        "volume",
        "low",
        10,
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "settings", "store", "quality", "deadline"), ARGV, ids=[a[0] for a in ARGV]
)
def test_scene_job_command_line_is_the_contracts_render_argv(
    case: str, body: dict[str, Any], settings: Settings, store: str, quality: str, deadline: int
) -> None:
    job = manifests.scene_job(body, settings, SCENE, 1)
    c = container(job)
    assert c["command"] == ["python", "-m", "scenefarm_renderer"]
    assert c["args"] == render_argv(
        code_path="/plan/scene-01.r2.py",
        class_name="SecondLaw",
        quality=quality,
        scene_index=1,
        prefix=f"videos/newton-{UID[:8]}",
        store=store,
        store_root="/artifacts",
        deadline_seconds=deadline,
    )
    assert c["image"] == settings.renderer_image
    assert c["imagePullPolicy"] == settings.renderer_pull_policy


def test_combine_job_command_line_is_the_contracts_combine_argv() -> None:
    c = container(combine_job())
    assert c["command"] == ["python", "-m", "scenefarm_renderer"]
    assert c["args"] == combine_argv(
        scene_keys=["scene-00.mp4", "scene-02.mp4", "scene-03.mp4"],
        prefix=f"videos/newton-{UID[:8]}",
        store="volume",
        store_root="/artifacts",
    )


DEADLINES = [
    # (case, render spec, activeDeadlineSeconds, backoffLimit)
    ("defaults", {}, 900, 2),
    ("custom", {"activeDeadlineSeconds": 300, "backoffLimit": 0}, 300, 0),
    ("maximum", {"activeDeadlineSeconds": 86400, "backoffLimit": 10}, 86400, 10),
]


@pytest.mark.parametrize(("case", "render", "deadline", "backoff"), DEADLINES, ids=[d[0] for d in DEADLINES])
def test_deadline_and_backoff_limit_come_from_the_spec(
    case: str, render: dict[str, Any], deadline: int, backoff: int
) -> None:
    for job in (scene_job(owner(render=render)), combine_job(owner(render=render))):
        assert job["spec"]["activeDeadlineSeconds"] == deadline
        assert job["spec"]["backoffLimit"] == backoff


RESOURCES = [
    # (case, spec resources, memory override, expected container resources)
    ("defaults", None, None, manifests.DEFAULT_RESOURCES),
    (
        "custom",
        {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        None,
        {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    ),
    (
        "more memory after an OOM raises the limit and keeps the request",
        None,
        "4Gi",
        {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
    ),
    (
        "a limit below the request lowers the request",
        {"requests": {"memory": "3Gi"}, "limits": {"memory": "6Gi"}},
        "2Gi",
        {"requests": {"memory": "2Gi"}, "limits": {"memory": "2Gi"}},
    ),
    (
        "decimal and binary units compare by bytes",
        {"requests": {"memory": "1500M"}, "limits": {"memory": "2G"}},
        "1Gi",
        {"requests": {"memory": "1Gi"}, "limits": {"memory": "1Gi"}},
    ),
    (
        "requests above the default limits raise those limits (requests <= limits, as the server demands)",
        {"requests": {"cpu": "4", "memory": "4Gi"}},
        None,
        {"requests": {"cpu": "4", "memory": "4Gi"}, "limits": {"cpu": "4", "memory": "4Gi"}},
    ),
    (
        "a request above one default limit raises only that limit",
        {"requests": {"cpu": "250m", "memory": "3Gi"}},
        None,
        {"requests": {"cpu": "250m", "memory": "3Gi"}, "limits": {"cpu": "2", "memory": "3Gi"}},
    ),
    (
        "requests only get the default limits, with the memory override",
        {"requests": {"cpu": "1", "memory": "768Mi"}},
        "1536Mi",
        {"requests": {"cpu": "1", "memory": "768Mi"}, "limits": {"cpu": "2", "memory": "1536Mi"}},
    ),
]


@pytest.mark.parametrize(("case", "custom", "memory", "expected"), RESOURCES, ids=[r[0] for r in RESOURCES])
def test_scene_job_resources(
    case: str, custom: dict[str, Any] | None, memory: str | None, expected: dict[str, Any]
) -> None:
    body = owner(render={"resources": custom}) if custom else owner()
    before = copy.deepcopy(body)
    defaults = copy.deepcopy(manifests.DEFAULT_RESOURCES)
    job = scene_job(body, memory_limit=memory)
    assert container(job)["resources"] == expected
    assert body == before, "the owner's spec must not be modified"
    assert defaults == manifests.DEFAULT_RESOURCES, "the defaults must not be modified"


def test_an_integer_memory_request_survives_a_memory_override() -> None:
    body = owner(render={"resources": {"requests": {"memory": 1073741824}, "limits": {"memory": "2Gi"}}})
    job = scene_job(body, memory_limit="4Gi")
    assert container(job)["resources"]["limits"]["memory"] == "4Gi"
    assert container(job)["resources"]["requests"]["memory"] == 1073741824


def test_combine_job_uses_the_requests_resources_without_override() -> None:
    custom = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}
    assert container(combine_job(owner(render={"resources": custom})))["resources"] == custom


def test_scene_job_mounts_the_plan_read_only_from_the_requests_configmap() -> None:
    job = scene_job()
    mounts = {m["name"]: m for m in container(job)["volumeMounts"]}
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    assert mounts["plan"] == {"name": "plan", "mountPath": "/plan", "readOnly": True}
    assert volumes["plan"] == {"name": "plan", "configMap": {"name": "newton-plan"}}
    artifacts = [m for m in container(job)["volumeMounts"] if m["name"] == "artifacts"]
    # the whole claim read-only, the request's own directory read-write over it
    assert artifacts == [
        {"name": "artifacts", "mountPath": "/artifacts", "readOnly": True},
        {
            "name": "artifacts",
            "mountPath": f"/artifacts/videos/newton-{UID[:8]}",
            "subPath": f"videos/newton-{UID[:8]}",
        },
    ]


@pytest.mark.parametrize("build", [scene_job, lambda: combine_job(owner())])
def test_every_render_pod_may_write_only_its_own_requests_directory(build: Any) -> None:
    """A writable mount of the artifacts claim is only ever the request's own prefix; the
    renderer's store root and prefix land exactly there."""
    job = build()
    args = container(job)["args"]
    prefix = args[args.index("--prefix") + 1]
    writable = [
        m for m in container(job)["volumeMounts"] if m["name"] == "artifacts" and not m.get("readOnly")
    ]
    assert writable == [{"name": "artifacts", "mountPath": f"/artifacts/{prefix}", "subPath": prefix}]
    assert args[args.index("--store-root") + 1] == "/artifacts"


def test_combine_job_does_not_mount_the_plan() -> None:
    job = combine_job()
    assert "plan" not in {m["name"] for m in container(job)["volumeMounts"]}
    assert "plan" not in {v["name"] for v in job["spec"]["template"]["spec"]["volumes"]}


STORES = [
    # (case, build, artifacts volume source)
    ("volume scene", scene_job, {"persistentVolumeClaim": {"claimName": "scenefarm-artifacts"}}),
    ("volume combine", combine_job, {"persistentVolumeClaim": {"claimName": "scenefarm-artifacts"}}),
    ("appwrite scene", lambda: scene_job(settings=APPWRITE_SETTINGS), {"emptyDir": {"sizeLimit": "4Gi"}}),
    ("appwrite combine", lambda: combine_job(settings=APPWRITE_SETTINGS), {"emptyDir": {"sizeLimit": "4Gi"}}),
]


@pytest.mark.parametrize(("case", "build", "source"), STORES, ids=[s[0] for s in STORES])
def test_artifacts_volume_follows_the_store(case: str, build: Any, source: dict[str, Any]) -> None:
    volumes = {v["name"]: v for v in build()["spec"]["template"]["spec"]["volumes"]}
    assert volumes["artifacts"] == {"name": "artifacts", **source}


def test_appwrite_store_gets_its_credentials_from_the_secret_only() -> None:
    job = scene_job(owner(owner={"appwriteUserId": "user-42"}), APPWRITE_SETTINGS)
    env = env_of(job)
    for var, key in (
        ("APPWRITE_ENDPOINT", "endpoint"),
        ("APPWRITE_PROJECT_ID", "project"),
        ("APPWRITE_API_KEY", "apiKey"),
        ("APPWRITE_BUCKET_ID", "bucket"),
    ):
        assert env[var] == {
            "name": var,
            "valueFrom": {"secretKeyRef": {"name": "scenefarm-appwrite", "key": key}},
        }
    assert env["SCENEFARM_OWNER_USER_ID"]["value"] == "user-42"
    text = json.dumps(job)
    for secret in ("sekrit-api-key-value", "https://appwrite.example/v1"):
        assert secret not in text


def test_volume_store_gets_no_appwrite_credentials() -> None:
    names = set(env_of(scene_job(settings=Settings(appwrite_credentials_secret="scenefarm-appwrite"))))
    assert not {n for n in names if n.startswith("APPWRITE_")}


def test_the_clean_up_job_outlives_its_request_and_writes_only_what_it_removes() -> None:
    from scenefarm_operator.engine.manifests.jobs import cleanup_job

    body = owner()
    body["status"] = {"scenes": [{"index": 0}, {"index": 1}]}
    job = cleanup_job(body, SETTINGS, keep=["scene-01.mp4"], also=["videos/gone-12345678/scene-00.mp4"])
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    assert "ownerReferences" not in job["metadata"]  # the garbage collector would take it with the request
    assert job["spec"]["ttlSecondsAfterFinished"] == 300
    # No child's label: listing the request's Jobs after its deletion (or a namesake's) finds none.
    assert "scenefarm.dev/request" not in job["metadata"]["labels"]
    assert job["metadata"]["labels"]["scenefarm.dev/cleanup-of"] == "newton"
    args = container(job)["args"]
    assert args[:2] == ["clean", "--prefix"] and args[2] == f"videos/newton-{UID[:8]}"
    assert args[args.index("--keep") + 1] == "scene-01.mp4"
    assert args[args.index("--also") + 1] == "videos/gone-12345678/scene-00.mp4"
    writable = sorted(m["mountPath"] for m in container(job)["volumeMounts"] if m["name"] == "artifacts"
                      and not m.get("readOnly"))  # fmt: skip
    assert writable == ["/artifacts/videos/gone-12345678", f"/artifacts/videos/newton-{UID[:8]}"]
