"""The rerun live view: mode resolution, and a headless .rrd with cameras, state, action and scores."""

from __future__ import annotations

from pathlib import Path

import pytest
from recorder_fakes import ScriptedSim

from sim_teleop.live_view import LiveView, resolve_mode
from sim_teleop.messages import QualityReport, Verdict


def test_mode_follows_display_and_rrd_path() -> None:
    assert resolve_mode("auto", None, display=":1") == "spawn"
    assert resolve_mode("auto", "x.rrd", display="") == "save"
    assert resolve_mode("auto", None, display="") == "off"
    with pytest.raises(ValueError, match="RECORD_RRD_PATH"):
        resolve_mode("save", None)
    with pytest.raises(ValueError, match="expected one of"):
        resolve_mode("window", None)


def test_headless_save_writes_an_rrd(tmp_path: Path) -> None:
    rrd = tmp_path / "live.rrd"
    logs: list[str] = []
    view = LiveView("save", str(rrd), log=logs.append)
    sim = ScriptedSim()
    for _ in range(3):
        view.frame(sim.tick(), recording=True, saved=0)
    view.quality(0, QualityReport(0, 0.7, Verdict.GOOD), saved_as=0)
    assert view.rr is not None, logs
    view.rr.disconnect()  # flush
    assert rrd.exists() and rrd.stat().st_size > 10_000  # two 128x128 images per frame went in
