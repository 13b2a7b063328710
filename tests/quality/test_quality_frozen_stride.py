"""A stuck camera is found at every offline sampling stride 1-16, stuck from mid-episode or only late in
it, and live; a working camera whose frames barely change (a wrist camera sliding over plain floor) is not
called frozen. The camera meter is fed the frames the offline sampler picks (a keyframe about every
`stride` frames and one near the end; no frame after a keyframe at this scene's slow motion), with
decoder-like noise on every image."""

from __future__ import annotations

import numpy as np
import pytest

from sim_teleop.quality import QualityConfig
from sim_teleop.quality.metrics import CameraMeter, Travel
from sim_teleop.quality.offline import offline_config, tail_window

FRAMES = 64
STEP_M = 0.005  # TCP motion per frame, sideways
SIZE = 64


def scene(i: int) -> np.ndarray:
    """Grey checker tiles and a bright box that shift with the robot's motion (grey levels, float)."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    img = ((((xx + 2 * i) // 8 + yy // 8) % 2) * 70 + 50).astype(np.float32)
    x = (10 + i) % 40
    img[20:35, x : x + 12] = 220.0
    return img


def _pattern(first: int, count: int, stride: int) -> set[int]:
    """The reader's sampling of `count` frames from `first` (every frame a keyframe, as lerobot's
    2-frame GOP nearly is): a sample every `stride` (at least 2) frames and the second-to-last. The
    frame after a sample only comes where the TCP moved `frozen_motion` (25 mm offline) since it, never
    at this scene's 5 mm a frame (`offline.consecutive_pairs`)."""
    step = max(stride, 2)
    picked = set(range(0, count, step)) | {count - 2}
    return {first + i for i in picked if 0 <= i < count}


def sampled(stride: int) -> list[int]:
    """Frame numbers offline scoring decodes at `stride`: the whole episode, and its last part again."""
    picked = _pattern(0, FRAMES, stride)
    tail = tail_window(FRAMES, stride)
    if tail is not None:
        picked |= _pattern(tail[0], FRAMES - tail[0], tail[1])
    return sorted(picked)


def frozen_fraction(camera: str, stuck_from: int | None, frames: list[int], offline: bool) -> float:
    cfg = offline_config(QualityConfig()) if offline else QualityConfig()
    meter = CameraMeter(camera, cfg.thresholds)
    rng = np.random.default_rng(0)
    for i in frames:
        shown = i if stuck_from is None or i < stuck_from else stuck_from
        img = scene(shown)
        if offline:  # a decoded image: the encoder's rate control moves every pixel a little
            img = img + rng.normal(0.0, 0.4, img.shape).astype(np.float32)
        d = STEP_M * i
        meter.add(img, i, Travel(d, d, 0.0))
    return meter.raw()["frozen"]


def offline_half() -> float:
    return offline_config(QualityConfig()).half["frozen"]


@pytest.mark.parametrize("stride", range(1, 17))
@pytest.mark.parametrize("camera", ["front", "wrist"])
def test_stuck_camera_is_found_at_every_stride(stride: int, camera: str) -> None:
    frames = sampled(stride)
    for stuck_from in (FRAMES // 2, FRAMES - 16):  # from the middle; only the last quarter (8 cm)
        value = frozen_fraction(camera, stuck_from, frames, offline=True)
        assert value > offline_half(), (stride, stuck_from, value)
    assert frozen_fraction(camera, None, frames, offline=True) == 0.0


@pytest.mark.parametrize("stuck_from", [FRAMES // 2, FRAMES - 12])
def test_stuck_camera_is_found_live(stuck_from: int) -> None:
    value = frozen_fraction("wrist", stuck_from, list(range(FRAMES)), offline=False)
    assert value > QualityConfig().half["frozen"]
    assert frozen_fraction("wrist", None, list(range(FRAMES)), offline=False) == 0.0


def test_a_camera_sliding_over_plain_floor_is_not_frozen_live() -> None:
    """Rendered wrist frames 1 cm apart over plain floor differ by only 0.002-0.006 grey levels (measured);
    a stuck camera repeats its buffer exactly."""
    meter = CameraMeter("wrist", QualityConfig().thresholds)
    base = np.full((SIZE, SIZE), 52.0, np.float32)
    base[40:, 20:44] = 120.0  # the gripper's fingers, fixed in the view
    for i in range(30):
        d = 0.01 * i
        meter.add(base + np.float32(0.0025 * i), i, Travel(d, d, 0.0))
    assert meter.raw()["frozen"] == 0.0
