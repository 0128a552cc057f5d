"""Defaults the real API server sets on built-in kinds: the scheme's SetDefaults_* and the strategies.

Scheme defaults (run on every decode, so on create and on update; `defaults`), as
pkg/apis/batch/v1/defaults.go and pkg/apis/core/v1/defaults.go set them:

- Job (SetDefaults_Job): completions and parallelism 1 when both are unset, parallelism 1,
  backoffLimit 6 (MaxInt32 with backoffLimitPerIndex), completionMode NonIndexed, suspend false,
  podReplacementPolicy (Failed with a podFailurePolicy, else TerminatingOrFailed), manualSelector
  false, onPodConditions status True, the Job's labels from its template when it has none;
- PodSpec (Pods and Job templates): dnsPolicy ClusterFirst, restartPolicy Always,
  terminationGracePeriodSeconds 30, securityContext {}, schedulerName default-scheduler;
  containers (and init containers): terminationMessagePath/Policy, imagePullPolicy (Always for
  `:latest` or no tag, else IfNotPresent), port protocol TCP, env fieldRef apiVersion v1, probe
  timings; volumes without a source become emptyDir, secret/configMap/projected/downwardAPI
  volumes get defaultMode 0644;
- Pod (SetDefaults_Pod): enableServiceLinks true, requests copied from limits.

Strategies at create time (`on_create`): a Job's generated `spec.selector` and template labels
(batch/v1 PrepareForCreate, unless `spec.manualSelector`), a Pod's `status` (phase Pending and
its QoS class), the Priority admission plugin's `priority: 0`/`preemptionPolicy`,
DefaultTolerationSeconds' not-ready/unreachable tolerations; Namespaces `spec.finalizers:
[kubernetes]` and `status.phase: Active`. Secrets (SetDefaults_Secret and the v1 conversion):
`type: Opaque`, `stringData` merged into `data` as base64 and dropped.
"""

from __future__ import annotations

import base64
from typing import Any

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
MAX_INT32 = 2**31 - 1
DEFAULT_TOLERATION_SECONDS = 300
DEFAULT_FILE_MODE = 0o644


def job_selector(job: dict[str, Any]) -> None:
    spec = job.setdefault("spec", {})
    if not isinstance(spec, dict) or spec.get("manualSelector"):
        return
    meta = job["metadata"]
    uid, name = meta["uid"], meta["name"]
    spec["selector"] = {"matchLabels": {CONTROLLER_UID: uid}}
    template = spec.setdefault("template", {})
    if isinstance(template, dict):
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        labels.update({CONTROLLER_UID: uid, JOB_NAME: name, "controller-uid": uid, "job-name": name})
        if not meta.get("labels"):  # SetDefaults_Job on the next decode: the template's labels
            meta["labels"] = dict(labels)


# -- scheme defaults -------------------------------------------------------------------------


def defaults(group: str, plural: str, obj: dict[str, Any]) -> None:
    """The scheme's SetDefaults_* for a decoded built-in object (create and update alike)."""
    if (group, plural) == ("", "secrets"):
        _secret(obj)
        return
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if (group, plural) == ("batch", "jobs"):
        _job(obj, spec)
    elif (group, plural) == ("batch", "cronjobs"):
        job_template = spec.get("jobTemplate")
        if isinstance(job_template, dict) and isinstance(job_template.get("spec"), dict):
            _job({"metadata": {}}, job_template["spec"])
    elif (group, plural) == ("", "pods"):
        _pod_spec(spec)
        spec.setdefault("enableServiceLinks", True)
        for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            _requests_from_limits(container)
    elif (group, plural) == ("", "podtemplates") or (group, plural) in {
        ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"),
    }:  # fmt: skip
        template = obj.get("template") if plural == "podtemplates" else spec.get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            _pod_spec(template["spec"])


def _secret(secret: dict[str, Any]) -> None:
    """v1 -> internal conversion: `stringData` is merged into `data` (it wins) and never stored."""
    secret["type"] = secret.get("type") or "Opaque"
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = secret.get("data")
        secret["data"] = (dict(data) if isinstance(data, dict) else {}) | {
            str(k): base64.b64encode(str(v).encode()).decode() for k, v in string_data.items()
        }


def _job(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    template = spec.get("template")
    template_labels = (template.get("metadata") or {}).get("labels") if isinstance(template, dict) else None
    meta = obj.setdefault("metadata", {})
    if template_labels and not meta.get("labels"):
        meta["labels"] = dict(template_labels)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    policy = spec.get("podFailurePolicy")
    if isinstance(policy, dict):
        for rule in policy.get("rules") or []:
            for pattern in (rule or {}).get("onPodConditions") or []:
                if isinstance(pattern, dict) and not pattern.get("status"):
                    pattern["status"] = "True"
    spec.setdefault("podReplacementPolicy", "Failed" if policy is not None else "TerminatingOrFailed")
    spec.setdefault("manualSelector", False)
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        _pod_spec(template["spec"])


def _pod_spec(spec: dict[str, Any]) -> None:
    spec["dnsPolicy"] = spec.get("dnsPolicy") or "ClusterFirst"
    spec["restartPolicy"] = spec.get("restartPolicy") or "Always"
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    spec["schedulerName"] = spec.get("schedulerName") or "default-scheduler"
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                _container(container)
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict):
            _volume(volume)


def _image_pull_policy(image: str) -> str:
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _container(container: dict[str, Any]) -> None:
    container["terminationMessagePath"] = container.get("terminationMessagePath") or "/dev/termination-log"
    container["terminationMessagePolicy"] = container.get("terminationMessagePolicy") or "File"
    if not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = _image_pull_policy(str(container.get("image") or ""))
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port["protocol"] = port.get("protocol") or "TCP"
    for env in container.get("env") or []:
        field_ref = ((env or {}).get("valueFrom") or {}).get("fieldRef")
        if isinstance(field_ref, dict):
            field_ref["apiVersion"] = field_ref.get("apiVersion") or "v1"
    for probe_key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(probe_key)
        if isinstance(probe, dict):
            for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1)):
                probe[key] = probe.get(key) or value
            probe["failureThreshold"] = probe.get("failureThreshold") or 3
            http = probe.get("httpGet")
            if isinstance(http, dict):
                http["path"] = http.get("path") or "/"
                http["scheme"] = http.get("scheme") or "HTTP"


_VOLUME_SOURCES = frozenset({
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs",
    "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker",
    "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk",
    "photonPersistentDisk", "projected", "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral",
    "image",
})  # fmt: skip


def _volume(volume: dict[str, Any]) -> None:
    if not any(key in volume for key in _VOLUME_SOURCES):
        volume["emptyDir"] = {}
    for key in ("secret", "configMap", "projected", "downwardAPI"):
        source = volume.get(key)
        if isinstance(source, dict) and source.get("defaultMode") is None:
            source["defaultMode"] = DEFAULT_FILE_MODE


def _requests_from_limits(container: Any) -> None:
    if not isinstance(container, dict):
        return
    resources = container.get("resources")
    if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
        requests = resources.setdefault("requests", {})
        for name, value in resources["limits"].items():
            requests.setdefault(name, value)


# -- strategies at create time ------------------------------------------------------------------


def qos_class(spec: dict[str, Any]) -> str:
    """pkg/apis/core/helper/qos: Guaranteed, Burstable or BestEffort from cpu and memory."""
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    requests: dict[str, int] = {}
    limits: dict[str, int] = {}
    guaranteed = True
    for container in containers:
        resources = (container or {}).get("resources") or {}
        req = {k: v for k, v in (resources.get("requests") or {}).items() if k in ("cpu", "memory")}
        lim = {k: v for k, v in (resources.get("limits") or {}).items() if k in ("cpu", "memory")}
        for name in req:
            requests[name] = requests.get(name, 0) + 1
        for name in lim:
            limits[name] = limits.get(name, 0) + 1
        if set(lim) != {"cpu", "memory"} or any(req.get(k, lim[k]) != lim[k] for k in lim):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _pod(pod: dict[str, Any]) -> None:
    spec = pod.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    if not spec.get("priorityClassName"):  # the Priority admission plugin, no global default class
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(isinstance(t, dict) and t.get("key") == key for t in tolerations):
            tolerations.append(
                {
                    "key": key,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
                }
            )
    pod["status"] = {"phase": "Pending", "qosClass": qos_class(spec)}


def on_create(group: str, plural: str, obj: dict[str, Any]) -> None:
    if (group, plural) == ("batch", "jobs"):
        job_selector(obj)
    elif (group, plural) == ("", "pods"):
        _pod(obj)
    elif (group, plural) == ("", "namespaces"):
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
