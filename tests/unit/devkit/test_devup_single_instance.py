"""`scenefarm dev up` refuses a second instance on one state directory, naming the first one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scenefarm_devkit.devup import single_instance


def test_a_second_dev_up_on_the_same_state_directory_is_refused_with_the_first_ones_pid(
    tmp_path: Path,
) -> None:
    with single_instance(tmp_path), pytest.raises(SystemExit) as refused, single_instance(tmp_path):
        pass
    message = str(refused.value)
    assert f"(PID {os.getpid()})" in message
    assert str(tmp_path.resolve() / "kubeconfig") in message
    with single_instance(tmp_path):  # the first one is gone: the directory is free again
        pass


def test_another_state_directory_is_independent(tmp_path: Path) -> None:
    with single_instance(tmp_path / "a"), single_instance(tmp_path / "b"):
        pass
