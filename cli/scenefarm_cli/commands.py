"""The user commands' arguments, and what each one runs: `add_commands(subparsers)`.

Every command takes --kubeconfig, --context and -n/--namespace, as kubectl does. Each parser
sets `run(args, parser) -> exit code`; errors are raised as `CliError`s and printed by `cli.main`.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scenefarm_cli.connection import Connection
from scenefarm_cli.output import Output
from scenefarm_contract import keys

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


# What kubectl and `-o name` write before a name: `videorequest/NAME` is accepted as NAME.
_KINDS = (keys.KIND.lower(), keys.PLURAL)
KIND_PREFIXES = (*_KINDS, "vr", *(f"{kind}.{keys.GROUP}" for kind in _KINDS))  # vr: the CRD's short name


def request_name(text: str) -> str:
    """NAME, or `KIND/NAME` for a VideoRequest kind as kubectl writes it (`-o name` output)."""
    kind, slash, name = text.partition("/")
    if not slash:
        return text
    if kind.lower() in KIND_PREFIXES and name:
        return name
    raise argparse.ArgumentTypeError(f"{text!r}: scenefarm takes VideoRequests (NAME or videorequest/NAME)")


def _name(
    parser: argparse.ArgumentParser, many: str | None = None, help: str = "the VideoRequest's name"
) -> None:
    action = parser.add_argument("names" if many else "name", nargs=many, help=help, type=request_name)
    action.complete = NAME_COMPLETION  # type: ignore[attr-defined]


def add_commands(sub: Sub) -> None:
    common = [connection_options()]
    _add_submit_and_apply(sub, common)
    _add_reading(sub, common)
    _add_download(sub, common)
    _add_delete_and_resubmit(sub, common)
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
    p.add_argument("topic", nargs="?", help='what the video is about, e.g. "Newton\'s laws"')
    many = p.add_mutually_exclusive_group()
    many.add_argument(
        "-f", "--filename", type=Path, help="create the VideoRequests of this YAML file instead (- for stdin)"
    )
    many.add_argument(
        "--from",
        dest="topics_file",
        type=Path,
        metavar="FILE",
        help="one request per topic in FILE, as a batch",
    )
    text = p.add_mutually_exclusive_group()
    text.add_argument("--description", help="the points the video should make")
    text.add_argument("--description-file", type=Path, metavar="FILE", help="read the description from FILE")
    p.add_argument("--planner", choices=PLANNERS, help="who plans the scenes (default: Template)")
    p.add_argument("--quality", choices=QUALITIES, help="render quality (default: the operator's)")
    p.add_argument("--store", choices=STORES, help="artifact store (default: the operator's)")
    p.add_argument("--priority", type=int, help="higher runs first when scene Jobs queue (default 0)")
    p.add_argument("--name", help="the request's name (default: made from the topic, see docs/cli.md)")
    p.add_argument("--batch", help="with --from: the batch's label value (default: from FILE's name)")
    _wait_options(p)
    _dry_run(p)
    p.set_defaults(run=_submit)

    p = sub.add_parser("apply", parents=common, help="create or update VideoRequests from a YAML file")
    p.add_argument("-f", "--filename", type=Path, required=True, help="YAML file, - for standard input")
    _wait_options(p)
    _dry_run(p)
    p.set_defaults(run=_apply)


def _dry_run(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dry-run",
        choices=("none", "server"),
        default="none",
        help="server: the API server validates and answers, nothing is stored",
    )


def _add_delete_and_resubmit(sub: Sub, common: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("delete", parents=common, help="delete requests (their Jobs, Pods and status go too)")
    _name(p, many="+")
    p.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait until they are gone (default: yes)",
    )
    p.add_argument("--timeout", type=float, default=120, help="with --wait: give up after SECONDS (exit 8)")
    _dry_run(p)
    p.set_defaults(run=_delete)

    p = sub.add_parser("resubmit", parents=common, help="a new request with NAME's spec (after a cancel)")
    _name(p)
    p.add_argument(
        "--as", dest="new_name", metavar="NEW", help="the new request's name (default: NAME-2, ...)"
    )
    _wait_options(p)
    _dry_run(p)
    p.set_defaults(run=_resubmit)


def _add_reading(sub: Sub, common: list[argparse.ArgumentParser]) -> None:
    for verb, text_ in (
        ("get", "show VideoRequests (all, or the ones named)"),
        ("list", "list VideoRequests"),
    ):
        p = sub.add_parser(verb, parents=common, help=text_)
        if verb == "get":
            _name(p, many="*")
        p.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
        p.add_argument(
            "-o",
            "--output",
            choices=("json", "yaml", "name", "wide"),
            help="wide: more columns; others for scripts",
        )
        p.add_argument("-l", "--selector", help="label selector: key=value, key!=value, key, !key")
        p.add_argument("--batch", help="the requests of batch B (submit --from), with a summary")
        p.add_argument("-w", "--watch", action="store_true", help="then print a row for every change")
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
    p.add_argument(
        "--subtitles", action="store_true", help="the narration's WebVTT subtitles instead (NAME.vtt)"
    )
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


def _output(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Output:
    """Hints printed for the user to run next keep the flags that chose the cluster."""
    flags = [
        f"{flag} {shlex.quote(str(value))}"
        for flag, value in (
            ("--kubeconfig", option(args, "kubeconfig")),
            ("--context", option(args, "context")),
            ("-n", option(args, "namespace")),
        )
        if value
    ]
    return Output.create(program=" ".join([parser.prog, *flags]))


def _submit(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from scenefarm_cli.errors import UsageError
    from scenefarm_cli.show.watch import follow
    from scenefarm_cli.submit import manifest, request_name, submit

    conn, out = _connect(args), _output(args, parser)
    dry_run = args.dry_run == "server"
    if args.wait and dry_run:
        raise UsageError("--wait follows what was stored; a --dry-run stores nothing")
    if args.filename is not None or args.topics_file is not None:
        if args.topic:
            raise UsageError(f"give a TOPIC or {'-f' if args.filename else '--from'} FILE, not both")
        written = _from_file(args, conn, out, dry_run)
    else:
        if not args.topic:
            raise UsageError("what about? give a TOPIC, -f REQUEST.yaml, or --from TOPICS.txt")
        name = request_name(args.topic, args.name)
        body = manifest(
            args.topic,
            name,
            conn.namespace,
            description=_description(args),
            planner=args.planner,
            quality=args.quality,
            store=args.store,
            priority=args.priority,
        )
        written = [submit(conn, body, out, args.output, dry_run)]
    if not args.wait:
        return 0
    return follow(conn, [w.name for w in written], out, args.timeout, {w.name: w.generation for w in written})


def _description(args: argparse.Namespace) -> str | None:
    from scenefarm_cli.errors import UsageError

    if args.description_file is None:
        return str(args.description) if args.description else None
    try:
        return str(args.description_file.read_text(encoding="utf-8").strip())
    except OSError as error:
        raise UsageError(f"cannot read {args.description_file}: {error.strerror}") from None


def _from_file(args: argparse.Namespace, conn: Connection, out: Output, dry_run: bool) -> list[Any]:
    """`submit -f REQUESTS.yaml` (create them; taken names refused) or `submit --from TOPICS`."""
    from scenefarm_cli.batch import batch_name, check_names, read_topics
    from scenefarm_cli.errors import Refused, UsageError
    from scenefarm_cli.submit import collision, manifest, read_manifests, request_name, submit
    from scenefarm_cli.videorequests import find
    from scenefarm_contract.keys import BATCH_LABEL

    if args.filename is not None:
        docs = read_manifests(args.filename)
        for doc in docs:
            namespace = (doc.get("metadata") or {}).get("namespace")
            if namespace and namespace != conn.namespace:
                raise UsageError(
                    f"{doc['metadata']['name']} is in namespace {namespace}; pass -n {namespace}"
                )
            doc["metadata"]["namespace"] = conn.namespace
    else:
        if args.name:
            raise UsageError("--name names one request; with --from, give names in a YAML list (`name:`)")
        batch = batch_name(args.topics_file, args.batch)
        topics = read_topics(args.topics_file)
        names = [request_name(t.topic, t.name) for t in topics]
        check_names(topics, names)
        docs = [
            manifest(
                t.topic,
                name,
                conn.namespace,
                description=t.description or _description(args),
                planner=args.planner,
                quality=args.quality,
                store=args.store,
                priority=t.priority if t.priority is not None else args.priority,
                labels={BATCH_LABEL: batch},
            )
            for t, name in zip(topics, names, strict=True)
        ]
    for doc in docs:  # every name is checked before anything is created
        existing = find(conn, doc["metadata"]["name"])
        if existing is not None:
            raise Refused(collision(existing, out.program) + " Nothing was created.")
    written = [submit(conn, doc, out, args.output, dry_run) for doc in docs]
    if args.topics_file is not None and args.output is None:
        out.line(f"batch {batch}: {len(written)} requests; see them with: {out.program} get --batch {batch}")
    return written


def _apply(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from scenefarm_cli.errors import UsageError
    from scenefarm_cli.show.watch import follow
    from scenefarm_cli.submit import apply, read_manifests

    out, written = _output(args, parser), []
    dry_run = args.dry_run == "server"
    if args.wait and dry_run:
        raise UsageError("--wait follows what was stored; a --dry-run stores nothing")
    base = _connect(args)
    docs = read_manifests(args.filename)
    for doc in docs:
        namespace = (doc.get("metadata") or {}).get("namespace")
        wanted = option(args, "namespace")
        if namespace and wanted and namespace != wanted:
            name = doc["metadata"]["name"]
            raise UsageError(f"{name} is in namespace {namespace} in the file, but -n says {wanted}")
        written.append(apply(_in(base, namespace), doc, out, args.output, dry_run))
    if not args.wait:
        return 0
    namespaces = {(d.get("metadata") or {}).get("namespace") or base.namespace for d in docs}
    if len(namespaces) > 1:
        raise UsageError("--wait follows requests of one namespace at a time")
    names = [w.name for w in written]
    return follow(
        _in(base, namespaces.pop()), names, out, args.timeout, {w.name: w.generation for w in written}
    )


def _in(conn: Connection, namespace: str | None) -> Connection:
    if not namespace or namespace == conn.namespace:
        return conn
    return dataclasses.replace(conn, namespace=namespace, _client=None)


def _get(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from scenefarm_cli.show.listing import show

    return show(
        _connect(args),
        getattr(args, "names", []) or [],
        _output(args, parser),
        args.output,
        args.all_namespaces,
        labels=args.selector,
        batch=args.batch,
        watch=args.watch,
    )


def _watch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from scenefarm_cli.show.watch import follow

    return follow(_connect(args), list(dict.fromkeys(args.names)), _output(args, parser), args.timeout)


def _logs(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from scenefarm_cli.logs import show

    conn = _connect(args)
    return show(
        conn,
        args.name,
        scene_selector=args.scene,
        attempt=args.attempt,
        combine=args.combine,
        follow=args.follow,
        program=_output(args, parser).program,
    )


def _download(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from scenefarm_cli.fetch.download import Options, run

    options = Options(
        output=args.output,
        scene=args.scene,
        claim=args.claim,
        image=args.image,
        pod_timeout=args.pod_timeout,
        appwrite_key=args.appwrite_key,
        appwrite_secret=args.appwrite_secret,
        appwrite_endpoint=args.appwrite_endpoint,
        subtitles=args.subtitles,
    )
    return run(_connect(args), args.name, options, _output(args, parser))


def _act(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from scenefarm_cli.actions import act

    return act(args.command, args.name, _connect(args), _output(args, parser))


def _delete(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from scenefarm_cli.lifecycle import delete

    names = list(dict.fromkeys(args.names))
    out = _output(args, parser)
    return delete(
        _connect(args), names, out, wait=args.wait, timeout=args.timeout, dry_run=args.dry_run == "server"
    )


def _resubmit(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from scenefarm_cli.errors import UsageError
    from scenefarm_cli.lifecycle import resubmit
    from scenefarm_cli.show.watch import follow

    conn, out = _connect(args), _output(args, parser)
    if args.wait and args.dry_run == "server":
        raise UsageError("--wait follows what was stored; a --dry-run stores nothing")
    written = resubmit(conn, args.name, args.new_name, out, fmt=args.output, dry_run=args.dry_run == "server")
    if not args.wait:
        return 0
    return follow(conn, [written.name], out, args.timeout, {written.name: written.generation})


def _completion(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from scenefarm_cli.completion import script

    root: Any = parser
    print(script(root, args.shell), end="")
    return 0
