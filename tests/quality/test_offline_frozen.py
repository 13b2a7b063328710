"""A camera stuck from mid-episode is found offline, from sparsely decoded keyframes of AV1 video,
without a false alarm on a moving clean episode or on a robot standing still."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim_teleop.dataset.features import (
    ACTION_KEY,
    DONE_KEY,
    REWARD_KEY,
    STATE_KEY,
    SUCCESS_KEY,
    build_features,
    camera_key,
)
from sim_teleop.dataset.reader import read_info
from sim_teleop.dataset.store import EpisodeWriter, VideoSettings
from sim_teleop.messages import CAMERAS, STATE_DIM
from sim_teleop.quality import EpisodeScorer, QualityConfig
from sim_teleop.quality.metrics import CameraMeter, Travel
from sim_teleop.quality.offline import offline_config, score_dataset

FRAMES = 64
SIZE = 128


def scene(i: int, camera: str) -> np.ndarray:
    """Checker tiles and a red box that move with the robot, different per camera."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    shift = 3 * i if camera == "front" else -2 * i
    tiles = (((xx + shift) // 8 + yy // 8) % 2) * 70 + 50
    img = np.stack([tiles, tiles * 0.9, tiles * 0.8], axis=-1)
    x = (20 + 2 * i) % 90
    img[40:70, x : x + 25] = [220, 30, 40]
    return img.clip(0, 255).astype(np.uint8)


def episode(kind: str) -> list[dict[str, Any]]:
    """`moving` (TCP 5 mm a frame), `stuck` (the same, front camera stuck from the middle) or `static`."""
    rows = []
    for i in range(FRAMES):
        t = 0 if kind == "static" else i
        state = np.zeros(STATE_DIM, np.float32)
        state[15:18] = [0.3 + 0.005 * t, 0.0, 0.25]
        row: dict[str, Any] = {
            ACTION_KEY: np.array([0.005 * (t + 1), 0.0, 0.0, 0.0], np.float32),
            STATE_KEY: state,
            REWARD_KEY: np.array([float(i == FRAMES - 1)], np.float32),
            SUCCESS_KEY: np.array([i == FRAMES - 1]),
            DONE_KEY: np.array([i == FRAMES - 1]),
            "task": "Pick up the cube.",
        }
        for cam in CAMERAS:
            frozen = kind == "stuck" and cam == "front" and i >= FRAMES // 2
            row[camera_key(cam)] = scene(FRAMES // 2 if frozen else t, cam)
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("frozen") / "ds"
    writer = EpisodeWriter(
        "test/frozen", root, 10, build_features(), "Pick up the cube.", VideoSettings(), create=True
    )
    for kind in ("moving", "stuck", "static"):
        for row in episode(kind):
            writer.add(row)
        writer.commit()
    writer.close()
    return root


def _reports(root: Path, config: QualityConfig) -> list:
    return score_dataset(root, EpisodeScorer(offline_config(config, read_info(root))))


def test_a_camera_stuck_from_mid_episode_is_frozen_offline(dataset: Path) -> None:
    moving, stuck, static = _reports(dataset, QualityConfig())
    assert "frozen" not in moving.reasons and moving.subscores["front.frozen"] == 1.0
    assert "frozen" in stuck.reasons and stuck.subscores["front.frozen"] < 0.5
    assert stuck.subscores["wrist.frozen"] == 1.0
    assert "frozen" not in static.reasons  # standing still: the same images are right


def test_consecutive_frames_alone_would_miss_it(dataset: Path) -> None:
    """Without the keyframe-to-keyframe pairs (the rule before): 5 mm a frame is below the 25 mm that
    compressed consecutive frames need, so the stuck camera went unnoticed offline."""
    cfg = QualityConfig()
    near_only = replace(cfg, thresholds={**cfg.thresholds, "frozen_far_motion": float("inf")})
    _moving, stuck, _static = _reports(dataset, near_only)
    assert "frozen" not in stuck.reasons


def _wrist_frozen(moves: list[tuple[float, float]], stuck_from: int, change: float) -> float:
    """The wrist meter's frozen fraction over keyframe pairs 4 frames apart (the default stride): each
    step moves the TCP (sideways, down) m; a clean view changes by `change` grey levels a step, a stuck
    one repeats with decoder noise (0.3 grey levels)."""
    meter = CameraMeter("wrist", offline_config(QualityConfig()).thresholds)
    rng = np.random.default_rng(0)
    base = rng.uniform(40, 200, (SIZE, SIZE)).astype(np.float32)
    path = lateral = down = 0.0
    for k, (side, fall) in enumerate(moves):
        path, lateral, down = path + math.hypot(side, fall), lateral + side, down + fall
        shown = min(k, stuck_from)
        img = base + change * shown + rng.uniform(-0.3, 0.3, base.shape).astype(np.float32)
        meter.add(np.repeat(img[..., None], 3, axis=-1), 4 * k, Travel(path, lateral, max(down, 0.0)))
    return meter.raw()["frozen"]


def test_a_wrist_camera_stuck_while_descending_is_frozen() -> None:
    """Straight down 1 cm a keyframe: no sideways motion, and no two consecutive keyframes 5 cm apart -
    but moving towards the scene changes a gripper camera's view, and each keyframe is compared with the
    latest one the view moved far enough since."""
    descent = [(0.0, 0.01)] * 10
    assert _wrist_frozen(descent, stuck_from=len(descent), change=2.0) == 0.0
    assert _wrist_frozen(descent, stuck_from=3, change=2.0) > 0.3


def test_a_wrist_camera_lifting_may_barely_change() -> None:
    """A lift with the cube in hand changes the wrist view by a fraction of a grey level: not frozen."""
    lift = [(0.0, -0.02)] * 8
    assert _wrist_frozen(lift, stuck_from=len(lift), change=0.1) == 0.0


def _wrist_at(xs: list[float], image_of: Callable[[int], int], carrying: bool = False) -> float:
    """The wrist meter's frozen fraction over keyframes 4 frames apart with the TCP at x = `xs[k]` (m);
    keyframe k shows view number `image_of(k)` (the same number: the same image, with decoder noise)."""
    meter = CameraMeter("wrist", offline_config(QualityConfig()).thresholds)
    rng = np.random.default_rng(0)
    views = [rng.uniform(40, 200, (SIZE, SIZE)).astype(np.float32) for _ in range(len(xs))]
    path, prev = 0.0, xs[0]
    for k, x in enumerate(xs):
        path, prev = path + abs(x - prev), x
        img = views[image_of(k)] + rng.uniform(-0.3, 0.3, (SIZE, SIZE)).astype(np.float32)
        travel = Travel(path, path, 0.0, np.array([x, 0.0, 0.1]))
        meter.add(np.repeat(img[..., None], 3, axis=-1), 4 * k, travel, carrying)
    return meter.raw()["frozen"]


def test_a_view_back_where_it_was_may_look_the_same_but_a_view_held_while_moving_may_not() -> None:
    """3 cm out and back, again and again (overshoots corrected by taps): 6 cm of path between two visits
    of one place, but the camera is back where it was and sees what it saw - no stuck camera (a
    path-based rule flagged 3 of 24 human keyboard episodes so). The same image held while the TCP goes
    6 cm away is one."""
    out_and_back = [0.3, 0.33, 0.3, 0.33, 0.3, 0.33, 0.3]
    by_place = {x: i for i, x in enumerate(sorted(set(out_and_back)))}
    assert _wrist_at(out_and_back, lambda k: by_place[out_and_back[k]]) == 0.0
    away = [0.3, 0.32, 0.34, 0.36, 0.38, 0.40, 0.42]
    assert _wrist_at(away, lambda k: min(k, 2)) > 0.3


def test_a_gripper_camera_carrying_the_cube_is_not_judged_by_far_pairs() -> None:
    """With the cube in hand it fills the wrist view: 5 cm sideways changes it by less than a stuck
    image decodes (two failed policy rollouts were `frozen` so), so those pairs are not compared."""
    away = [0.3, 0.32, 0.34, 0.36, 0.38, 0.40, 0.42]
    assert _wrist_at(away, lambda k: 0, carrying=True) == 0.0
    assert _wrist_at(away, lambda k: 0, carrying=False) > 0.3
