"""The web path on one machine: Appwrite double + dev cluster + operator (with the web intake)
+ the built page, served on localhost. `python -m scenefarm_devkit.web` (or `make web`) starts
it all and prints the page's URL; the browser tests use `WebStack` the same way.

The page is `web/dist` (built by `npm run build` in web/); its `config.json` is written here
with the double's endpoint, so the page is the same static files any host would serve.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import shutil
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lightkube import codecs

from scenefarm_devkit.appwrite_double import AppwriteDoubleThread
from scenefarm_devkit.devenv import DevEnv

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "web" / "dist"
API_KEY = "web-dev-key"  # the local double's key; never a real credential
NAMESPACE = "scenefarm-web"  # the intake's own namespace (the chart's web.namespace), never `default`
SECRET = "scenefarm-appwrite"  # noqa: S105 - the Secret's name, not a credential


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class StaticSite:
    """`directory` over HTTP on 127.0.0.1, from a thread (what a static host would do)."""

    def __init__(self, directory: Path, port: int = 0) -> None:
        handler = functools.partial(QuietHandler, directory=str(directory))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="web-page", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def start(self) -> StaticSite:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def intake_settings(double: AppwriteDoubleThread, **limits: str) -> dict[str, str]:
    """The operator's intake settings; `limits` are SCENEFARM_INTAKE_<KEY> (e.g. anonymous="false")."""
    settings = {
        "SCENEFARM_APPWRITE_ENDPOINT": double.endpoint,
        "SCENEFARM_APPWRITE_PROJECT": double.double.project,
        "SCENEFARM_APPWRITE_API_KEY": API_KEY,
        "SCENEFARM_APPWRITE_CREDENTIALS_SECRET": SECRET,
        "SCENEFARM_INTAKE_NAMESPACE": NAMESPACE,
        "SCENEFARM_INTAKE_POLL_SECONDS": "0.5",
    }
    return settings | intake_settings_keys(limits)


def page_config(double: AppwriteDoubleThread, settings: Mapping[str, str]) -> dict[str, Any]:
    return {
        "endpoint": double.endpoint,
        "project": double.double.project,
        "database": "scenefarm",
        "bucket": "videos",
        "plannerModes": settings.get("SCENEFARM_INTAKE_PLANNER_MODES", "Template").split(","),
        "qualities": settings.get("SCENEFARM_INTAKE_QUALITIES", "low,medium").split(","),
        "anonymous": settings.get("SCENEFARM_INTAKE_ANONYMOUS", "true") == "true",
    }


def intake_settings_keys(limits: Mapping[str, str]) -> dict[str, str]:
    return {f"SCENEFARM_INTAKE_{k.upper()}": v for k, v in limits.items()}


class WebStack:
    """Everything the page needs, started in order and stopped in reverse."""

    def __init__(
        self,
        state_dir: Path,
        *,
        dist: Path = DIST,
        port: int = 0,
        instant: bool = False,
        page: bool = True,
        liveness_port: int = 0,
        **settings: str,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.page = page  # False: no page (tests of the intake need no browser)
        self.liveness_port = liveness_port  # kopf's health endpoint (its probes) on this port; 0: none
        self.instant = instant  # Jobs succeed at once (benchmarks of the control path)
        self.dist = dist
        self.port = port
        self.limits = settings  # SCENEFARM_INTAKE_<KEY>, e.g. max_scenes="2"
        self.stack = contextlib.ExitStack()

    def start(self) -> WebStack:
        if self.page and not (self.dist / "index.html").is_file():
            raise SystemExit(f"{self.dist} has no built page: run `make web-build` (npm ci && npm run build)")
        self.limits.setdefault("anonymous", "true")  # the dev stack lets guests in unless told not to
        anonymous = self.limits["anonymous"] == "true"
        double = AppwriteDoubleThread(api_key=API_KEY, column_delay=0.05, anonymous_sessions=anonymous)
        self.double = self.stack.enter_context(double)
        settings = intake_settings(self.double, **self.limits)
        env = DevEnv(self.state_dir, operator_env=settings, instant=self.instant)
        self.env = self.stack.enter_context(env)
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        self.env.client().create(codecs.from_dict(namespace))
        self.env.ensure_claim(NAMESPACE)  # the render ServiceAccount, as the chart makes it there
        for where in (NAMESPACE, "default"):  # web requests, and CLI requests with the Appwrite store
            self.env.client().create(codecs.from_dict(self.secret(where)))
        liveness = [f"--liveness=http://127.0.0.1:{self.liveness_port}/healthz"] if self.liveness_port else []
        self.env.start_operator(*liveness)
        self.wait_for_schema()
        if not self.page:
            return self
        site_dir = self.state_dir / "site"
        shutil.rmtree(site_dir, ignore_errors=True)
        shutil.copytree(self.dist, site_dir)
        (site_dir / "config.json").write_text(json.dumps(page_config(self.double, settings), indent=2))
        self.site = StaticSite(site_dir, self.port).start()
        self.stack.callback(self.site.stop)
        return self

    def wait_for_schema(self, timeout: float = 90.0) -> None:
        """Until the operator has made the tables and the bucket: the page lists rows at once."""
        deadline = time.monotonic() + timeout

        def ready() -> bool:
            tables = self.double.double.tablesdb.tables
            found = [tables.get(("scenefarm", t)) for t in ("videos", "scenes")]
            columns = [c for t in found if t is not None for c in t.columns.values()]
            bucket = "videos" in self.double.double.storage.buckets
            return (
                bucket and all(t is not None for t in found) and all(c.status == "available" for c in columns)
            )

        while not self.double.call(ready):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the operator made no Appwrite schema in {timeout:.0f}s; see its log")
            time.sleep(0.2)

    def secret(self, namespace: str = NAMESPACE) -> dict[str, Any]:
        """The render Pods' Appwrite credentials, as an admin would create them."""
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SECRET, "namespace": namespace},
            "stringData": {
                "endpoint": self.double.endpoint,
                "project": self.double.double.project,
                "apiKey": API_KEY,
                "bucket": "videos",
            },
        }

    @property
    def url(self) -> str:
        return self.site.url

    @property
    def liveness_url(self) -> str:
        return f"http://127.0.0.1:{self.liveness_port}/healthz"

    def stop(self) -> None:
        self.stack.close()

    def __enter__(self) -> WebStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def download_command(stack: WebStack, name: str, output: str) -> str:
    """What `make web` prints for downloading a web-made video with the CLI: the operator's
    credentials Secret in the intake namespace holds the key Appwrite Storage needs."""
    return (
        f"scenefarm --kubeconfig {stack.env.kubeconfig} -n {NAMESPACE} download {name} "
        f"--appwrite-secret {SECRET} -o {output}"
    )


@contextlib.contextmanager
def running(state_dir: Path, **kwargs: Any) -> Iterator[WebStack]:
    with WebStack(state_dir, **kwargs) as stack:
        yield stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=Path(".scenefarm/web"))
    parser.add_argument("--port", type=int, default=8080, help="port of the page (0: any free port)")
    parser.add_argument(
        "--no-guests", action="store_true", help="turn anonymous sessions off (double and intake)"
    )
    args = parser.parse_args()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    limits = {"anonymous": "false" if args.no_guests else "true"}
    with running(args.state_dir, port=args.port, **limits) as stack:
        print(f"scenefarm web: {stack.url}", flush=True)
        print(
            f"  Appwrite double: {stack.double.endpoint} (project {stack.double.double.project})", flush=True
        )
        print(f"  kubectl --kubeconfig {stack.env.kubeconfig} -n {NAMESPACE} get vr -w", flush=True)
        print(f"  a video made on the page, with the CLI: {download_command(stack, 'NAME', 'video.mp4')}")
        print("  (NAME: the request's name, from `get vr` above)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            done.wait()


if __name__ == "__main__":
    main()
