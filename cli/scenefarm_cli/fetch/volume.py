"""Reading a file from the Volume artifact store with nothing but the user's own RBAC.

A short-lived Pod mounts the store's claim read-only (restricted: non-root, no capabilities,
read-only root filesystem, no service-account token, a deadline, owned by the request so it
never outlives it) and `cat`s the file over an exec stream (the official `kubernetes` client's
websocket support, binary frames). The Pod is deleted afterwards, whatever happened.
The Pod runs the renderer image as the render ServiceAccount and uid, like the render Pods: the
image is already on the nodes, the account's imagePullSecrets pull it, and the render Pods' uid
owns the files (they are written 0600). On OpenShift (the chart's `openshift: true`) no uid is
fixed: restricted-v2 gives the download Pod the namespace's first UID, as it gave the render Pods.
The user needs: create/get/delete pods, create pods/exec, list jobs (to find claim and image), get
serviceaccounts (the renderer image once the request's Jobs are gone).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from lightkube import codecs
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Pod, ServiceAccount
from lightkube.types import on_error_raise

from scenefarm_cli.connection import Connection
from scenefarm_cli.errors import CliError, Forbidden, NotFound
from scenefarm_contract import k8s
from scenefarm_contract.keys import (
    RENDER_UID_ANNOTATION,
    RENDER_UID_ASSIGNED,
    RENDERER_IMAGE_ANNOTATION,
    REQUEST_LABEL,
    ROLE_LABEL,
)
from scenefarm_contract.names import base_name, request_labels

MOUNT = "/artifacts"  # where the claim is mounted, as in the render Pods (manifests.ARTIFACT_MOUNT)
UID = 10001  # the render Pods' user (manifests.RENDER_UID): it owns the files
DEFAULT_CLAIM = "scenefarm-artifacts"  # the operator's SCENEFARM_ARTIFACT_CLAIM default
# The operator's SCENEFARM_RENDER_SERVICE_ACCOUNT default; the chart annotates it with the
# renderer image (RENDERER_IMAGE_ANNOTATION) in every render namespace.
DEFAULT_SERVICE_ACCOUNT = "scenefarm-render"
CONTAINER = "fetch"
DEADLINE_SECONDS = 900


@dataclasses.dataclass(frozen=True)
class Store:
    claim: str
    image: str
    service_account: str | None = None  # None: the namespace's default account
    run_as_user: int | None = UID  # the render Pods' (None: the image's USER)
    run_as_group: int | None = UID


def store_of(conn: Connection, request: Mapping[str, Any], claim: str | None, image: str | None) -> Store:
    """The claim, image, account and uid the request's own Jobs use; flags win. With no Job left,
    the image and uid come from the render ServiceAccount's annotations (never a public image)."""
    labels: dict[str, Any] = {REQUEST_LABEL: base_name(request["metadata"]["name"], 63)}
    with conn.talking(f"jobs of videorequest/{request['metadata']['name']}"):
        jobs = list(conn.client().list(Job, namespace=conn.namespace, labels=labels))
    found_claim, found_image, account = None, None, None
    uid: int | None = UID
    gid: int | None = UID
    for job in jobs:
        spec = job.spec.template.spec if job.spec and job.spec.template else None
        for volume in (spec.volumes or []) if spec else []:
            if volume.name == "artifacts" and volume.persistentVolumeClaim:
                found_claim = volume.persistentVolumeClaim.claimName
        if spec and spec.containers:
            found_image = spec.containers[0].image
            account = spec.serviceAccountName
            context = spec.securityContext
            uid, gid = (context.runAsUser, context.runAsGroup) if context else (None, None)
    account = account or DEFAULT_SERVICE_ACCOUNT
    try:
        with conn.talking(f"serviceaccount/{account}"):
            sa = conn.client().get(ServiceAccount, account, namespace=conn.namespace)
    except (NotFound, Forbidden):
        sa = None
    annotations = (sa.metadata.annotations or {}) if sa and sa.metadata else {}
    annotated = annotations.get(RENDERER_IMAGE_ANNOTATION)
    if not jobs and annotations.get(RENDER_UID_ANNOTATION) == RENDER_UID_ASSIGNED:
        uid = gid = None  # OpenShift: the SCC gives every Pod of the namespace its first UID
    chosen = image or found_image or annotated
    if not chosen:
        raise CliError(
            f"no Job of videorequest/{request['metadata']['name']} is left to take the renderer image "
            f"from, and serviceaccount/{account} has no {RENDERER_IMAGE_ANNOTATION} annotation: "
            "pass --image with the renderer image"
        )
    return Store(
        claim or found_claim or DEFAULT_CLAIM,
        chosen,
        service_account=account if sa or found_image else None,
        run_as_user=uid,
        run_as_group=gid,
    )


def pod_manifest(request: Mapping[str, Any], store: Store) -> dict[str, Any]:
    meta = request["metadata"]
    name = base_name(meta["name"], 40)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": f"{name}-download-",
            "namespace": meta.get("namespace"),
            "labels": request_labels(meta["name"]) | {ROLE_LABEL: "download"},
            "ownerReferences": [
                {
                    "apiVersion": request["apiVersion"],
                    "kind": request["kind"],
                    "name": meta["name"],
                    "uid": meta["uid"],
                }
            ],
        },
        "spec": {
            "restartPolicy": "Never",
            "activeDeadlineSeconds": DEADLINE_SECONDS,
            **({"serviceAccountName": store.service_account} if store.service_account else {}),
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {
                "runAsNonRoot": True,
                **({"runAsUser": store.run_as_user} if store.run_as_user is not None else {}),
                **({"runAsGroup": store.run_as_group} if store.run_as_group is not None else {}),
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": CONTAINER,
                    "image": store.image,
                    "command": ["sleep", str(DEADLINE_SECONDS)],
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "16Mi"},
                        "limits": {"cpu": "500m", "memory": "64Mi"},
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [{"name": "artifacts", "mountPath": MOUNT, "readOnly": True}],
                }
            ],
            "volumes": [
                {"name": "artifacts", "persistentVolumeClaim": {"claimName": store.claim, "readOnly": True}}
            ],
        },
    }


@contextlib.contextmanager
def helper_pod(conn: Connection, request: Mapping[str, Any], store: Store, timeout: float) -> Iterator[str]:
    """A running helper Pod's name; deleted on the way out."""
    with conn.talking(f"a helper Pod for videorequest/{request['metadata']['name']}"):
        pod = conn.client().create(codecs.from_dict(pod_manifest(request, store)))
    name = str(pod.metadata.name if pod.metadata else "")
    try:
        _wait_running(conn, name, timeout)
        yield name
    finally:
        with contextlib.suppress(Exception), conn.talking(f"pod/{name}"):
            conn.client().delete(Pod, name, namespace=conn.namespace, grace_period=0)


def _wait_running(conn: Connection, name: str, timeout: float) -> None:
    """Until the Pod runs, from a watch on it (no polling); its own reason when it cannot."""
    deadline = time.monotonic() + timeout
    with conn.talking(f"pod/{name}"):
        for _, pod in conn.client().watch(
            Pod,
            namespace=conn.namespace,
            fields={"metadata.name": name},
            server_timeout=max(1, int(timeout)),
            on_error=on_error_raise,
        ):
            phase = pod.status.phase if pod.status else None
            if phase == k8s.POD_RUNNING:
                return
            if phase in k8s.POD_ENDED:
                raise CliError(f"the helper pod/{name} ended ({phase}) before the download: {_why(pod)}")
            if time.monotonic() > deadline:
                break
    raise CliError(f"the helper pod/{name} did not start within {timeout:.0f} s: {_why_by_name(conn, name)}")


def _why_by_name(conn: Connection, name: str) -> str:
    with contextlib.suppress(Exception):
        return _why(conn.client().get(Pod, name, namespace=conn.namespace))
    return "unknown reason"


def _why(pod: Any) -> str:
    status = pod.status
    for cs in (status.containerStatuses or []) if status else []:
        state = cs.state
        if state and state.waiting and state.waiting.reason:
            return f"{state.waiting.reason}: {state.waiting.message or ''}".strip(": ")
        if state and state.terminated:
            return f"exit {state.terminated.exitCode} {state.terminated.reason or ''}".strip()
    for condition in (status.conditions or []) if status else []:
        if condition.status != "True" and condition.message:
            return str(condition.message)
    return (status.message if status else None) or "no reason given"


def stream_file(conn: Connection, pod: str, path: str, sink: Callable[[bytes], None]) -> None:
    """`cat path` in the Pod, each chunk of its stdout handed to `sink` as it arrives."""
    from kubernetes.client import CoreV1Api
    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream import stream

    api = CoreV1Api(conn.kubernetes_api())
    try:
        response = stream(
            api.connect_get_namespaced_pod_exec,
            pod,
            conn.namespace,
            container=CONTAINER,
            command=["cat", path],
            stderr=True,
            stdin=False,
            stdout=True,
            tty=False,
            _preload_content=False,
            binary=True,
        )
    except ApiException as error:
        raise _exec_error(pod, error) from None
    # The client also copies all stdout into a buffer of its own (`capture_all`, which its
    # `stream()` does not let us turn off): the file goes to `sink` only, not twice into memory.
    response._all = _Discard()
    errors = b""
    try:
        while response.is_open():
            response.update(timeout=5)
            if response.peek_stdout():
                sink(response.read_stdout())
            if response.peek_stderr():
                errors += response.read_stderr()
        sink(response.read_stdout())
        errors += response.read_stderr()
        code = _returncode(response)
    finally:
        response.close()
    if code:
        text = errors.decode(errors="replace").strip() or f"exit code {code}"
        if "No such file" in text:
            raise NotFound(f"{path} is not in the artifact store (claim mounted at {MOUNT}): {text}")
        raise CliError(f"reading {path} in pod/{pod} failed: {text}")


class _Discard:
    def write(self, _data: bytes) -> None:
        return None


def _returncode(response: Any) -> int:
    try:
        return int(response.returncode or 0)
    except (TypeError, KeyError, IndexError, ValueError):
        return 1  # the stream closed without the exit status: treat as a failure


def _exec_error(pod: str, error: Any) -> CliError:
    reason = str(getattr(error, "reason", "") or error)
    if "403" in reason or "401" in reason:
        return Forbidden(f"not allowed to exec into pod/{pod} (needs create on pods/exec): {reason}")
    return CliError(f"cannot exec into pod/{pod}: {reason}")
