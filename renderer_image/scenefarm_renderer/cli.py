"""The command line: `python -m scenefarm_renderer render|combine ...`.

Each command ends with one exit class and one termination message; the heavy
modules (PyAV, the renderer) are imported only by the command that needs them.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from scenefarm_contract.chunks import COMPLETION_INDEX_ENV
from scenefarm_contract.narration import Narration
from scenefarm_contract.renderer import QUALITIES, VIDEO_KEY, ExitClass, TerminationMessage

from .errors import EnvironmentProblem, RendererError
from .sandbox import Limits
from .termination import LOG, write_termination_message

EXIT_CLASSES = """\
exit classes (also written as JSON to $SCENEFARM_TERMINATION_LOG, default /dev/termination-log):
  0   ok: the artifact is verified and stored
  10  code rejected: syntax error or code policy violation (fixable by rewriting the code)
  11  code raised while rendering, exceeded the deadline, the CPU or the memory limit (fixable)
  20  environment: missing LaTeX or fonts, a broken image, bad arguments or inputs (not the code)
  30  transient: the artifact store could not be read or written (retry as is)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scenefarm_renderer",
        description="Render one Manim scene, or combine rendered scenes into one verified video.",
        epilog=EXIT_CLASSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="{render,plan,stitch,combine,clean}"
    )

    render = commands.add_parser(
        "render",
        help="render one scene to <store>/<prefix>/scene-NN.mp4",
        description="Check the scene code, render it in a limited child process, verify and store the MP4.",
        epilog=EXIT_CLASSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    render.add_argument("--code", required=True, type=Path, help="file with the scene's Python code")
    render.add_argument("--class-name", required=True, help="the Scene subclass to render")
    render.add_argument("--quality", required=True, choices=sorted(QUALITIES), help="480p15 to 2160p60")
    render.add_argument("--scene-index", required=True, type=int, help="position of the scene (NN)")
    _store_arguments(render)
    render.add_argument("--deadline", type=float, default=600.0, help="wall-clock seconds (default 600)")
    render.add_argument("--cpu-seconds", type=int, help="CPU time limit (default: 2 x deadline)")
    render.add_argument(
        "--memory-mib",
        type=int,
        help="address-space limit (default by quality: 2048 up to high, 6144 for fourk)",
    )
    render.add_argument("--file-mib", type=int, default=2048, help="largest file the scene may write")
    render.add_argument("--chunk-index", type=int, help="store the frames as chunk K: scene-NN.chunk-KK.mp4")
    render.add_argument(
        "--frames", type=_frame_range, help="START:END, the chunk's frames of the scene (needs --chunk-index)"
    )
    render.add_argument(
        "--last-chunk",
        action="store_true",
        help="the chunk runs to the scene's end, which must be END (a plan that does not match fails)",
    )
    render.add_argument(
        "--chunk-layout",
        type=_edges,
        help="E0,E1,...,Ek: chunk K renders frames [EK, EK+1); K is --chunk-index or $JOB_COMPLETION_INDEX",
    )

    plan = commands.add_parser(
        "plan",
        help="count a scene's frames and segments without rendering them",
        description="Run the scene without rasterizing or encoding; report its frames and the segments "
        "chunks may start at (termination message field `units`).",
        epilog=EXIT_CLASSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    plan.add_argument("--code", required=True, type=Path, help="file with the scene's Python code")
    plan.add_argument("--class-name", required=True, help="the Scene subclass to plan")
    plan.add_argument("--quality", required=True, choices=sorted(QUALITIES), help="480p15 to 2160p60")
    plan.add_argument("--deadline", type=float, default=600.0, help="wall-clock seconds (default 600)")

    stitch = commands.add_parser(
        "stitch",
        help="join a scene's chunks by stream copy into scene-NN.mp4",
        description="Join chunk MP4s by stream copy (never re-encoding) and verify the scene.",
        epilog=EXIT_CLASSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _store_arguments(stitch)
    stitch.add_argument("--scene-index", required=True, type=int, help="position of the scene (NN)")
    stitch.add_argument("--quality", required=True, choices=sorted(QUALITIES), help="480p15 to 2160p60")
    stitch.add_argument("--frames", required=True, type=int, help="frames the scene has (from its plan)")
    stitch.add_argument("--input", action="append", default=[], help="chunk key, in order (repeat)")

    combine = commands.add_parser(
        "combine",
        help="concatenate scene MP4s into video.mp4",
        description="Probe the inputs; stream-copy when they match, re-encode with normalisation otherwise; "
        "verify duration and frame count.",
        epilog=EXIT_CLASSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _store_arguments(combine)
    combine.add_argument("--output", default=VIDEO_KEY, help="key of the combined video")
    combine.add_argument("--input", action="append", default=[], help="scene key, in order (repeat)")
    combine.add_argument(
        "--sha256",
        action="append",
        default=[],
        metavar="KEY=HEX",
        help="the sha256 recorded for an input: a file that differs fails the combine (class 20)",
    )
    combine.add_argument(
        "--narration",
        type=_narration,
        help="JSON of scenefarm_contract.narration.Narration: speak each input's text over the video, "
        "add subtitles (video.vtt, video.srt and a mov_text track)",
    )
    clean = commands.add_parser(
        "clean",
        help="remove a deleted request's files from the store",
        description="Remove every file under the prefix except the --keep keys (scenes other live "
        "requests reuse), and each --also file (reused inputs nobody needs any more). On Appwrite "
        "Storage, which cannot be listed by prefix, remove the --key files (except --keep).",
        epilog=EXIT_CLASSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _store_arguments(clean)
    clean.add_argument("--keep", action="append", default=[], help="key to keep (repeat)")
    clean.add_argument("--also", action="append", default=[], help="<prefix>/<key> to remove too (repeat)")
    clean.add_argument("--key", action="append", default=[], help="a known key (Appwrite Storage) (repeat)")
    return parser


def _frame_range(text: str) -> tuple[int, int]:
    start, sep, end = text.partition(":")
    try:
        first, last = int(start), int(end)
    except ValueError:
        first, last = -1, -1
    if not sep or first < 0 or last <= first:
        raise argparse.ArgumentTypeError(f"{text!r} is not START:END with 0 <= START < END")
    return first, last


def _narration(text: str) -> Narration:
    try:
        return Narration.from_json(text)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"not a narration: {exc}") from exc


def _edges(text: str) -> list[int]:
    try:
        edges = [int(e) for e in text.split(",")]
    except ValueError:
        edges = []
    if len(edges) < 2 or edges[0] != 0 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise argparse.ArgumentTypeError(f"{text!r} is not 0,E1,...,Ek with increasing frame numbers")
    return edges


def _chunk_from_layout(args: argparse.Namespace) -> None:
    """An Indexed Job's Pod: its chunk index from the environment, its frames from the layout."""
    if args.chunk_layout is None:
        return
    index = args.chunk_index
    if index is None:
        raw = os.environ.get(COMPLETION_INDEX_ENV, "")
        if not raw.isdigit():
            raise EnvironmentProblem(f"--chunk-layout needs --chunk-index or ${COMPLETION_INDEX_ENV}")
        index = int(raw)
    edges = args.chunk_layout
    if index >= len(edges) - 1:
        raise EnvironmentProblem(f"chunk {index} is not in a layout of {len(edges) - 1} chunks")
    args.chunk_index, args.frames = index, (edges[index], edges[index + 1])
    args.last_chunk = index == len(edges) - 2


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prefix", required=True, help="<namespace>/<name>-<uid8>")
    parser.add_argument("--store", required=True, choices=["volume", "appwrite"], help="artifact store kind")
    parser.add_argument("--store-root", default="", help="mount path of the volume store")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        message = _run(args)
    except RendererError as exc:
        message = TerminationMessage(exitClass=exc.exit_class, errorTail=exc.message)
    except Exception as exc:  # a renderer bug: the image is at fault, never the scene
        tail = "".join(traceback.format_exception(exc)[-8:])
        message = TerminationMessage(exitClass=ExitClass.ENVIRONMENT, errorTail=f"renderer error: {tail}")
    message.logTail = LOG.text()  # every outcome: what the log showed last, for the status and the page
    write_termination_message(message)
    if message.errorTail:
        print(message.errorTail, file=sys.stderr)
    return message.exitClass


def _run(args: argparse.Namespace) -> TerminationMessage:
    from scenefarm_renderer.storage.store import ArtifactStore, open_store, split_source

    from .rendering import RenderRequest, plan_scene, render_scene

    if args.command == "plan":
        return plan_scene(RenderRequest(args.code, args.class_name, args.quality, 0, _limits(args)))
    if args.command == "render":
        _chunk_from_layout(args)
    if args.command == "render" and (args.frames is None) != (args.chunk_index is None):
        raise EnvironmentProblem("--frames and --chunk-index go together: a chunk needs both")
    if args.command == "clean":
        from scenefarm_renderer.storage.store import clean

        return clean(args.store, args.store_root, args.prefix, keep=args.keep, also=args.also, keys=args.key)
    try:
        store = open_store(args.store, args.store_root, args.prefix)
    except ValueError as exc:
        raise EnvironmentProblem(str(exc)) from exc
    check = getattr(store, "check_writable", None)
    if check is not None:  # before any work: a store that cannot take the result fails at once
        check()
    if args.command == "render":
        request = RenderRequest(
            args.code,
            args.class_name,
            args.quality,
            args.scene_index,
            _limits(args),
            args.chunk_index,
            args.frames,
            args.last_chunk,
        )
        return render_scene(request, store)
    if args.command == "stitch":
        from .stitching import stitch_into_store

        return stitch_into_store(store, args.input, args.scene_index, args.quality, args.frames)
    from .combining import combine_into_store

    def sources(key: str) -> tuple[ArtifactStore, str]:
        try:
            prefix, name = split_source(args.prefix, key)
        except ValueError as exc:
            raise EnvironmentProblem(str(exc)) from exc
        return (
            store if prefix == args.prefix.strip("/") else open_store(args.store, args.store_root, prefix)
        ), name

    expected = dict(item.partition("=")[::2] for item in args.sha256)
    return combine_into_store(store, args.input, args.output, sources, expected, narration=args.narration)


def _limits(args: argparse.Namespace) -> Limits:
    from .sandbox import default_memory_mib

    return Limits(
        deadline_seconds=args.deadline,
        cpu_seconds=getattr(args, "cpu_seconds", None) or max(1, int(args.deadline * 2)),
        memory_mib=getattr(args, "memory_mib", None) or default_memory_mib(args.quality),
        file_mib=getattr(args, "file_mib", 2048),
    )
