"""The dev kit's data files, found the same way in a checkout and in an installed package.

`data/` holds links to the repository's single sources (the CRD, the examples, the chart);
building a wheel copies what they point at, so an install outside the checkout has them too.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

CRD_FILE = "scenefarm.dev_videorequests.yaml"


def _data_path(*parts: str) -> Path:
    with as_file(files("scenefarm_devkit").joinpath("data", *parts)) as path:
        return Path(path)  # a real directory for every installed form this project supports


def crd_path() -> Path:
    """The VideoRequest CRD (the repository's `crds/` copy)."""
    return _data_path("crds", CRD_FILE)


def example_path(name: str = "template-planner.yaml") -> Path:
    """One of the shipped example VideoRequests."""
    return _data_path("examples", name)


def chart_path() -> Path:
    """The Helm chart `charts/scenefarm`."""
    return _data_path("chart")
