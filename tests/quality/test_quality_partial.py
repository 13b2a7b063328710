"""Partial-view camera metric: a smudge, occlusion or glare over one quarter of the image is flagged as
`partial_view`; the clean scene and whole-frame exposure changes are not."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
from test_quality_visual import N, scene

from sim_teleop.control import defects as D
from sim_teleop.images import grey
from sim_teleop.messages import QualityReport, Verdict
from sim_teleop.quality import QualityConfig
from sim_teleop.quality.calibration import CELL_RANGE
from sim_teleop.quality.metrics import EpisodeAccumulator
from sim_teleop.quality.scorer import EpisodeScorer
from sim_teleop.quality.visual import cell_stats

Transform = Callable[[int, np.ndarray], np.ndarray]


@pytest.fixture
def calibrated() -> Iterator[None]:
    """Calibrate camera "cam" as `CELL_RANGE` was: the clean range of each cell over clean frames."""
    stats = [cell_stats(grey(scene(i))) for i in range(N)]
    luma = np.array([s[0] for s in stats])
    contrast = np.array([s[1] for s in stats])
    CELL_RANGE["cam"] = (luma.min(0).tolist(), luma.max(0).tolist(), contrast.min(0).tolist())
    yield
    del CELL_RANGE["cam"]


def _report(transform: Transform) -> QualityReport:
    cfg = QualityConfig(cameras=("cam",))
    scorer = EpisodeScorer(cfg)
    acc = EpisodeAccumulator(cfg)
    for i in range(N):
        state = np.zeros(18, np.float32)
        state[15:18] = [0.3 + 0.01 * i, 0.0, 0.2]
        action = np.zeros(4, np.float32)
        action[:3] = state[15:18] - [0.3, 0.0, 0.2]
        acc.add_frame(state, action, success=True, images={"cam": transform(i, scene(i))})
    return scorer.report(0, acc, success=True)


@pytest.mark.usefixtures("calibrated")
def test_clean_scene_has_no_partial_view() -> None:
    report = _report(lambda i, img: img)
    assert report.metrics["cam.partial_view"] == 0.0
    assert report.subscores["cam.partial_view"] == 1.0 and "partial_view" not in report.reasons


@pytest.mark.usefixtures("calibrated")
@pytest.mark.parametrize("family", D.PARTIAL_FAMILIES)
@pytest.mark.parametrize("corner", range(4))
def test_quarter_defect_is_flagged_as_partial_view(family: str, corner: int) -> None:
    inject = D.PARTIAL[family]
    report = _report(lambda i, img: inject(img, 0.3, corner))
    assert report.metrics["cam.partial_view"] > 0.5
    assert "partial_view" in report.reasons and report.verdict is Verdict.BAD
    assert report.subscores["cam.partial_view"] < 0.1


@pytest.mark.usefixtures("calibrated")
def test_whole_frame_darkening_is_not_a_partial_view() -> None:
    """A gain on the whole frame moves every cell alike: the dark metric's job, not this one's."""
    report = _report(lambda i, img: D.darken(img, 0.0))
    assert report.metrics["cam.partial_view"] == 0.0


def test_uncalibrated_camera_has_no_partial_view_metric() -> None:
    report = _report(lambda i, img: D.occlude(img, 1.0, 0))
    assert "cam.partial_view" not in report.metrics and "cam.partial_view" not in report.subscores
