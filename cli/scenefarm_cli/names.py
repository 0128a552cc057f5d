"""The name `scenefarm submit` gives a request, from its topic, so people can guess it.

The rule (docs/cli.md): letters are folded to ASCII and lower case, apostrophes are dropped
(`Newton's` -> `newtons`), every other run of characters that is not a letter or digit becomes
one `-`, and the result is cut to 40 characters at a word boundary. "Newton's laws" ->
`newtons-laws`; "The Fourier Transform, visually!" -> `the-fourier-transform-visually`.
The same topic always gives the same name, so a second submit of it is refused, not renamed.
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 40  # leaves the request's Job names ("-sNN-aK") room within a label value
MAX_NAME = 253  # the API server's limit for a custom resource's metadata.name (a DNS subdomain)
_APOSTROPHES = "'’ʼ`´"


def name_for_topic(topic: str, limit: int = MAX_LENGTH) -> str:
    """A DNS-label name for `topic`; "" when the topic has no letter or digit to use."""
    folded = unicodedata.normalize("NFKD", topic).encode("ascii", "ignore").decode().lower()
    folded = re.sub(f"[{re.escape(_APOSTROPHES)}]", "", folded)
    name = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    if len(name) <= limit:
        return name
    cut = name[:limit]
    if name[limit] != "-" and "-" in cut:
        cut = cut[: cut.rindex("-")]  # whole words only
    return cut.strip("-")


_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"


def is_valid_name(name: str) -> bool:
    """A DNS subdomain of at most 253 characters, as the API server requires for metadata.name."""
    return len(name) <= MAX_NAME and has_name_characters(name)


def has_name_characters(name: str) -> bool:
    """A DNS subdomain's characters, whatever its length: dot-separated labels of lower-case
    letters, digits and '-', each starting and ending with a letter or digit."""
    return re.fullmatch(rf"{_LABEL}(\.{_LABEL})*", name) is not None
