"""kopf's login through the official `kubernetes` client: whatever kubectl can use, the operator can.

The client understands every kubeconfig users have: exec credential plugins (EKS, GKE, AKS,
kubelogin for OIDC), auth-provider entries, client certificates, `tokenFile`, and in a Pod the
projected service-account token. kopf calls this at start and again after any 401, so a rotated
token (a new file content, or a fresh exec-plugin answer) is picked up without a restart.
kopf's own `login_via_client` does the same but resolves $KUBECONFIG when kopf is imported; this
one resolves it when it logs in.
"""

from __future__ import annotations

import os
from typing import Any

import kopf
from kubernetes import client, config


def connection_info(configuration: client.Configuration) -> kopf.ConnectionInfo:
    """What kopf needs of a loaded client configuration (the token as the client would send it)."""
    header = configuration.get_api_key_with_prefix("BearerToken") or configuration.get_api_key_with_prefix(
        "authorization"
    )
    scheme, _, token = (header or "").rpartition(" ")  # "Bearer <token>", or the bare token
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        scheme=scheme or None,
        token=token or None,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )


def load(kubeconfig: str | None = None) -> client.Configuration:
    """In a Pod: its service account; elsewhere: the kubeconfig ($KUBECONFIG, else ~/.kube/config)."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException:
        # $KUBECONFIG is the client convention every Kubernetes tool shares, not a scenefarm setting.
        path = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path, client_configuration=configuration, persist_config=False
        )
    return configuration


def login(**_: Any) -> kopf.ConnectionInfo:
    try:
        return connection_info(load())
    except config.ConfigException as error:
        raise kopf.LoginError(f"no usable Kubernetes credentials: {error}") from error
