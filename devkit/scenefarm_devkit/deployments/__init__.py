"""The dev cluster's Deployments: the Deployment and ReplicaSet controllers and one node that runs
their Pods as local processes (deployed mode: `helm install` starts the operator as the chart
configures it, with its ServiceAccount's token, its probes and its replicas).

`rollout` holds the pure decisions (ReplicaSet per template, rolling and recreate scaling,
statuses), `controller` the API side, `node` the kubelet of the Deployment node. Like the Job
runner, it is a client of the API server over HTTP; the wiring hands it the cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig

from scenefarm_devkit.deployments.controller import Deployments
from scenefarm_devkit.deployments.node import NODE

IDENTITY = "deployment-controller"

__all__ = ["IDENTITY", "NODE", "Deployments", "run_deployments"]


async def run_deployments(cluster: Any) -> None:
    """A `DevCluster(extra_tasks=[run_deployments])` hook: runs until cancelled."""
    client = AsyncClient(KubeConfig.from_file(cluster.kubeconfig_for(IDENTITY)), trust_env=False)
    admin = yaml.safe_load(Path(cluster.kubeconfig_path).read_text(encoding="utf-8"))
    server = admin["clusters"][0]["cluster"]  # the API server's address (and CA) as any client gets it
    deployments = Deployments(client, Path(cluster.state_dir) / "deployments", server, cluster.token_for)
    cluster.deployments = deployments  # reachable for tests and tools
    try:
        await deployments.run()
    finally:
        await client.close()
