"""Why a render Pod cannot start, from what the cluster already says (pure).

A real cluster refuses or parks a Pod without touching the Job's status:

    the API server refuses the Pod       -> a FailedCreate Event on the Job ("Error creating: ...")
       (ServiceAccount missing, ResourceQuota exceeded, Pod Security admission, webhooks)
    the scheduler cannot place the Pod   -> Pod Pending, PodScheduled=False/Unschedulable + message
       (PVC missing or unbound, no node with enough CPU/memory)
    the kubelet cannot create containers -> Pod Pending, waiting reason CreateContainerConfigError
    the kubelet cannot pull the image    -> Pod Pending, waiting ErrImagePull / ImagePullBackOff /
                                            InvalidImageName
    the kubelet cannot mount a volume    -> Pod Pending in ContainerCreating, FailedMount Events on
       (ConfigMap, Secret or claim gone)    the Pod ("MountVolume.SetUp failed ... not found")

`start_blockers` turns those observations into facts the reconcile can publish once a Job has
been stuck for longer than the grace period: which object is missing, and the cluster's words.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from scenefarm_contract import k8s
from scenefarm_contract.clock import EPOCH, parse_time

Obj = Mapping[str, Any]

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ServiceAccount", re.compile(r'serviceaccount "(?P<name>[^"]+)" not found')),
    ("PersistentVolumeClaim", re.compile(r'persistentvolumeclaim "(?P<name>[^"]+)" not found')),
    ("PersistentVolumeClaim", re.compile(r"(?P<name>)unbound immediate PersistentVolumeClaims")),
    ("ResourceQuota", re.compile(r"exceeded quota: (?P<name>[^,\s]+)")),
    ("PodSecurity", re.compile(r'violates PodSecurity "(?P<name>[^"]+)"')),
    ("ConfigMap", re.compile(r'configmap "(?P<name>[^"]+)" not found')),
    ("Secret", re.compile(r'secret "(?P<name>[^"]+)" not found')),
    ("Image", re.compile(r'(?:[Ff]ailed to pull image|Back-off pulling image) "(?P<name>[^"]+)"')),
)
IMAGE_PULL_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")


@dataclasses.dataclass(frozen=True)
class Blocker:
    """One Job whose Pod has not started, and why (in the cluster's own words)."""

    job: str
    reason: str  # FailedCreate | Unschedulable | CreateContainerConfigError
    message: str
    since: datetime.datetime
    missing_kind: str = ""  # ServiceAccount, PersistentVolumeClaim, ResourceQuota, PodSecurity, ...
    missing_name: str = ""

    @property
    def what(self) -> str:
        """`ServiceAccount "scenefarm-render"`, or the reason when nothing is named."""
        if self.missing_kind == "PodSecurity":
            return f'Pod Security admission (level "{self.missing_name}")'
        if self.missing_kind and self.missing_name:
            return f'{self.missing_kind} "{self.missing_name}"'
        return self.missing_kind or self.reason

    def condition_message(self, now: datetime.datetime) -> str:
        waited = int((now - self.since).total_seconds())
        return f"Job {self.job} cannot start its Pod ({self.what}) for {waited}s: {self.message}"


def classify(message: str) -> tuple[str, str]:
    """(missing kind, its name) named by a server, scheduler or kubelet message; ("", "") if none."""
    for kind, pattern in _PATTERNS:
        match = pattern.search(message)
        if match:
            return kind, match.group("name")
    return "", ""


def start_blockers(
    jobs: Iterable[Obj],
    pods_by_job: Mapping[str, Sequence[Obj]],
    events: Iterable[Obj],
    now: datetime.datetime,
    grace_seconds: float,
) -> list[Blocker]:
    """Unfinished, unsuspended Jobs whose Pod has not started for longer than `grace_seconds`."""
    events = list(events)
    failed_creates = _failed_creates(events)
    failed_mounts = _failed_mounts(events)
    found = []
    for job in jobs:
        if _finished_or_suspended(job):
            continue
        name = job["metadata"]["name"]
        pods = pods_by_job.get(name, ())
        blocker = _pod_blocker(name, pods, failed_mounts) if pods else _create_blocker(job, failed_creates)
        if blocker is not None and (now - blocker.since).total_seconds() >= grace_seconds:
            found.append(blocker)
    return found


def _failed_creates(events: Iterable[Obj]) -> dict[str, Obj]:
    """The newest FailedCreate Event per Job uid."""
    newest: dict[str, Obj] = {}
    for event in events:
        involved = event.get("involvedObject") or {}
        if event.get("reason") != "FailedCreate" or involved.get("kind") != "Job":
            continue
        uid = str(involved.get("uid", ""))
        if uid not in newest or _stamp(event) >= _stamp(newest[uid]):
            newest[uid] = event
    return newest


def _failed_mounts(events: Iterable[Obj]) -> dict[str, Obj]:
    """The newest FailedMount Event per Pod uid (the kubelet's, on a scheduled Pod)."""
    newest: dict[str, Obj] = {}
    for event in events:
        involved = event.get("involvedObject") or {}
        if event.get("reason") != "FailedMount" or involved.get("kind") != "Pod":
            continue
        uid = str(involved.get("uid", ""))
        if uid not in newest or _stamp(event) >= _stamp(newest[uid]):
            newest[uid] = event
    return newest


def needs_pod_events(pods: Sequence[Obj]) -> bool:
    """A scheduled Pod still creating its containers: only the kubelet's Events say why."""
    for pod in pods:
        status = pod.get("status") or {}
        scheduled = any(
            c.get("type") == "PodScheduled" and c.get("status") == "True"
            for c in status.get("conditions") or ()
        )
        waiting = [
            ((c.get("state") or {}).get("waiting") or {}).get("reason")
            for c in status.get("containerStatuses") or ()
        ]
        if (
            status.get("phase", k8s.POD_PENDING) == k8s.POD_PENDING
            and scheduled
            and (not waiting or "ContainerCreating" in waiting)
        ):
            return True
    return False


def _create_blocker(job: Obj, failed_creates: Mapping[str, Obj]) -> Blocker | None:
    event = failed_creates.get(str(job["metadata"].get("uid", "")))
    if event is None:
        return None
    message = _without_pod_name(str(event.get("message", "")), job["metadata"]["name"])
    since = parse_time(job["metadata"].get("creationTimestamp")) or _stamp(event)
    return Blocker(job["metadata"]["name"], "FailedCreate", message, since, *classify(message))


def _without_pod_name(message: str, job: str) -> str:
    """`pods "JOB-x7k2q" is forbidden` -> `pods "JOB-*" is forbidden`: each retry the Job controller
    makes names a new Pod, and the status (and every `watch`) would change with it."""
    return re.sub(rf'pods "{re.escape(job)}-[a-z0-9-]+"', f'pods "{job}-*"', message)


def _pod_blocker(job: str, pods: Sequence[Obj], failed_mounts: Mapping[str, Obj]) -> Blocker | None:
    for pod in pods:
        status = pod.get("status") or {}
        if status.get("phase", k8s.POD_PENDING) != k8s.POD_PENDING:
            return None  # one Pod started: not blocked (a later failure is the Job's story)
        created = parse_time(pod["metadata"].get("creationTimestamp")) or EPOCH
        for condition in status.get("conditions") or []:
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
                message = str(condition.get("message", ""))
                since = parse_time(condition.get("lastTransitionTime")) or created
                return Blocker(job, "Unschedulable", message, since, *classify(message))
        for container in status.get("containerStatuses") or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") == "CreateContainerConfigError":
                message = str(waiting.get("message", ""))
                return Blocker(job, "CreateContainerConfigError", message, created, *classify(message))
            if waiting.get("reason") in IMAGE_PULL_REASONS:
                message = str(waiting.get("message", "")) or str(waiting["reason"])
                image = classify(message)[1] or str(container.get("image", ""))
                return Blocker(job, str(waiting["reason"]), message, created, "Image", image)
        mount = failed_mounts.get(str(pod["metadata"].get("uid", "")))
        if mount is not None:
            message = str(mount.get("message", ""))
            return Blocker(job, "FailedMount", message, created, *classify(message))
    return None


def _finished_or_suspended(job: Obj) -> bool:
    if (job.get("spec") or {}).get("suspend"):
        return True
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(c.get("type") in k8s.JOB_ENDED and c.get("status") == "True" for c in conditions)


def _stamp(event: Obj) -> datetime.datetime:
    return (
        parse_time(event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp"))
        or EPOCH
    )
