"""Sentences and their cues: WebVTT and SRT files with one cue per spoken sentence."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


@dataclasses.dataclass(frozen=True)
class Cue:
    start: float  # seconds in the video
    end: float
    text: str


def sentences(text: str) -> list[str]:
    """The narration's sentences in order (line breaks end a sentence too), whitespace folded."""
    found = []
    for line in text.splitlines():
        for part in _SENTENCE_END.split(line.strip()):
            folded = " ".join(part.split())
            if folded:
                found.append(folded)
    return found


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _clean(text: str) -> str:
    # A cue's text may not hold "-->" or a blank line; WebVTT escapes &, < and >.
    return " ".join(text.replace("-->", "->").split())


def webvtt(cues: Sequence[Cue]) -> str:
    lines = ["WEBVTT", ""]
    for number, cue in enumerate(cues, start=1):
        text = _clean(cue.text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        lines += [str(number), f"{_timestamp(cue.start, '.')} --> {_timestamp(cue.end, '.')}", text, ""]
    return "\n".join(lines)


def srt(cues: Sequence[Cue]) -> str:
    lines = []
    for number, cue in enumerate(cues, start=1):
        lines += [
            str(number),
            f"{_timestamp(cue.start, ',')} --> {_timestamp(cue.end, ',')}",
            _clean(cue.text),
            "",
        ]
    return "\n".join(lines)


def parse_webvtt(text: str) -> list[Cue]:
    """The cues of a WebVTT file as `webvtt` writes it (for verification and tests)."""
    cues = []
    blocks = [b.strip().splitlines() for b in text.split("\n\n")]
    for block in blocks:
        timing = next((i for i, line in enumerate(block) if "-->" in line), None)
        if timing is None:
            continue
        start, _, end = block[timing].partition(" --> ")
        body = " ".join(block[timing + 1 :])
        body = body.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        cues.append(Cue(_seconds(start), _seconds(end), body))
    return cues


def _seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.strip().replace(",", ".").split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)
