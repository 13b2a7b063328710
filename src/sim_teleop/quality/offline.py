"""Score an existing LeRobotDataset v3.0 on disk with the same accumulators as the live scorer node.

`dataset.reader.DatasetReader` gives each episode's numeric columns and a sparse sample of its video
frames as grey levels (a keyframe at about every `stride` frames plus the frame after it). Cube pose and
contact force are not in a dataset: those metrics fall back to what the state tells (e.g. `drop` from a
gripper that re-opened while lifted). A dataset of another layout scores on the signals its feature
names show (`layout`); the metrics needing the others are left out of its score.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from sim_teleop.config import ConfigError
from sim_teleop.dataset.features import (
    ACTION_KEY,
    IMAGE_PREFIX,
    STATE_KEY,
    action_names,
    camera_names,
    feature_dim,
    has_success,
    state_names,
)
from sim_teleop.dataset.reader import DatasetReader, EpisodeData, Pairing
from sim_teleop.dataset.sidecar import STALLED_KEY, EpisodeSidecar
from sim_teleop.messages import GRIPPER_COMMAND_MAX, LEGACY_STATE_GRIPPER, QualityReport
from sim_teleop.quality.config import QualityConfig
from sim_teleop.quality.families.camera import FROZEN
from sim_teleop.quality.joints import ranges
from sim_teleop.quality.layout import infer_layout, is_own_layout, layout_problems
from sim_teleop.quality.scorer import EpisodeScorer

OFFLINE_FROZEN_MOTION = 0.025
"""m of TCP motion between two decoded frames before identical images count as a frozen camera.

Live, the scorer sees the rendered frames and 6 mm of motion always changes the image. Decoded video
is compressed (AV1, CRF 30): the encoder repeats near-static wrist frames exactly, which flagged 14 of
99 clean demonstrations as frozen at 6 mm and none at 25 mm."""
OFFLINE_FROZEN_HALF = 0.05
"""Offline `frozen` bad boundary (live: 0.10). Of the sampled pairs only those inside a stuck stretch
can show it - one or two of ~10 in a camera stuck for the last half of a pick (front: 0.1-0.4) - and a
clean recording has none (0 of 593 recorded episodes)."""

OFFLINE_FAR_MOTION = 0.05
"""m of view motion between two decoded images further apart before they must differ (live: 12 mm)."""
OFFLINE_FAR_DIFF = 1.0
"""Grey levels below which two decoded images further apart are the same stuck image: one image decodes
0-0.9 apart from one keyframe to the next (the encoder's rate control), a view moved 5 cm much more."""

OFFLINE_FAR_TEXTURE = 1.5
"""Mean |gradient| (grey levels per pixel, vertical + horizontal) an earlier decoded image needs before a
later one must differ from it: a wrist camera over plain floor (only its fixed fingers in view) decodes
at 1.00-1.39 and 5 cm further on 0.03-0.7 grey levels apart, as a stuck one does - 7 of 14 clean keyboard
episodes (human driver, 2026-12-06) were `frozen` so at no texture floor, 3 of 24 (2026-12-07) at 1.3;
with the cube in view (the descent) the wrist image is at 2.2 or more."""

DEFAULT_STRIDE = 4
"""Frames between sampled keyframes. A camera stuck from the middle of a ~50-frame pick shows only in
keyframes inside the short descent that follows: at 16, 0 of 16 stuck wrist cameras were found; at 8,
88-94 %; at 4, all (1.7x the time of 16: ~50 ms per episode of ~55 frames and two 128x128 videos)."""


TAIL_FRACTION = 0.25
"""The last part of an episode sampled again at half the stride: a camera stuck only there shows in two
samples the view moved `frozen_far_motion` between (at stride 9, 5 cm of a 7.5 cm late freeze fell
between samples)."""


def tail_window(num_frames: int, stride: int) -> tuple[int, int] | None:
    """(first frame, stride) of the extra sampling of an episode's last part; None where the stride is
    already dense (<= 4)."""
    if stride <= 4:
        return None
    start = num_frames - max(2, round(num_frames * TAIL_FRACTION))
    return (start, max(2, stride // 2)) if start > 0 else None


def offline_config(cfg: QualityConfig, info: dict[str, Any] | None = None) -> QualityConfig:
    """The live config, adapted to frames decoded from compressed video and to the dataset's `info`:
    its layout (inferred from its feature names unless the config gives one; a dataset recorded before
    the gripper became 0..1 stores it in 0..255), its cameras, and no success gate without a success
    column. Raises ConfigError when the layout does not fit the dataset's vectors."""
    thresholds = dict(cfg.thresholds)
    thresholds["frozen_motion"] = max(thresholds["frozen_motion"], OFFLINE_FROZEN_MOTION)
    thresholds["frozen_far_diff"] = max(thresholds["frozen_far_diff"], OFFLINE_FAR_DIFF)
    thresholds["frozen_far_motion"] = max(thresholds["frozen_far_motion"], OFFLINE_FAR_MOTION)
    thresholds["frozen_far_texture"] = max(thresholds["frozen_far_texture"], OFFLINE_FAR_TEXTURE)
    half = {**cfg.half, FROZEN.name: min(cfg.half[FROZEN.name], OFFLINE_FROZEN_HALF)}
    cfg = replace(cfg, thresholds=thresholds, half=half)
    if info is None:
        return cfg
    layout = (
        cfg.layout if cfg.layout_given else infer_layout(state_names(info), action_names(info), cfg.layout)
    )
    if not is_own_layout(state_names(info), action_names(info)):
        # Another robot, another task, other cameras: its own pace, its cameras' own brightness and
        # sharpness (a dim or smooth scene is not a defect there).
        cfg = replace(cfg, reference_duration_s=0.0, learn_camera_levels=True)
        layout = replace(layout, joint_pos=None, joint_vel=None)  # gym-hil's joint dynamics do not apply
        if layout.tcp is None and not cfg.layout_given:
            layout = replace(layout, joint_ranges=True)
    problems = layout_problems(layout, feature_dim(info, STATE_KEY), feature_dim(info, ACTION_KEY))
    if problems:
        raise ConfigError("quality layout: " + "; ".join(problems))
    names = state_names(info)
    index = layout.state_gripper
    if index is not None and index < len(names) and names[index] == LEGACY_STATE_GRIPPER:
        layout = replace(layout, state_gripper_max=GRIPPER_COMMAND_MAX)
    cams = camera_names(info)
    # The config's order first: this project's datasets score exactly as the live node does.
    cameras = (*(c for c in cfg.cameras if c in cams), *(c for c in cams if c not in cfg.cameras))
    return replace(cfg, layout=layout, cameras=cameras, success_gate=cfg.success_gate and has_success(info))


def consecutive_pairs(ep: EpisodeData, cfg: QualityConfig) -> Callable[[int], bool]:
    """The sampled keyframes whose next frame the frozen check compares them with: those the TCP moved
    more than `frozen_motion` from (`CameraMeter._frozen`). Decoding the next frame of the others would
    only add one more image to the per-image means: at the offline 25 mm none of the frames of an expert
    recorded at 10 fps (at most 23 mm a frame), and leaving them out halves the decoding and the image
    metrics. A layout without a TCP compares only images further apart."""
    tcp = cfg.layout.tcp
    if tcp is None or len(ep.state) < 2:
        return lambda _: False
    p = ep.state[:, list(tcp)].astype(np.float64)
    d = np.diff(p, axis=0)
    steps = np.sqrt(np.einsum("ij,ij->i", d, d))
    moving = frozenset(np.flatnonzero(steps > cfg.thresholds["frozen_motion"]).tolist())
    return moving.__contains__


def sample_images(
    reader: DatasetReader, i: int, n: int, stride: int, pair: Pairing = None
) -> dict[int, dict[str, np.ndarray]]:
    """Frame offset -> camera -> grey image of the frames sampled from episode `i`'s videos (`n` frames):
    a keyframe at about every `stride` frames and the frame after each (each `pair` accepts, when given),
    the last part again denser."""
    images: dict[int, dict[str, np.ndarray]] = {}
    tail = tail_window(n, stride)
    start, tail_stride = tail or (n, 0)
    tail_pair = None if pair is None else (lambda k: pair(start + k))
    for key in reader.video_keys:
        cam = key.removeprefix(IMAGE_PREFIX)
        video, t0 = reader.video(i, key)
        for idx, img in video.sample(t0, reader.fps, n, stride, pair=pair):
            images.setdefault(idx, {})[cam] = img
        if tail is not None:
            t_start = t0 + start / reader.fps
            for idx, img in video.sample(t_start, reader.fps, n - start, tail_stride, pair=tail_pair):
                images.setdefault(start + idx, {}).setdefault(cam, img)
    return images


def score_episode(
    reader: DatasetReader,
    i: int,
    scorer: EpisodeScorer,
    stride: int = DEFAULT_STRIDE,
    cameras: bool = True,
    sidecar: EpisodeSidecar | None = None,
) -> QualityReport:
    """Score episode `i`; `sidecar`: the dataset's records, loaded once for a loop over its episodes."""
    ep = reader.episode(i)
    images = (
        sample_images(reader, i, len(ep.state), stride, consecutive_pairs(ep, scorer.config))
        if cameras
        else {}
    )
    record = (sidecar or EpisodeSidecar(reader.root)).get(i) or {}
    stalled = frozenset(int(row) for row in record.get(STALLED_KEY, ()))
    return score_frames(ep, images, scorer, reader.fps, stalled)


def score_frames(
    ep: EpisodeData,
    images: Mapping[int, Mapping[str, np.ndarray]],
    scorer: EpisodeScorer,
    fps: float,
    stalled: Collection[int] = (),
) -> QualityReport:
    """Score one episode's rows and its sampled images (`sample_images`); `stalled`: the rows the sim
    served after skipping ticks, as the recorder's sidecar says (`STALLED_KEY`)."""
    n = len(ep.state)
    acc = scorer.new_episode()
    layout = scorer.config.layout
    if layout.joint_ranges and layout.tcp is None:
        acc.measure_joints(ranges(ep.state, layout.state_gripper), ranges(ep.action, layout.action_gripper))
    numbers = ep.frame_numbers(fps)  # a hole in the timestamps is a gap
    for t in range(n):
        acc.add_frame(
            ep.state[t],
            ep.action[t],
            success=False,
            images=images.get(t),
            frame=int(numbers[t]),
            stalled=t in stalled,
        )
    return scorer.report(ep.index, acc, success=ep.success)


def score_dataset(
    root: str | Path, scorer: EpisodeScorer, stride: int = DEFAULT_STRIDE, cameras: bool = True
) -> list[QualityReport]:
    with DatasetReader(root) as reader:
        sidecar = EpisodeSidecar(reader.root)
        return [score_episode(reader, i, scorer, stride, cameras, sidecar) for i in range(len(reader))]
