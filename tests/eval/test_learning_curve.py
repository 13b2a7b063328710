"""Numbers behind the learning-curve plot: checkpoint times from the training log, CIs, checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim_teleop.eval.learning_curve import CurvePoint, checkpoint_minutes, plot_curve, step_checkpoints
from sim_teleop.eval.summary import wilson_interval

LOG = """\
INFO 2026-12-01 02:40:00 ot_train.py:272 {'batch_size': 8,
 'steps': 3000}
INFO 2026-12-01 02:40:20 ot_train.py:420 Creating dataset
INFO 2026-12-01 02:49:30 ot_train.py:687 Checkpoint policy after step 1000
INFO 2026-12-01 02:49:31 ot_train.py:600 step:1K smpl:8K ep:160 epch:0.80 loss:0.310
INFO 2026-12-01 03:10:00 ot_train.py:687 Checkpoint policy after step 3000
"""


def test_checkpoint_minutes_count_from_the_first_stamp() -> None:
    assert checkpoint_minutes(LOG) == {1000: pytest.approx(9.5), 3000: pytest.approx(30.0)}
    assert checkpoint_minutes("no stamps here\n") == {}


def test_points_report_rate_and_wilson_interval() -> None:
    point = CurvePoint(step=1000, minutes=9.5, successes=41, episodes=50)
    assert point.rate == pytest.approx(0.82)
    assert point.ci95 == wilson_interval(41, 50)
    lo, hi = point.ci95
    assert 0.68 < lo < 0.82 < hi < 0.91
    d = point.as_dict()
    assert d["success_rate"] == pytest.approx(0.82) and d["ci95"] == [lo, hi] and d["step"] == 1000


def test_step_checkpoints_finds_numbered_complete_checkpoints(tmp_path: Path) -> None:
    for name, complete in (("000500", True), ("001000", True), ("001500", False), ("last", True)):
        model = tmp_path / "checkpoints" / name / "pretrained_model"
        model.mkdir(parents=True)
        if complete:
            (model / "model.safetensors").write_bytes(b"x")
    found = step_checkpoints(tmp_path)
    assert list(found) == [500, 1000]
    assert found[1000] == tmp_path / "checkpoints" / "001000" / "pretrained_model"
    with pytest.raises(FileNotFoundError, match="checkpoints"):
        step_checkpoints(tmp_path / "nothing")


def test_plot_is_written(tmp_path: Path) -> None:
    points = [CurvePoint(500, 5.0, 10, 50), CurvePoint(1000, 10.0, 30, 50)]
    out = plot_curve(points, tmp_path / "media" / "curve.png", "test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
