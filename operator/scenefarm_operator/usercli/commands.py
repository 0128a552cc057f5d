"""The user commands' arguments, and what each one runs: `add_commands(subparsers)`.

Every command takes --kubeconfig, --context and -n/--namespace, as kubectl does. Each parser
sets `run(args, parser) -> exit code`; errors are raised as `CliError`s and printed by `cli.main`.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .connection import Connection
from .output import Output

if TYPE_CHECKING:
    Sub = argparse._SubParsersAction[argparse.ArgumentParser]

PLANNERS = ("Template", "Gemini")
QUALITIES = ("low", "medium", "high", "fourk")
STORES = ("Volume", "Appwrite")
NAME_COMPLETION = {"bash": "_scenefarm_requests", "zsh": "_scenefarm_requests"}


def connection_options(prefix: str = "") -> argparse.ArgumentParser:
    """--kubeconfig, --context, -n; with a `prefix` for the copy before the command name."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("cluster")
    group.add_argument(
        "--kubeconfig",
        type=Path,
        dest=prefix + "kubeconfig",
        metavar="FILE",
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)",
    )
    group.add_argument(
        "--context",
        dest=prefix + "context",
        metavar="NAME",
        help="kubeconfig context (default: its current-context)",
    )
    group.add_argument(
        "-n",
        "--namespace",
        dest=prefix + "namespace",
        help="namespace (default: the context's, else default)",
    )
    return common


GLOBAL = "global_"  # `scenefarm -n videos get` as well as `scenefarm get -n videos` (cli.build_parser)


def option(args: argparse.Namespace, name: str) -> Any:
    """A connection option given after the command, else before it."""
    return getattr(args, name, None) or getattr(args, GLOBAL + name, None)


def _name(
    parser: argparse.ArgumentParser, many: str | None = None, help: str = "the VideoRequest's name"
) -> None:
    action = parser.add_argument("names" if many else "name", nargs=many, help=help)
    action.complete = NAME_COMPLETION  # type: ignore[attr-defined]


def add_commands(sub: Sub) -> None:
    common = [connection_options()]
    _add_submit_and_apply(sub, common)
    _add_reading(sub, common)
    _add_download(sub, common)
    for verb, text in (
        ("retry", "re-render only the failed scenes, then combine again"),
        ("cancel", "stop every Job for good (phase Cancelled, final)"),
        ("suspend", "stop launching scene Jobs and suspend the running ones"),
        ("resume", "undo suspend"),
    ):
        p = sub.add_parser(verb, parents=common, help=text)
        _name(p)
        p.set_defaults(run=_act)
    p = sub.add_parser("completion", help="print a shell completion script")
    p.add_argument("shell", choices=("bash", "zsh", "tcsh"))
    p.set_defaults(run=_completion)


def _add_submit_and_apply(sub: Sub, common: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("submit", parents=common, help="ask for a video about TOPIC (no YAML needed)")
    p.add_argument("topic", help='what the video is about, e.g. "Newton\'s laws"')
    text = p.add_mutually_exclusive_group()
    text.add_argument("--description", help="the points the video should make")
    text.add_argument("-f", "--description-file", type=Path, help="read the description from FILE")
    p.add_argument("--planner", choices=PLANNERS, help="who plans the scenes (default: Template)")
    p.add_argument("--quality", choices=QUALITIES, help="render quality (default: the operator's)")
    p.add_argument("--store", choices=STORES, help="artifact store (default: the operator's)")
    p.add_argument("--name", help="the request's name (default: made from the topic, see docs/cli.md)")
    _wait_options(p)
    p.set_defaults(run=_submit)

    p = sub.add_parser("apply", parents=common, help="create or update VideoRequests from a YAML file")
    p.add_argument("-f", "--filename", type=Path, required=True, help="YAML file, - for standard input")
    _wait_options(p)
    p.set_defaults(run=_apply)


def _add_reading(sub: Sub, common: list[argparse.ArgumentParser]) -> None:
    for verb, text_ in (
        ("get", "show VideoRequests (all, or the ones named)"),
        ("list", "list VideoRequests"),
    ):
        p = sub.add_parser(verb, parents=common, help=text_)
        if verb == "get":
            _name(p, many="*")
        p.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
        p.add_argument("-o", "--output", choices=("json", "yaml", "name"), help="for scripts")
        p.set_defaults(run=_get)

    p = sub.add_parser("watch", parents=common, help="follow requests live until they finish")
    _name(p, many="+")
    p.add_argument("--timeout", type=float, default=0, help="give up after SECONDS (exit 8); 0: never")
    p.set_defaults(run=_watch)

    p = sub.add_parser("logs", parents=common, help="the output of a scene's render or of the combine")
    _name(p)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--scene", help="scene index or name (default: the combine)")
    which.add_argument("--combine", action="store_true", help="the combine Job's output")
    p.add_argument("--attempt", type=int, help="attempt K of the scene (default: its latest)")
    p.add_argument("-f", "--follow", action="store_true", help="keep streaming while it runs")
    p.set_defaults(run=_logs)


def _add_download(sub: Sub, common: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("download", parents=common, help="fetch the video, verified against its sha256")
    _name(p)
    p.add_argument("-o", "--output", help="file to write (default: NAME.mp4); - for standard output")
    p.add_argument("--scene", help="a scene's video instead (index or name)")
    volume = p.add_argument_group("Volume store")
    volume.add_argument(
        "--claim", help="the store's PersistentVolumeClaim (default: from the request's Jobs)"
    )
    volume.add_argument("--image", help="image of the helper Pod (default: the renderer image)")
    volume.add_argument("--pod-timeout", type=float, default=120, help="seconds for the helper Pod to start")
    appwrite = p.add_argument_group("Appwrite store")
    appwrite.add_argument("--appwrite-key", help="API key (default: $APPWRITE_API_KEY)")
    appwrite.add_argument("--appwrite-secret", help="read apiKey from this Kubernetes Secret")
    appwrite.add_argument("--appwrite-endpoint", help="endpoint to use instead of the one in the URL")
    p.set_defaults(run=_download)


def _wait_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", action="store_true", help="follow it to the end; exit 1 if it fails")
    p.add_argument("--timeout", type=float, default=0, help="with --wait: give up after SECONDS (exit 8)")
    p.add_argument("-o", "--output", choices=("json", "yaml", "name"), help="print the object for scripts")


def _connect(args: argparse.Namespace) -> Connection:
    return Connection.resolve(option(args, "kubeconfig"), option(args, "context"), option(args, "namespace"))


def _submit(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .errors import UsageError
    from .submit import manifest, request_name, submit
    from .watch import follow

    description = args.description
    if args.description_file is not None:
        try:
            description = args.description_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise UsageError(f"cannot read {args.description_file}: {error.strerror}") from None
    conn, out = _connect(args), Output.create(program=parser.prog)
    name = request_name(args.topic, args.name)
    body = manifest(
        args.topic,
        name,
        conn.namespace,
        description=description,
        planner=args.planner,
        quality=args.quality,
        store=args.store,
    )
    submit(conn, body, out, args.output)
    return follow(conn, [name], out, args.timeout) if args.wait else 0


def _apply(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .errors import UsageError
    from .submit import apply, read_manifests
    from .watch import follow

    out, names = Output.create(program=parser.prog), []
    base = _connect(args)
    docs = read_manifests(args.filename)
    for doc in docs:
        namespace = (doc.get("metadata") or {}).get("namespace")
        wanted = option(args, "namespace")
        if namespace and wanted and namespace != wanted:
            name = doc["metadata"]["name"]
            raise UsageError(f"{name} is in namespace {namespace} in the file, but -n says {wanted}")
        names.append(apply(_in(base, namespace), doc, out, args.output))
    if not args.wait:
        return 0
    namespaces = {(d.get("metadata") or {}).get("namespace") or base.namespace for d in docs}
    if len(namespaces) > 1:
        raise UsageError("--wait follows requests of one namespace at a time")
    return follow(_in(base, namespaces.pop()), names, out, args.timeout)


def _in(conn: Connection, namespace: str | None) -> Connection:
    if not namespace or namespace == conn.namespace:
        return conn
    return dataclasses.replace(conn, namespace=namespace, _client=None)


def _get(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .listing import show

    return show(
        _connect(args),
        getattr(args, "names", []) or [],
        Output.create(program=parser.prog),
        args.output,
        args.all_namespaces,
    )


def _watch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .watch import follow

    return follow(
        _connect(args), list(dict.fromkeys(args.names)), Output.create(program=parser.prog), args.timeout
    )


def _logs(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .logs import show

    conn = _connect(args)
    return show(
        conn,
        args.name,
        scene_selector=args.scene,
        attempt=args.attempt,
        combine=args.combine,
        follow=args.follow,
    )


def _download(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .download import Options, run

    options = Options(
        output=args.output,
        scene=args.scene,
        claim=args.claim,
        image=args.image,
        pod_timeout=args.pod_timeout,
        appwrite_key=args.appwrite_key,
        appwrite_secret=args.appwrite_secret,
        appwrite_endpoint=args.appwrite_endpoint,
    )
    return run(_connect(args), args.name, options, Output.create(program=parser.prog))


def _act(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ..actions import act

    return act(args.command, args.name, _connect(args), Output.create(program=parser.prog))


def _completion(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .completion import script

    root: Any = parser
    print(script(root, args.shell), end="")
    return 0
