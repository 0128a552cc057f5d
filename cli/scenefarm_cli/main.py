"""The `scenefarm` command line (and `kubectl scenefarm`): the user commands, and the plugged-in ones.

The user commands live in this package (one module each; `commands` builds their parsers). The
operator (`scenefarm operator`) and the dev kit (`scenefarm demo`, `scenefarm dev up`) plug in
through the `scenefarm.commands` entry point group: each entry point is a `register(subparsers)`
function whose parsers set a `run(args, parser) -> int` default. This package never imports
the operator or the dev kit.

Every failure a user can cause ends as one line on stderr and an exit code (errors.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import entry_points

from scenefarm_cli.commands import GLOBAL, add_commands, connection_options
from scenefarm_cli.errors import CliError
from scenefarm_cli.output import Output

PLUGIN_GROUP = "scenefarm.commands"
QUICK_PATH = """\
from nothing to a video:
  scenefarm dev up                            # a local cluster (from the dev kit), or use your own
  scenefarm submit "Newton's laws" --wait     # prints the request's name: newtons-laws
  scenefarm download newtons-laws -o video.mp4
"""


def build_parser(prog: str = "scenefarm") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Manim videos as Kubernetes Jobs.",
        epilog=QUICK_PATH,
        parents=[connection_options(GLOBAL)],  # kubectl habits: `scenefarm -n videos get`
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_commands(sub)
    for plugin in entry_points(group=PLUGIN_GROUP):
        try:
            register = plugin.load()
        except ImportError as error:  # a plugin whose dependencies are not installed
            print(f"scenefarm: commands from {plugin.value} are unavailable: {error}", file=sys.stderr)
            continue
        register(sub)
    return parser


def main(argv: list[str] | None = None, prog: str = "scenefarm") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args, parser))
    except CliError as error:
        Output.create().error(str(error))
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `scenefarm get | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # a bug, or a failure no command foresaw: one line, not a traceback
        if os.environ.get("SCENEFARM_DEBUG"):
            raise
        name = type(error).__name__
        Output.create().error(f"unexpected {name}: {error} (SCENEFARM_DEBUG=1 shows the traceback)")
        return 1


def kubectl_plugin() -> int:
    """`kubectl scenefarm ...`: kubectl runs the `kubectl-scenefarm` executable with the rest."""
    return main(prog="kubectl scenefarm")


if __name__ == "__main__":
    sys.exit(main())
