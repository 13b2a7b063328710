"""Camera metrics on generated frames: a textured scene scores clean; dark, over-exposed, blurred and frozen
versions of it score low on exactly the matching metric."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_images import box_blur

from sim_teleop.images import grey
from sim_teleop.quality import QualityConfig
from sim_teleop.quality.metrics import EpisodeAccumulator
from sim_teleop.quality.scorer import subscores_from_raw
from sim_teleop.quality.visual import image_stats

N = 30
VISUAL = ("dark", "overexposed", "blur", "frozen")


def scene(i: int) -> np.ndarray:
    """A 128x128 scene of mid brightness with edges (checker tiles + a bright square) that shifts by
    2 px per frame, as a camera watching a moving arm would see it."""
    yy, xx = np.mgrid[0:128, 0:128]
    tiles = (((xx + 2 * i) // 8 + yy // 8) % 2) * 60 + 45
    img = np.stack([tiles, tiles * 0.9, tiles * 0.8], axis=-1)
    img[40:70, (20 + 2 * i) % 100 : (20 + 2 * i) % 100 + 25] = [200, 180, 160]
    return img.clip(0, 255).astype(np.uint8)


def camera_scores(transform) -> dict[str, float]:
    cfg = QualityConfig(cameras=("cam",))
    acc = EpisodeAccumulator(cfg)
    for i in range(N):
        state = np.zeros(18, np.float32)
        state[15:18] = [0.3 + 0.01 * i, 0.0, 0.2]  # moving 1 cm per frame
        action = np.zeros(4, np.float32)
        action[:3] = state[15:18] - [0.3, 0.0, 0.2]
        acc.add_frame(state, action, images={"cam": transform(i, scene(i))})
    raw = acc.raw_metrics()
    subs = subscores_from_raw(raw, cfg, reference_s=N / cfg.fps)
    return {k: subs[f"cam.{k}"] for k in VISUAL}


def test_clean_camera_scores_high() -> None:
    scores = camera_scores(lambda i, img: img)
    assert min(scores.values()) > 0.9, scores


@pytest.mark.parametrize(
    ("family", "transform"),
    [
        ("dark", lambda i, img: (img * 0.25).astype(np.uint8)),
        ("overexposed", lambda i, img: np.clip(img.astype(np.float32) * 2.5 + 80, 0, 255).astype(np.uint8)),
        ("blur", lambda i, img: box_blur(img, 2)),
        ("frozen", lambda i, img: scene(5) if 5 <= i < 20 else img),
    ],
)
def test_each_camera_defect_is_caught_by_its_metric_only(family: str, transform) -> None:
    scores = camera_scores(transform)
    assert scores[family] < 0.5, (family, scores)
    for other in VISUAL:
        if other != family:
            assert scores[other] > 0.8, (family, other, scores)


def test_sharpness_ignores_brightness_and_drops_with_blur() -> None:
    img = scene(0)
    sharp = image_stats(grey(img)).sharpness
    assert image_stats(grey((img * 0.4).astype(np.uint8))).sharpness == pytest.approx(sharp, rel=0.15)
    assert image_stats(grey(box_blur(img, 1))).sharpness < 0.7 * sharp


def test_still_robot_is_not_a_frozen_camera() -> None:
    """Identical frames while the robot stands still are expected, not a defect."""
    cfg = QualityConfig(cameras=("cam",))
    acc = EpisodeAccumulator(cfg)
    for _ in range(N):
        acc.add_frame(np.zeros(18, np.float32), np.zeros(4, np.float32), images={"cam": scene(0)})
    assert acc.raw_metrics()["cam.frozen"] == 0.0


def _session(transforms: list, learn: bool) -> list:
    """One episode per transform, scored in order by one EpisodeScorer (the references carry over)."""
    from sim_teleop.quality.scorer import EpisodeScorer

    cfg = QualityConfig(cameras=("cam",), learn_camera_levels=learn, success_gate=False)
    scorer = EpisodeScorer(cfg)
    reports = []
    for ep, transform in enumerate(transforms):
        acc = scorer.new_episode()
        for i in range(N):
            state = np.zeros(18, np.float32)
            state[15:18] = [0.3 + 0.01 * i, 0.0, 0.2]
            action = np.zeros(4, np.float32)
            action[:3] = state[15:18] - [0.3, 0.0, 0.2]
            acc.add_frame(state, action, images={"cam": transform(i, scene(i))})
        reports.append(scorer.report(ep, acc))
    return reports


def test_learnt_levels_take_a_dim_scene_as_normal_and_find_what_departs_from_it() -> None:
    """Another layout's camera (offline): its usual brightness and sharpness come from the session, so a
    dim scene is not `dark` there; a blurred or darker episode after clean ones still is."""

    def dim(i: int, img: np.ndarray) -> np.ndarray:
        return (img * 0.3).astype(np.uint8)

    calibrated = _session([dim], learn=False)
    assert calibrated[0].subscores["cam.dark"] < 0.5  # against this project's renders: dark
    reports = _session(
        [
            dim,
            dim,
            dim,
            lambda i, img: box_blur(dim(i, img), 2),
            lambda i, img: (dim(i, img) * 0.4).astype(np.uint8),
            dim,
        ],
        learn=True,
    )
    assert [r.reasons for r in reports] == [[], [], [], ["blur"], ["dark"], []], [
        r.subscores for r in reports
    ]
    # The defective episodes did not teach the camera's usual levels.
    assert reports[5].metrics["cam.reference_brightness"] == pytest.approx(
        reports[2].metrics["cam.reference_brightness"], rel=0.02
    )
