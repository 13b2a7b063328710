"""User errors end in one line and a non-zero exit, never a traceback or a misleading hint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, load_node
from dora.testing import MockNode

from sim_teleop.config import ConfigError
from sim_teleop.sim.env import ARRANGE_BOXES, SUPPORTED_ENVS
from sim_teleop.sim.runner import SimConfig


def test_an_unsupported_sim_env_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked by the config, before MuJoCo or gym start."""
    monkeypatch.setenv("SIM_ENV", "gym_hil/Nope-v0")
    with pytest.raises(ConfigError) as exc:
        SimConfig.from_env()
    assert "'gym_hil/Nope-v0'" in str(exc.value)
    assert all(env in str(exc.value) for env in SUPPORTED_ENVS)
    monkeypatch.setenv("SIM_ENV", ARRANGE_BOXES)
    assert SimConfig.from_env().env_id == ARRANGE_BOXES  # names keep their case


def test_the_sim_node_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIM_ENV", "gym_hil/Nope-v0")
    with pytest.raises(SystemExit) as exc:
        load_node("sim").main(MockNode([]))
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "configuration error" in err and "gym_hil/Nope-v0" in err, err


@pytest.mark.dataflow  # starts a Python subprocess
@pytest.mark.parametrize("kind", ["missing", "file"])
def test_repair_of_a_root_that_is_no_directory(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "ds"
    if kind == "file":
        root.write_text("")
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "repair_dataset.py"), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert ("does not exist" if kind == "missing" else "is not a directory") in lines[0]
    assert "free some space" not in lines[0]
    assert root.exists() == (kind == "file")  # nothing created
