"""Offline, the rows the recorder's sidecar names as served after skipped ticks count in no pace window,
as live: a keyboard's 0.1 m/s stays its cruise through a stretch of 20 mm rows."""

from __future__ import annotations

import numpy as np
import pytest

from sim_teleop.dataset.reader import EpisodeData
from sim_teleop.quality import QualityConfig
from sim_teleop.quality.offline import score_frames
from sim_teleop.quality.scorer import EpisodeScorer


def _keyboard_rows() -> tuple[EpisodeData, set[int]]:
    """Along x at 10 mm a row, then 12 rows of 20 mm (every other tick served), then 10 mm again."""
    steps = [0.01] * 12 + [0.02] * 12 + [0.01] * 12
    x = 0.25 + np.concatenate([[0.0], np.cumsum(steps)])
    state = np.zeros((len(x), 18), np.float32)
    state[:, 15], state[:, 17] = x, 0.2
    action = np.zeros((len(x), 4), np.float32)
    action[:, 0] = x - 0.25
    stalled = {i + 1 for i, s in enumerate(steps) if s > 0.015}
    return EpisodeData(0, state, action, success=True), stalled


def test_sidecar_stalls_keep_the_pace_offline() -> None:
    ep, stalled = _keyboard_rows()
    scorer = EpisodeScorer(QualityConfig(reference_duration_s=4.0))
    plain = score_frames(ep, {}, scorer, 10.0).metrics
    known = score_frames(ep, {}, scorer, 10.0, stalled).metrics
    assert plain["cruise_speed"] > 0.15 and plain["crawl_fraction"] > 0.08  # without the sidecar's word
    assert known["cruise_speed"] == pytest.approx(0.1, abs=0.005) and known["crawl_fraction"] == 0.0
