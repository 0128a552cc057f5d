"""`scenefarm completion bash|zsh|tcsh`: completion scripts generated from the parser (shtab).

Commands, flags and choices complete from the parser itself; request names complete by asking
the cluster (`scenefarm get -o name`), in bash and zsh.

    bash:  source <(scenefarm completion bash)
    zsh:   scenefarm completion zsh > "${fpath[1]}/_scenefarm"
"""

from __future__ import annotations

import argparse

import shtab

_BASH = """
_scenefarm_requests() {
  compgen -W "$(scenefarm get -o name 2>/dev/null | sed 's|^videorequest/||')" -- "$1"
}
"""
_ZSH = """
_scenefarm_requests() {
  local -a names
  names=(${(f)"$(scenefarm get -o name 2>/dev/null | sed 's|^videorequest/||')"})
  _describe 'videorequest' names
}
"""


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    preamble = {"bash": _BASH, "zsh": _ZSH}.get(shell, "")
    return str(shtab.complete(parser, shell=shell, preamble=preamble))
