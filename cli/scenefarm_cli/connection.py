"""Which cluster, as which user, in which namespace: kubectl's rules, for every command.

`--kubeconfig FILE`, else the first existing file in `$KUBECONFIG`, else (only when `$KUBECONFIG`
is unset or empty, as with kubectl) `~/.kube/config`, else the Pod's service account (in a
cluster). Every message about the cluster names the kubeconfig actually read. `--context` picks
a context (default: the current one); `-n` picks the namespace (default: the context's
namespace, else `default`). Unlike kubectl, several files in `$KUBECONFIG` are not merged: the
first one that exists is used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
from lightkube import Client, KubeConfig
from lightkube.config.kubeconfig import SingleConfig
from lightkube.core.exceptions import ApiError, ConfigError

from scenefarm_cli.errors import Unreachable, from_api

FIELD_MANAGER = "scenefarm-cli"


def kubeconfig_path(explicit: Path | None, env: dict[str, str] | None = None) -> Path | None:
    """The kubeconfig file kubectl would read first; None when there is none (in-cluster)."""
    if explicit is not None:
        if not explicit.is_file():
            raise Unreachable(f"no kubeconfig at {explicit}")
        return explicit
    env = dict(os.environ) if env is None else env
    for part in (env.get("KUBECONFIG") or "").split(os.pathsep):
        if part and Path(part).expanduser().is_file():
            return Path(part).expanduser()
    if env.get("KUBECONFIG"):
        return None
    default = Path("~/.kube/config").expanduser()
    return default if default.is_file() else None


def _looked_at(env: dict[str, str] | None = None) -> str:
    """Where the kubeconfig was looked for, for a message when none was found."""
    env = dict(os.environ) if env is None else env
    if env.get("KUBECONFIG"):
        return f"$KUBECONFIG={env['KUBECONFIG']} names no file that exists, and not in a cluster"
    return "no ~/.kube/config and $KUBECONFIG is not set, and not in a cluster"


@dataclasses.dataclass
class Connection:
    """The resolved cluster; clients are made on first use."""

    config: SingleConfig
    namespace: str
    path: Path | None
    _client: Client | None = None

    @classmethod
    def resolve(cls, kubeconfig: Path | None, context: str | None, namespace: str | None) -> Connection:
        path = kubeconfig_path(kubeconfig)
        try:
            whole = KubeConfig.from_file(path) if path else KubeConfig.from_service_account()
        except ConfigError as error:
            hint = "pass --kubeconfig, set KUBECONFIG, or start a cluster (scenefarm dev up)"
            where = f"in {path}" if path else f"({_looked_at()})"
            raise Unreachable(f"no usable kubeconfig {where}: {error}; {hint}") from None
        try:
            single = whole.get(context_name=context)
        except (ConfigError, KeyError):
            single = None
        if single is None:
            known = ", ".join(sorted(whole.contexts)) or "none"
            if context:
                raise Unreachable(f"no context {context} in {path} (contexts: {known})")
            raise Unreachable(
                f"{path} has no current context (contexts: {known}); pass --context, "
                "or start a cluster (scenefarm dev up)"
            )
        return cls(single, namespace or single.namespace or "default", path)

    @property
    def server(self) -> str:
        return str(self.config.cluster.server)

    def client(self) -> Client:
        if self._client is None:
            self._client = Client(config=self.config, namespace=self.namespace, field_manager=FIELD_MANAGER)
        return self._client

    def kubernetes_api(self) -> Any:
        """The official client's ApiClient, for what lightkube does not do here (exec streams)."""
        from kubernetes import config as kconfig

        if self.path is None:
            kconfig.load_incluster_config()  # type: ignore[no-untyped-call]
            from kubernetes.client import ApiClient

            return ApiClient()
        path, context = str(self.path), self.config.context_name
        return kconfig.new_client_from_config(path, context=context)  # type: ignore[no-untyped-call]

    @contextlib.contextmanager
    def talking(self, what: str) -> Iterator[None]:
        """Translate API and network failures while talking about `what` into CLI errors."""
        try:
            yield
        except ApiError as error:
            raise from_api(error, what) from None
        except httpx2.TransportError as error:
            source = f", kubeconfig {self.path}" if self.path else ""
            raise Unreachable(
                f"cannot reach the cluster at {self.server} (context {self.config.context_name}{source}): "
                f"{error}"
            ) from None
