"""One real render of a generated template scene through the renderer's command line."""

import os
import subprocess
import sys

from scenefarm_contract.renderer import (
    TERMINATION_LOG_ENV,
    ExitClass,
    TerminationMessage,
    render_argv,
    scene_key,
)
from scenefarm_operator.planning.template import plan_scenes


def test_a_template_scene_with_hostile_text_renders_to_a_verified_mp4(tmp_path):
    spec = {
        "topic": 'Newton\'s "laws" \\ __init__ 😀 save',
        "description": "One short point.",
        "planner": {"maxScenes": 1},
    }
    (title,) = plan_scenes(spec)
    code = tmp_path / "title.py"
    code.write_text(title.code)
    log = tmp_path / "termination-log"
    argv = render_argv(
        code_path=str(code),
        class_name=title.class_name,
        quality="low",
        scene_index=0,
        prefix="default/newton-0123abcd",
        store="volume",
        store_root=str(tmp_path / "store"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "scenefarm_renderer", *argv],
        env={**os.environ, TERMINATION_LOG_ENV: str(log)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,  # the exit class is asserted below, with the termination message
    )
    message = TerminationMessage.from_json(log.read_text())
    assert message is not None, done.stderr
    assert (done.returncode, message.exitClass) == (ExitClass.OK, ExitClass.OK), message.errorTail
    assert (tmp_path / "store" / "default/newton-0123abcd" / scene_key(0)).stat().st_size == message.sizeBytes
    assert message.durationSeconds is not None and message.durationSeconds > 3
    assert (message.width, message.height) == (854, 480)
