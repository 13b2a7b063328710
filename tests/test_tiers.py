"""The fast tier starts no dataflow: an unmarked test that runs dora, a script or Python fails at once."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import heavy_command


def test_heavy_commands_are_recognised() -> None:
    assert heavy_command(["dora", "run", "x.yaml"]) == "dora"
    assert heavy_command([sys.executable, "scripts/delete_episodes.py"]) is not None
    assert heavy_command("strace") == "strace"
    assert heavy_command([sys.executable, "-m", "sim_teleop.launch.console", "x.yaml"]) is not None
    assert heavy_command([sys.executable, "-c", "print(1)"]) is None  # a library's probe (glfw does one)
    assert heavy_command(["Xvfb", ":99"]) is None  # a display is a fixture, not a dataflow
    assert heavy_command(["xdotool", "key", "space"]) is None


def test_an_unmarked_test_cannot_start_a_python_module() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"mark it pytest\.mark\.dataflow"):
        subprocess.run([sys.executable, "-m", "json.tool", "--help"], check=False)


@pytest.mark.dataflow
def test_a_marked_test_may() -> None:
    assert subprocess.run([sys.executable, "-c", "pass"], check=False).returncode == 0
