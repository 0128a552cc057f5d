"""Pure builders: (VideoRequest, plan, settings) -> the ConfigMap and Jobs the operator creates.

Every render and combine pod runs restricted: non-root, read-only root filesystem with an
emptyDir for scratch, all capabilities dropped, seccomp RuntimeDefault, no service-account
token, resource limits and a deadline. Generated code is untrusted; the pod is the fence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from lightkube.utils.quantity import parse_quantity

from scenefarm_contract.narration import (
    GEMINI,
    GEMINI_KEY_ENV,
    GEMINI_SECRET,
    GEMINI_SECRET_KEY,
    GEMINI_URL_ENV,
    NARRATION_INDEX,
    SUBTITLES_SRT,
    SUBTITLES_VTT,
    narration_argv,
    narration_of,
)
from scenefarm_contract.renderer import (
    DEFAULT_TERMINATION_LOG,
    TERMINATION_LOG_ENV,
    VIDEO_KEY,
    ExitClass,
    artifact_prefix,
    clean_argv,
    combine_argv,
    render_argv,
    scene_key,
)
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.engine.manifests.owner import adopt
from scenefarm_operator.engine.plan_store import SceneEntry
from scenefarm_operator.support.settings import Settings

PLAN_MOUNT = "/plan"
ARTIFACT_MOUNT = "/artifacts"
SCRATCH_MOUNT = "/scratch"
RENDER_UID = 10001
DEADLINE_MARGIN_SECONDS = 15  # the renderer stops first, so its own message says why
DEFAULT_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}}
FIXABLE_OR_ENVIRONMENT = [ExitClass.CODE_REJECTED, ExitClass.CODE_RAISED, ExitClass.ENVIRONMENT]

Body = Mapping[str, Any]


def plan_configmap(owner: Body, data: Mapping[str, str]) -> dict[str, Any]:
    name = owner["metadata"]["name"]
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": naming.plan_configmap_name(name), "labels": naming.request_labels(name)},
        "data": dict(data),
    }
    adopt(obj, owner)
    return obj


def quality_of(spec: Mapping[str, Any], settings: Settings) -> str:
    return str(spec.get("render", {}).get("quality") or settings.default_quality)


def store_of(spec: Mapping[str, Any], settings: Settings) -> str:
    return str(spec.get("output", {}).get("store") or settings.artifact_store)


def scene_job(
    owner: Body,
    settings: Settings,
    scene: SceneEntry,
    attempt: int,
    *,
    memory_limit: str | None = None,
) -> dict[str, Any]:
    """The Job rendering a scene whole (attempt `attempt`)."""
    request = owner["metadata"]["name"]
    return scene_stage_job(
        owner,
        settings,
        scene,
        name=naming.scene_job_name(request, scene.index, attempt),
        labels=naming.scene_labels(request, scene.index, attempt),
        args=scene_render_argv(owner, settings, scene),
        with_plan=True,
        memory_limit=memory_limit,
    )


def scene_render_argv(owner: Body, settings: Settings, scene: SceneEntry) -> list[str]:
    """The renderer's arguments to render the scene into `scene-NN.mp4` of the request's prefix."""
    meta, spec = owner["metadata"], owner.get("spec", {})
    return render_argv(
        code_path=f"{PLAN_MOUNT}/{scene.key}",
        class_name=scene.class_name,
        quality=quality_of(spec, settings),
        scene_index=scene.index,
        prefix=artifact_prefix(meta["namespace"], meta["name"], meta["uid"]),
        store=store_of(spec, settings).lower(),
        store_root=ARTIFACT_MOUNT,
        deadline_seconds=max(render_deadline(spec) - DEADLINE_MARGIN_SECONDS, 10),
    )


def scene_stage_job(
    owner: Body,
    settings: Settings,
    scene: SceneEntry,
    *,
    name: str,
    labels: Mapping[str, str],
    args: list[str],
    with_plan: bool,
    memory_limit: str | None = None,
) -> dict[str, Any]:
    """A Job of one of the scene's stages (whole render, plan, chunks, stitch): the restricted
    renderer Pod with the request's render resources, deadline and backoff, and the code key."""
    render = owner.get("spec", {}).get("render", {})
    job = _job(
        owner,
        settings,
        name=name,
        labels=dict(labels),
        args=args,
        resources=_resources(render.get("resources"), memory_limit),
        deadline=render_deadline(owner.get("spec", {})),
        backoff_limit=int(render.get("backoffLimit", 2)),
        with_plan=with_plan,
    )
    job["metadata"]["annotations"] = {naming.CODE_KEY_ANNOTATION: scene.key}
    return job


def render_deadline(spec: Mapping[str, Any]) -> int:
    return int(spec.get("render", {}).get("activeDeadlineSeconds", 900))


def combine_job(
    owner: Body,
    settings: Settings,
    scenes: list[int],
    inputs: str = "",
    sources: Mapping[int, str] | None = None,
    *,
    digests: Mapping[int, str] | None = None,
    narrations: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """Join the scenes in order; `sources`: scenes reused from the cache, read from the request
    that rendered them (`<prefix>/scene-NN.mp4`); `digests`: each scene's recorded sha256, which
    the combine checks every input against; `narrations`: each scene's text, spoken as
    `spec.narration` says (nothing spoken when Off or empty)."""
    meta, spec = owner["metadata"], owner.get("spec", {})
    sources, digests = sources or {}, digests or {}
    narration = narration_of(spec, [(narrations or {}).get(i, "") for i in scenes])
    args = combine_argv(
        scene_keys=[sources.get(i) or scene_key(i) for i in scenes],
        prefix=artifact_prefix(meta["namespace"], meta["name"], meta["uid"]),
        store=store_of(spec, settings).lower(),
        store_root=ARTIFACT_MOUNT,
        sha256s=[digests.get(i) for i in scenes],
    )
    args += narration_argv(narration)
    job = _job(
        owner,
        settings,
        name=naming.combine_job_name(meta["name"], inputs),
        labels=naming.combine_labels(meta["name"]),
        args=args,
        resources=_resources(spec.get("render", {}).get("resources"), None),
        deadline=render_deadline(spec),
        backoff_limit=int(spec.get("render", {}).get("backoffLimit", 2)),
        with_plan=False,
    )
    if narration.speaks and narration.mode == GEMINI:  # the speech key, from the request's namespace
        env = job["spec"]["template"]["spec"]["containers"][0]["env"]
        ref = {"name": GEMINI_SECRET, "key": GEMINI_SECRET_KEY, "optional": True}
        env.append({"name": GEMINI_KEY_ENV, "valueFrom": {"secretKeyRef": ref}})
        if settings.gemini_base_url:
            env.append({"name": GEMINI_URL_ENV, "value": settings.gemini_base_url})
    return job


def _resources(custom: Mapping[str, Any] | None, memory_limit: str | None) -> dict[str, Any]:
    """Requests and limits of the render container; never unbounded, never requests > limits.

    Without limits in the spec the built-in limits apply, each raised to its request when the
    request is higher (a real API server refuses a container whose request exceeds its limit).
    """
    resources = {k: dict(v) for k, v in (custom or DEFAULT_RESOURCES).items()}
    if "limits" not in resources:
        limits = dict(DEFAULT_RESOURCES["limits"])
        for name, request in resources.get("requests", {}).items():
            if name in limits and _quantity(request) > _quantity(limits[name]):
                limits[name] = request
        resources["limits"] = limits
    if memory_limit:
        resources["limits"]["memory"] = memory_limit
        requests = resources.setdefault("requests", {})
        requests["memory"] = min(requests.get("memory", memory_limit), memory_limit, key=_quantity)
    return resources


def _quantity(text: str) -> Decimal:
    return parse_quantity(str(text)) or Decimal(0)


def cleanup_job(
    owner: Body, settings: Settings, *, keep: Sequence[str], also: Sequence[str]
) -> dict[str, Any]:
    """Remove a deleted request's files from the store (`scenefarm_renderer clean`): everything
    under its prefix but `keep`, plus `also`. Not owned by the request (it is being deleted, and
    the garbage collector would take the Job with it); it goes by its own TTL."""
    meta, spec = owner["metadata"], owner.get("spec", {})
    prefix = artifact_prefix(meta["namespace"], meta["name"], meta["uid"])
    scenes = [int(s["index"]) for s in (owner.get("status") or {}).get("scenes") or () if "index" in s]
    videos = [*(scene_key(i) for i in scenes), VIDEO_KEY]
    keys = [*videos, *(k.rsplit(".", 1)[0] + ".png" for k in videos)]  # each with its poster
    keys += [SUBTITLES_VTT, SUBTITLES_SRT, NARRATION_INDEX]  # the narration's subtitles, cached speech
    args = clean_argv(
        prefix=prefix,
        store=store_of(spec, settings).lower(),
        store_root=ARTIFACT_MOUNT,
        keep=keep,
        also=also,
        keys=keys,
    )
    job = _job(
        owner,
        settings,
        name=f"{naming.job_base(meta['name'])}-clean-{str(meta['uid'])[:8]}",
        # Not the request's label: the Job is no child of it (a namesake must not count it, and
        # `kubectl get jobs -l scenefarm.dev/request=NAME` is empty once the request is gone).
        labels={
            naming.MANAGED_BY: naming.MANAGER,
            naming.CLEANUP_OF_LABEL: naming.base_name(meta["name"], 63),
            naming.ROLE_LABEL: "cleanup",
        },
        args=args,
        resources=_resources(None, None),
        deadline=600,
        backoff_limit=3,
        with_plan=False,
    )
    job["metadata"].pop("ownerReferences", None)
    job["spec"]["ttlSecondsAfterFinished"] = 300
    if store_of(spec, settings) != "Appwrite":  # the other requests' files it removes, writable too
        mounts = job["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        for other in sorted({source.rsplit("/", 1)[0] for source in also}):
            mounts.append({"name": "artifacts", "mountPath": f"{ARTIFACT_MOUNT}/{other}", "subPath": other})
    return job


def _job(
    owner: Body,
    settings: Settings,
    *,
    name: str,
    labels: dict[str, str],
    args: list[str],
    resources: dict[str, Any],
    deadline: int,
    backoff_limit: int,
    with_plan: bool,
) -> dict[str, Any]:
    if settings.kueue_queue_name:
        labels = labels | {naming.KUEUE_QUEUE_LABEL: settings.kueue_queue_name}
    container = {
        "name": "render",
        "image": settings.renderer_image,
        "imagePullPolicy": settings.renderer_pull_policy,
        "command": ["python", "-m", "scenefarm_renderer"],
        "args": args,
        "env": _env(settings, owner),
        "resources": resources,
        "securityContext": {
            "runAsNonRoot": True,
            **_fixed_ids(settings, "runAsUser", "runAsGroup"),
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationMessagePath": DEFAULT_TERMINATION_LOG,
        "terminationMessagePolicy": "File",
        "volumeMounts": _mounts(owner, settings, with_plan),
    }
    job: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "backoffLimit": backoff_limit,
            "activeDeadlineSeconds": deadline,
            # The request's status keeps what a finished Job said, so old Jobs may go.
            "ttlSecondsAfterFinished": settings.finished_job_ttl_seconds,
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailJob",
                        "onExitCodes": {
                            "containerName": "render",
                            "operator": "In",
                            "values": [int(c) for c in FIXABLE_OR_ENVIRONMENT],
                        },
                    },
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                ]
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": settings.render_service_account,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        **_fixed_ids(settings, "runAsUser", "runAsGroup", "fsGroup"),
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": _volumes(owner, settings, with_plan),
                },
            },
        },
    }
    adopt(job, owner)
    return job


def _fixed_ids(settings: Settings, *fields: str) -> dict[str, int]:
    """The image's uid/gid 10001, except on OpenShift: its restricted-v2 SCC assigns the namespace's
    first UID (and fsGroup) and refuses any other, so the Pods carry none (the files they write
    are then owned by that UID, the same for every Pod of the namespace)."""
    return {} if settings.openshift else dict.fromkeys(fields, RENDER_UID)


def _env(settings: Settings, owner: Body) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": TERMINATION_LOG_ENV, "value": DEFAULT_TERMINATION_LOG},
        {"name": "HOME", "value": SCRATCH_MOUNT},
        {"name": "TMPDIR", "value": SCRATCH_MOUNT},
        {"name": "MPLCONFIGDIR", "value": SCRATCH_MOUNT},
    ]
    if store_of(owner.get("spec", {}), settings) == "Appwrite" and settings.appwrite_credentials_secret:
        secret = settings.appwrite_credentials_secret
        for var, key in (
            ("APPWRITE_ENDPOINT", "endpoint"),
            ("APPWRITE_PROJECT_ID", "project"),
            ("APPWRITE_API_KEY", "apiKey"),
            ("APPWRITE_BUCKET_ID", "bucket"),
        ):
            env.append({"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
        owner_id = owner.get("spec", {}).get("owner", {}).get("appwriteUserId")
        if owner_id:
            env.append({"name": "SCENEFARM_OWNER_USER_ID", "value": owner_id})
    return env


def _mounts(owner: Body, settings: Settings, with_plan: bool) -> list[dict[str, Any]]:
    """On the shared artifacts volume a Pod writes only its own request's directory: the claim is
    mounted read-only (scenes reused from other requests are read there) and the request's
    prefix read-write over it (a subPath mount; the kubelet makes the directory)."""
    meta = owner["metadata"]
    artifacts: list[dict[str, Any]] = [{"name": "artifacts", "mountPath": ARTIFACT_MOUNT}]
    if store_of(owner.get("spec", {}), settings) != "Appwrite":
        prefix = artifact_prefix(meta["namespace"], meta["name"], meta["uid"])
        artifacts = [
            {"name": "artifacts", "mountPath": ARTIFACT_MOUNT, "readOnly": True},
            {"name": "artifacts", "mountPath": f"{ARTIFACT_MOUNT}/{prefix}", "subPath": prefix},
        ]
    mounts: list[dict[str, Any]] = [*artifacts, {"name": "scratch", "mountPath": SCRATCH_MOUNT}]
    if with_plan:
        mounts.insert(0, {"name": "plan", "mountPath": PLAN_MOUNT, "readOnly": True})
    return mounts


def _volumes(owner: Body, settings: Settings, with_plan: bool) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {"name": "artifacts", "persistentVolumeClaim": {"claimName": settings.artifact_claim}},
        {"name": "scratch", "emptyDir": {"sizeLimit": "2Gi"}},
    ]
    if store_of(owner.get("spec", {}), settings) == "Appwrite":
        volumes[0] = {"name": "artifacts", "emptyDir": {"sizeLimit": "4Gi"}}
    if with_plan:
        plan_name = naming.plan_configmap_name(owner["metadata"]["name"])
        volumes.insert(0, {"name": "plan", "configMap": {"name": plan_name}})
    return volumes
