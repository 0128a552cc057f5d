"""Credentials as managed clusters hand them out: exec plugins and rotated tokens.

`exec_kubeconfig` writes a kubeconfig whose user runs an exec credential plugin (as EKS, GKE and
AKS kubeconfigs do); the plugin prints an ExecCredential with the identity's current token, read
from a file next to it. `rotate` issues a new token for an identity, revokes the old one (the
server answers 401 to it, as a real one does to an expired token) and updates that file: a
client that reads its credentials again (plugin re-run, token file re-read) keeps working.
"""

from __future__ import annotations

import base64
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from scenefarm_devkit.apiserver.lifecycle import DevCluster

EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"  # what EKS, GKE and kubelogin emit
PLUGIN = '''"""An exec credential plugin: prints the token in {token_file} as an ExecCredential."""
import json, pathlib
token = pathlib.Path({token_file!r}).read_text().strip()
print(json.dumps({{"apiVersion": {api!r}, "kind": "ExecCredential", "status": {{"token": token}}}}))
'''


def token_file(cluster: DevCluster, identity: str) -> Path:
    return cluster.state_dir / f"{identity}.token"


def exec_kubeconfig(cluster: DevCluster, identity: str) -> Path:
    """A kubeconfig for `identity` whose token comes from an exec plugin, never from the file."""
    tokens = token_file(cluster, identity)
    tokens.write_text(cluster.token_for(identity), encoding="utf-8")
    plugin = cluster.state_dir / f"exec-plugin-{identity}.py"
    plugin.write_text(PLUGIN.format(token_file=str(tokens), api=EXEC_API_VERSION), encoding="utf-8")
    user: dict[str, Any] = {
        "exec": {"apiVersion": EXEC_API_VERSION, "command": sys.executable, "args": [str(plugin)]}
    }
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "exec", "cluster": _cluster_entry(cluster)}],
        "users": [{"name": identity, "user": user}],
        "contexts": [
            {"name": "exec", "context": {"cluster": "exec", "user": identity, "namespace": "default"}}
        ],
        "current-context": "exec",
    }
    path = cluster.state_dir / f"kubeconfig-exec-{identity}"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def rotate(cluster: DevCluster, identity: str) -> str:
    """A new token for `identity`; the old one is refused from now on (401)."""
    tokens = cluster.server.tokens
    for old in [t for t, who in tokens.items() if who == identity]:
        del tokens[old]
    new = secrets.token_urlsafe(24)
    tokens[new] = identity
    token_file(cluster, identity).write_text(new, encoding="utf-8")
    return new


def _cluster_entry(cluster: DevCluster) -> dict[str, Any]:
    """The server's address and, over HTTPS, its CA: what the admin kubeconfig says."""
    entry: dict[str, Any] = {"server": cluster.url}
    if cluster.ca_pem is not None:
        entry["certificate-authority-data"] = base64.b64encode(cluster.ca_pem).decode()
    return entry
