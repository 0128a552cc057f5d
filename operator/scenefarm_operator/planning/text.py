"""Turn free user text into clean, bounded points for on-screen Text.

Pure string handling, shared by the template planner and the prompts: strip characters that
Pango or a terminal would choke on, split a description into points, wrap long lines.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata

# Control, format (bidi overrides, zero-width), surrogate, private-use and unassigned code points
# render as boxes or not at all and can reorder what a viewer sees; they carry no meaning on a slide.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# A list marker needs the space after it, so "-5 degrees", "1.5 million" and "a. b." stay intact.
_BULLET = re.compile(r"^(?:[-*+•‣▪◦●○·–—>]+|\(?\d{1,3}[.)]|\(?[a-zA-Z]\))\s+")
# A sentence ends at . ! ? (or their CJK forms) followed by space, or at a CJK stop directly.
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=\S)|(?<=[。！？])")


def clean(text: str) -> str:
    """One line of printable text: dropped categories removed, whitespace runs collapsed."""
    text = unicodedata.normalize("NFC", text)
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if unicodedata.category(ch) not in _DROPPED_CATEGORIES or ch.isspace()
    )
    return " ".join(kept.split())


def shorten(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + "…"


def split_points(description: str, *, limit: int = 280) -> list[str]:
    """The points of a description: its lines (bullets stripped) or, for one paragraph, its sentences."""
    lines = [_BULLET.sub("", clean(line)) for line in _LINE_BREAKS.split(description)]
    lines = [line for line in lines if line]
    if len(lines) == 1:
        lines = [s.strip() for s in _SENTENCE_END.split(lines[0]) if s.strip()]
    return [shorten(line, limit) for line in lines]


def wrap(text: str, width: int) -> str:
    """`text` broken into lines of at most `width` characters (long words are broken too)."""
    return "\n".join(textwrap.wrap(text, width=width, break_long_words=True, break_on_hyphens=True)) or text


def headline(text: str, words: int = 6, limit: int = 40) -> str:
    """The first few words of a point, for recap lists."""
    return shorten(" ".join(text.split()[:words]), limit)


def chunk(items: list[str], groups: int) -> list[list[str]]:
    """`items` split into at most `groups` consecutive runs of near-equal length."""
    if groups <= 0 or not items:
        return []
    groups = min(groups, len(items))
    size, extra = divmod(len(items), groups)
    runs, start = [], 0
    for i in range(groups):
        end = start + size + (1 if i < extra else 0)
        runs.append(items[start:end])
        start = end
    return runs
