"""OpenShift's SecurityContextConstraints admission for Pods, with the one SCC every authenticated
user may use: restricted-v2 (openshift/apiserver-library-go pkg/securitycontextconstraints:
sccadmission, sccmatching, and the user, group, selinux, capabilities and seccomp strategies).

It applies to a Pod created in a namespace that carries `openshift.io/sa.scc.uid-range` (as the
namespace-security-allocation controller writes it, see sccallocation.py), and to every Pod when
the cluster plays OpenShift (`required`). As on OpenShift the Pod is first completed, then checked:

- runAsUser MustRunAsRange: a container whose effective runAsUser is unset gets the first UID of
  the namespace's range; one outside it is refused (`must be in the ranges: [min, max]`);
- fsGroup MustRunAs: unset becomes the first group of `openshift.io/sa.scc.supplemental-groups`
  (the uid range when that is missing); any other value is refused (`N is not an allowed group`);
  supplementalGroups RunAsAny (anything goes);
- seLinuxContext MustRunAs: the Pod gets the namespace's `openshift.io/sa.scc.mcs` level; another
  level, user, role or type is refused;
- seccomp: RuntimeDefault when unset (field and the `seccomp.security.alpha.kubernetes.io/pod`
  annotation); another profile is refused;
- capabilities: ALL is added to every container's drop list; an added capability other than
  NET_BIND_SERVICE is refused; allowPrivilegeEscalation defaults to false, true is refused;
  runAsNonRoot becomes true for a non-zero UID; privileged containers, host network/PID/IPC and
  volume types other than configMap, csi, downwardAPI, emptyDir, ephemeral, image,
  persistentVolumeClaim, projected and secret are refused.

An admitted Pod is annotated `openshift.io/scc: restricted-v2`. A refused one gets OpenShift's
403: `unable to validate against any security context constraint: [...]`, one entry per standard
SCC in the order the plugin tries them (the others `not usable by user or serviceaccount`: there
are no SCC objects or grants here). Not modelled: SCC objects and `use` grants, the other SCCs,
Pod updates (validated on OpenShift too), host ports, sysctls, flex volumes and the `restricted`
(v1) hint.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from scenefarm_devkit.apiserver.store import Store

UID_RANGE = "openshift.io/sa.scc.uid-range"
SUPPLEMENTAL_GROUPS = "openshift.io/sa.scc.supplemental-groups"
MCS = "openshift.io/sa.scc.mcs"
VALIDATED_SCC = "openshift.io/scc"
SUBJECT_TYPE = "security.openshift.io/validated-scc-subject-type"
SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER = "container.seccomp.security.alpha.kubernetes.io/"
RESTRICTED_V2 = "restricted-v2"
# The standard SCCs in the order the plugin tries them (priority, then restrictiveness, then name).
PROVIDERS = (
    "anyuid", RESTRICTED_V2, "restricted", "nonroot-v2", "nonroot", "hostmount-anyuid",
    "hostnetwork-v2", "hostnetwork", "hostaccess", "privileged",
)  # fmt: skip
# Those whose runAsUser is MustRunAsRange without a range of their own: they need the namespace's.
RANGE_SCCS = (RESTRICTED_V2, "restricted", "hostnetwork-v2", "hostnetwork", "hostaccess")
VOLUMES = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim",
    "projected", "secret",
})  # fmt: skip
ALLOWED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
SECCOMP_PROFILES = ("runtime/default",)
NAMESPACE_WAIT_SECONDS = 10.0  # the plugin waits this long for a new namespace's annotations
_HOST = (("hostNetwork", "Host network"), ("hostPID", "Host PID"), ("hostIPC", "Host IPC"))
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclasses.dataclass(frozen=True)
class Ranges:
    """What the namespace's annotations allow: UIDs min..max, one fsGroup, one SELinux level."""

    uid_min: int
    uid_max: int
    fs_group: int
    level: str


def parse_block(text: str) -> tuple[int, int]:
    """(first, last) of a uid.Block: `<start>/<size>` or `<start>-<end>`."""
    start, sep, rest = text.strip().partition("/")
    if sep:
        if not (start.isdigit() and rest.isdigit()) or int(rest) < 1:
            raise ValueError('block not in the format "<start>/<size>"')
        return int(start), int(start) + int(rest) - 1
    start, sep, end = text.strip().partition("-")
    if not (sep and start.isdigit() and end.isdigit()):
        raise ValueError('block not in the format "<start>-<end>"')
    return int(start), int(end)


def ranges_of(namespace: Mapping[str, Any]) -> Ranges:
    """The namespace's pre-allocated ranges; ValueError with OpenShift's words when it has none."""
    meta = namespace.get("metadata") or {}
    name, annotations = meta.get("name", ""), meta.get("annotations") or {}
    for key in (UID_RANGE, MCS):
        if key not in annotations:
            raise ValueError(f'error fetching namespace "{name}": unable to find annotation {key}')
    try:
        uid_min, uid_max = parse_block(annotations[UID_RANGE])
    except ValueError as exc:
        raise ValueError(_aggregate(
            f"unable to find pre-allocated uid annotation for namespace {name} while trying to configure "
            f"SCC {scc}: {exc}" for scc in RANGE_SCCS
        )) from None  # fmt: skip
    groups = annotations.get(SUPPLEMENTAL_GROUPS) or annotations[UID_RANGE]
    try:
        fs_group, _ = parse_block(groups.split(",")[0])
    except ValueError as exc:
        raise ValueError(
            f"unable to find pre-allocated group annotation for namespace {name} while trying to "
            f"configure SCC {RESTRICTED_V2}: {exc}"
        ) from None
    return Ranges(uid_min, uid_max, fs_group, str(annotations[MCS]))


def applies(namespace: Mapping[str, Any] | None, *, required: bool) -> bool:
    annotations = ((namespace or {}).get("metadata") or {}).get("annotations") or {}
    return required or UID_RANGE in annotations


def admit(pod: dict[str, Any], namespace: Mapping[str, Any] | None, *, required: bool) -> str | None:
    """Complete `pod` in place as restricted-v2 does and return None, or the reason it is refused."""
    spec = pod.get("spec") or {}
    if not applies(namespace, required=required) or (spec.get("os") or {}).get("name") == "windows":
        return None
    try:
        ranges = ranges_of(namespace or {"metadata": {"name": pod["metadata"].get("namespace", "")}})
    except ValueError as exc:
        return str(exc)
    candidate = copy.deepcopy(pod)
    problems = _restricted_v2(candidate, ranges)
    if problems:  # every SCC tried in turn: restricted-v2 found these, the others are not granted
        denied = 'provider "{}": Forbidden: not usable by user or serviceaccount'
        tried = (problems if name == RESTRICTED_V2 else [denied.format(name)] for name in PROVIDERS)
        return "unable to validate against any security context constraint: " + _aggregate(
            entry for entries in tried for entry in entries
        )
    annotations = candidate["metadata"].setdefault("annotations", {})
    annotations[VALIDATED_SCC] = RESTRICTED_V2
    annotations[SUBJECT_TYPE] = "user"  # granted to system:authenticated, the requester's group
    pod.clear()
    pod.update(candidate)
    return None


async def wait_for_ranges(store: Store, namespace: str, timeout: float = NAMESPACE_WAIT_SECONDS) -> None:
    """As the plugin polls its namespace lister: a new namespace's annotations may come a moment later."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ns = store.get(("", "namespaces", "", namespace))
        annotations = ((ns or {}).get("metadata") or {}).get("annotations") or {}
        if ns is None or (UID_RANGE in annotations and MCS in annotations):
            return  # a missing namespace is the create's own 404
        await asyncio.sleep(0.05)


# -- the restricted-v2 provider --------------------------------------------------------------------


def _restricted_v2(pod: dict[str, Any], ranges: Ranges) -> list[str]:
    """AssignSecurityContext: the Pod's and each container's context generated, then validated."""
    root = f"provider {RESTRICTED_V2}: "
    spec = pod.setdefault("spec", {})
    psc = spec.get("securityContext") or {}
    spec["securityContext"] = psc
    psc.setdefault("fsGroup", ranges.fs_group)
    psc.setdefault("seLinuxOptions", {"level": ranges.level})
    annotations = pod.setdefault("metadata", {}).setdefault("annotations", {})
    profile = annotations.get(SECCOMP_POD) or _annotation(psc.get("seccompProfile")) or SECCOMP_PROFILES[0]
    annotations[SECCOMP_POD] = profile
    psc["seccompProfile"] = _field(profile) or psc.get("seccompProfile")
    path = f"{root}.spec.securityContext"
    fs_group = psc["fsGroup"]
    problems = []
    if fs_group != ranges.fs_group:
        problems.append(
            f"{path}.fsGroup: Invalid value: []int64{{{fs_group}}}: {fs_group} is not an allowed group"
        )
    problems += _seccomp(f"pod.metadata.annotations[{SECCOMP_POD}]", profile)
    problems += _selinux(f"{path}.seLinuxOptions", psc.get("seLinuxOptions"), ranges.level)
    problems += [
        f"{path}.{key}: Invalid value: true: {what} is not allowed to be used"
        for key, what in _HOST
        if spec.get(key)
    ]
    for i, volume in enumerate(spec.get("volumes") or []):
        kind = next((key for key in volume if key != "name"), "emptyDir")
        if kind not in VOLUMES:
            problems.append(
                f'spec.volumes[{i}]: Invalid value: "{kind}": {kind} volumes are not allowed to be used'
            )
    for field in _CONTAINER_LISTS:
        for i, container in enumerate(spec.get(field) or []):
            problems += _container(pod, container, f"{root}.{field}[{i}]", ranges)
    return problems


def _container(pod: dict[str, Any], container: dict[str, Any], path: str, ranges: Ranges) -> list[str]:
    psc = pod["spec"]["securityContext"]
    csc = container.get("securityContext") or {}
    container["securityContext"] = csc
    if _effective(csc, psc, "runAsUser") is None:
        csc["runAsUser"] = ranges.uid_min
    if _effective(csc, psc, "seLinuxOptions") is None:
        csc["seLinuxOptions"] = {"level": ranges.level}
    if _effective(csc, psc, "runAsNonRoot") is None and (_effective(csc, psc, "runAsUser") or 0) > 0:
        csc["runAsNonRoot"] = True
    caps = csc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        drop = sorted({*(caps.get("drop") or []), "ALL"})
        csc["capabilities"] = {**({"add": sorted(set(caps["add"]))} if caps.get("add") else {}), "drop": drop}
    csc.setdefault("allowPrivilegeEscalation", False)
    problems = []
    uid = _effective(csc, psc, "runAsUser")
    if not ranges.uid_min <= uid <= ranges.uid_max:
        problems.append(
            f"{path}.runAsUser: Invalid value: {uid}: "
            f"must be in the ranges: [{ranges.uid_min}, {ranges.uid_max}]"
        )
    problems += _selinux(f"{path}.seLinuxOptions", _effective(csc, psc, "seLinuxOptions"), ranges.level)
    own = _annotation(csc.get("seccompProfile")) or (pod["metadata"].get("annotations") or {}).get(
        SECCOMP_CONTAINER + container.get("name", "")
    )
    key = f"pod.metadata.annotations[{SECCOMP_CONTAINER}{container.get('name', '')}]"
    problems += _seccomp(key, own or _annotation(psc.get("seccompProfile")) or "")
    if csc.get("privileged"):
        problems.append(f"{path}.privileged: Invalid value: true: Privileged containers are not allowed")
    problems += [
        f'{path}.capabilities.add: Invalid value: "{cap}": capability may not be added'
        for cap in csc["capabilities"].get("add") or []
        if cap not in ALLOWED_CAPABILITIES
    ]
    problems += [
        f"{path}.{key}: Invalid value: true: {what} is not allowed to be used"
        for key, what in _HOST
        if pod["spec"].get(key)
    ]
    if csc["allowPrivilegeEscalation"]:
        problems.append(
            f"{path}.allowPrivilegeEscalation: Invalid value: true: "
            "Allowing privilege escalation for containers is not allowed"
        )
    return problems


def _effective(csc: Mapping[str, Any], psc: Mapping[str, Any], key: str) -> Any:
    """The container's setting, else the Pod's (securitycontext's effective accessor)."""
    return csc[key] if csc.get(key) is not None else psc.get(key)


def _selinux(path: str, options: Mapping[str, Any] | None, level: str) -> list[str]:
    if options is None:
        return [f"{path}: Required value"]
    problems = []
    if not _same_level(level, str(options.get("level", ""))):
        problems.append(
            f"{path}.level: Invalid value: {json.dumps(options.get('level', ''))}: must be {level}"
        )
    problems += [
        f"{path}.{key}: Invalid value: {json.dumps(options[key])}: must be "
        for key in ("role", "type", "user")
        if options.get(key)
    ]
    return problems


def _same_level(expected: str, actual: str) -> bool:
    """`s0:c26,c15` equals `s0:c15,c26`: the sensitivity alike, the categories as a set."""
    if expected == actual:
        return True
    want, got = expected.split(":", 1), actual.split(":", 1)
    return (
        len(want) == len(got) == 2
        and want[0] == got[0]
        and sorted(want[1].split(",")) == sorted(got[1].split(","))
    )


def _seccomp(path: str, profile: str) -> list[str]:
    if profile in (*SECCOMP_PROFILES, "docker/default"):
        return []
    allowed = " ".join(SECCOMP_PROFILES)
    return [f"{path}: Forbidden: {profile} is not an allowed seccomp profile. Valid values are [{allowed}]"]


def _annotation(field: Mapping[str, Any] | None) -> str | None:
    """The annotation spelling of a seccompProfile field."""
    if not field:
        return None
    kind = field.get("type")
    if kind == "RuntimeDefault":
        return "runtime/default"
    if kind == "Unconfined":
        return "unconfined"
    if kind == "Localhost":
        return f"localhost/{field.get('localhostProfile', '')}"
    return None


def _field(profile: str) -> dict[str, Any] | None:
    if profile in ("runtime/default", "docker/default"):
        return {"type": "RuntimeDefault"}
    if profile == "unconfined":
        return {"type": "Unconfined"}
    if profile.startswith("localhost/"):
        return {"type": "Localhost", "localhostProfile": profile.removeprefix("localhost/")}
    return None


def _aggregate(messages: Iterable[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message alone, several as `[a, b]`, no repeats."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
