import subprocess
import sys

from scenefarm_contract.renderer import TerminationMessage
from scenefarm_renderer.termination import cpu_seconds


def test_cpu_seconds_include_the_children_the_renderer_waited_for() -> None:
    before = cpu_seconds()
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True)
    assert cpu_seconds() > before


def test_cpu_seconds_travel_in_the_termination_message() -> None:
    text = TerminationMessage(exitClass=0, renderSeconds=2.0, cpuSeconds=3.5).to_json()
    message = TerminationMessage.from_json(text)
    assert message is not None and message.cpuSeconds == 3.5
