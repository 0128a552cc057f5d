"""The local Kubernetes stand-in: an in-process API server with kube-apiserver semantics.

What belongs here: the HTTP API server (discovery, CRUD, watch, status subresources, CRD
registration and validation, garbage collection, tables for kubectl), its request log and fault
injection, and the lifecycle (`DevCluster`, `DevClusterThread`, `python -m scenefarm_devcluster`).
The Job runner (Job controller + kubelet stand-in) lives in `jobrunner/` and talks to the server
over HTTP only, like any other client.
"""

from scenefarm_devcluster.faults import FaultRule
from scenefarm_devcluster.lifecycle import DevCluster, DevClusterThread
from scenefarm_devcluster.requestlog import RequestLog, RequestRecord

__all__ = ["DevCluster", "DevClusterThread", "FaultRule", "RequestLog", "RequestRecord"]
