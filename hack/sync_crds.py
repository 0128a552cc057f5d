#!/usr/bin/env python3
"""Copy the VideoRequest CRD (crds/, the single source) into the chart (charts/scenefarm/crds/).

    python hack/sync_crds.py          # write the chart's copy (make crds-sync)
    python hack/sync_crds.py --check  # exit 1 if the copy drifted (tests and CI)

The copy is byte-identical: Helm installs files from crds/ verbatim, so any difference would be a
difference in the cluster.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = (REPO / "crds" / "scenefarm.dev_videorequests.yaml",)
CHART_CRDS = REPO / "charts" / "scenefarm" / "crds"


def drifted() -> list[Path]:
    """Chart copies that are missing or differ from their source."""
    return [
        CHART_CRDS / src.name
        for src in SOURCES
        if not (CHART_CRDS / src.name).is_file() or (CHART_CRDS / src.name).read_bytes() != src.read_bytes()
    ]


def sync() -> list[Path]:
    written = []
    for target in drifted():
        source = next(src for src in SOURCES if src.name == target.name)
        fd, tmp = tempfile.mkstemp(dir=CHART_CRDS, prefix=f".{target.name}.")
        with os.fdopen(fd, "wb") as out:
            out.write(source.read_bytes())
        os.replace(tmp, target)
        written.append(target)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="report drift instead of fixing it")
    args = parser.parse_args()
    if args.check:
        stale = drifted()
        for path in stale:
            print(f"{path.relative_to(REPO)} differs from crds/; run `make crds-sync`", file=sys.stderr)
        return 1 if stale else 0
    for path in sync():
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
