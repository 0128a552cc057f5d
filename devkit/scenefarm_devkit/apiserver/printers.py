"""The real server's table columns for built-in kinds (pkg/printers/internalversion/printers.go).

Each kind maps to (column definition, cell function) pairs. Events have no leading Name column
(LAST SEEN, TYPE, REASON, OBJECT, MESSAGE, then wide-only columns), as in the real printer;
every other kind starts with Name, which `tables.py` adds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Cell = Callable[[dict[str, Any]], Any]
Column = tuple[dict[str, Any], Cell]


def _col(name: str, cell: Cell, kind: str = "string", priority: int = 0) -> Column:
    return {"name": name, "type": kind, "format": "", "description": "", "priority": priority}, cell


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("status") or {}


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec") or {}


def _pod_ready(pod: dict[str, Any]) -> str:
    statuses = _status(pod).get("containerStatuses") or []
    total = len(_spec(pod).get("containers") or []) or len(statuses)
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _pod_status(pod: dict[str, Any]) -> str:
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    reason = _status(pod).get("reason") or _status(pod).get("phase") or "Pending"
    for container in _status(pod).get("containerStatuses") or []:
        state = container.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            reason = state["terminated"].get("reason") or f"ExitCode:{state['terminated'].get('exitCode')}"
    return str(reason)


def _restarts(pod: dict[str, Any]) -> int:
    return sum(int(s.get("restartCount") or 0) for s in _status(pod).get("containerStatuses") or [])


def _job_status(job: dict[str, Any]) -> str:
    conditions = {c.get("type"): c.get("status") for c in _status(job).get("conditions") or []}
    for kind, label in (("Complete", "Complete"), ("Failed", "Failed"), ("FailureTarget", "FailureTarget")):
        if conditions.get(kind) == "True":
            return label
    if conditions.get("Suspended") == "True":
        return "Suspended"
    return "Running"


def _completions(job: dict[str, Any]) -> str:
    return f"{_status(job).get('succeeded', 0)}/{_spec(job).get('completions', 1)}"


def _event_object(event: dict[str, Any]) -> str:
    involved = event.get("involvedObject") or event.get("regarding") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def _last_seen(event: dict[str, Any]) -> Any:
    return event.get("lastTimestamp") or event.get("eventTime") or event["metadata"].get("creationTimestamp")


def _ports(service: dict[str, Any]) -> str:
    ports = _spec(service).get("ports") or []
    text = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports)
    return text or "<none>"


def _data_count(config_map: dict[str, Any]) -> int:
    return len(config_map.get("data") or {}) + len(config_map.get("binaryData") or {})


def _pod_selector(policy: dict[str, Any]) -> str:
    labels = (_spec(policy).get("podSelector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "<none>"


EVENT_COLUMNS: list[Column] = [
    _col("Last Seen", _last_seen, "date"),
    _col("Type", lambda e: e.get("type", "")),
    _col("Reason", lambda e: e.get("reason", "")),
    _col("Object", _event_object),
    _col("Subobject", lambda e: (e.get("involvedObject") or {}).get("fieldPath", ""), priority=1),
    _col("Source", lambda e: (e.get("source") or {}).get("component", ""), priority=1),
    _col("Message", lambda e: str(e.get("message", "")).strip() or e.get("note", "")),
    _col("First Seen", lambda e: e.get("firstTimestamp") or _last_seen(e), "date", priority=1),
    _col("Count", lambda e: e.get("count", 1), "integer", priority=1),
    _col("Name", lambda e: e["metadata"]["name"], priority=1),
]

# After the Name column (Age is added last by tables.py).
BUILTIN_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "pods"): [
        _col("Ready", _pod_ready),
        _col("Status", _pod_status),
        _col("Restarts", _restarts, "integer"),
    ],
    ("", "namespaces"): [_col("Status", lambda o: _status(o).get("phase", ""))],
    ("batch", "jobs"): [
        _col("Status", _job_status),
        _col("Completions", _completions),
    ],
    ("apps", "deployments"): [
        _col("Ready", lambda o: f"{_status(o).get('readyReplicas', 0)}/{_spec(o).get('replicas', 1)}"),
        _col("Up-to-date", lambda o: _status(o).get("updatedReplicas", 0), "integer"),
        _col("Available", lambda o: _status(o).get("availableReplicas", 0), "integer"),
    ],
    ("", "configmaps"): [_col("Data", _data_count, "integer")],
    ("", "secrets"): [
        _col("Type", lambda o: o.get("type", "Opaque")),
        _col("Data", lambda o: len(o.get("data") or {}), "integer"),
    ],
    ("", "services"): [
        _col("Type", lambda o: _spec(o).get("type", "ClusterIP")),
        _col("Cluster-IP", lambda o: _spec(o).get("clusterIP", "<none>")),
        _col("External-IP", lambda o: ",".join(_spec(o).get("externalIPs") or []) or "<none>"),
        _col("Port(s)", _ports),
    ],
    ("", "persistentvolumeclaims"): [
        _col("Status", lambda o: _status(o).get("phase", "Pending")),
        _col("Volume", lambda o: _spec(o).get("volumeName", "")),
        _col("Capacity", lambda o: (_status(o).get("capacity") or {}).get("storage", "")),
        _col("Access Modes", lambda o: ",".join(_status(o).get("accessModes") or [])),
        _col("StorageClass", lambda o: _spec(o).get("storageClassName", "<unset>")),
    ],
    ("networking.k8s.io", "networkpolicies"): [
        _col("Pod-Selector", _pod_selector),
    ],
}  # fmt: skip
