"""The versioned prompt files, filled with the renderer's code policy so the two never drift.

Each file starts with a marker line `<!-- scenefarm-prompt: <kind>.<version> -->`; the Gemini
double (and anyone reading request logs) tells the call kinds apart by it. A prompt change that
changes behaviour gets a new file (`plan.v2.md`) and a new `PLAN_PROMPT`, never an edit in place.
"""

from __future__ import annotations

import functools
import importlib.resources
import string

from scenefarm_contract import policy

PLAN_PROMPT = "plan.v1"
FIX_PROMPT = "fix.v1"
MARKER = "scenefarm-prompt:"


@functools.cache
def load(version: str) -> str:
    """The prompt `prompts/<version>.md` with the code policy filled in."""
    source = importlib.resources.files("scenefarm_operator.planning").joinpath(f"prompts/{version}.md")
    return string.Template(source.read_text(encoding="utf-8")).substitute(
        allowed_modules=_names(policy.ALLOWED_MODULES - {"__future__"}),
        allowed_submodules=_names(policy.ALLOWED_SUBMODULES),
        forbidden_builtins=_names(policy.DANGEROUS_BUILTINS),
        forbidden_names=_names(
            policy.SYSTEM_MODULES | policy.DANGEROUS_NAMES | policy.MANIM_INTERNAL_MODULES
        ),
    )


def _names(names: frozenset[str]) -> str:
    return ", ".join(f"`{n}`" for n in sorted(names))
