"""End to end: keyboard demonstrations with a person's timing, through the real X path, are judged good
live; a deliberate 3 s hesitation is not. `scripts/human_driver.py` runs `dataflow-record.yaml` on an
Xvfb display and presses keys with xdotool: reaction delays, a look before descending, one arrow at a
time or two together; the scorer's verdicts are read from the recorder's sidecar."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import human_driver

pytestmark = pytest.mark.dataflow


def test_human_timed_keyboard_episodes_pass_and_a_hesitation_fails(tmp_path: Path, xvfb: str) -> None:
    rows = human_driver.record(tmp_path / "human", ["careful", "hesitate", "diagonal"], seed=5, display=xvfb)
    by_style = {r["style"]: r for r in rows}
    assert all(r["success"] for r in rows), rows
    for clean in ("careful", "diagonal"):
        assert by_style[clean]["verdict"] == "good", rows
    assert by_style["hesitate"]["verdict"] == "bad" and "idle" in by_style["hesitate"]["reasons"], rows
