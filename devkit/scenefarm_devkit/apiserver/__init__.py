"""The dev cluster's API server: an in-process stand-in for kube-apiserver.

What belongs here: the HTTP API server (discovery, CRUD, watch, status subresources, CRD
registration and validation, garbage collection, tables for kubectl), its request log and fault
injection, and the lifecycle (`DevCluster`, `DevClusterThread`); `python -m scenefarm_devkit up`
serves one. The Job runner (Job controller + kubelet stand-in) lives in `scenefarm_devkit.jobrunner`
and talks to the server over HTTP only, like any other client. Nothing here imports the product.
"""

from scenefarm_devkit.apiserver.faults import FaultRule
from scenefarm_devkit.apiserver.lifecycle import DevCluster, DevClusterThread
from scenefarm_devkit.apiserver.requestlog import RequestLog, RequestRecord

__all__ = ["DevCluster", "DevClusterThread", "FaultRule", "RequestLog", "RequestRecord"]
