"""Derive a training dataset with smaller camera images from a recorded LeRobotDataset v3.0.

Why: a training step on two 64x64 images is 2.6x cheaper than on 128x128 and lifted the CPU recipe's
success (README, Training), while recording stays at 128x128 for the scorer and for people. Every
episode, frame, action, state and flag is copied unchanged; each camera stream is decoded, resized by
area averaging (`sim_teleop.images.resize_image`, the same function the policy node applies to the
sim's images at eval) and re-encoded with the recorder's codec settings. The output is a standard v3.0
dataset whose image features say the new shape, so a checkpoint trained on it tells the eval which size
to feed. The sidecar (quality reports, annotations) is copied.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.features import ACTION_KEY, INTERVENTION_KEY
from sim_teleop.dataset.pauses import correction_frames, moving_frames
from sim_teleop.dataset.sidecar import SIDECAR_RELPATH
from sim_teleop.dataset.store import ENCODER_QUEUE_FRAMES, VideoSettings
from sim_teleop.images import resize_image


def resized_features(features: dict[str, Any], video_keys: list[str], size: int) -> dict[str, Any]:
    """The features with each camera at size x size; refuses to upscale."""
    for key in video_keys:
        shape = features[key]["shape"]
        if size > min(shape[0], shape[1]):
            raise DatasetError(f"{key} is {shape[0]}x{shape[1]}: will not upscale to {size}x{size}")
        features[key] = {"dtype": "video", "shape": (size, size, 3), "names": ["height", "width", "channels"]}
    return features


def decode_episode(src: Any, ep: int, key: str, stamps: list[float]) -> np.ndarray:
    """Every frame of episode `ep` of camera `key` at the rows' timestamps, (n, h, w, 3) uint8."""
    from lerobot.datasets.video_utils import decode_video_frames

    start = float(src.meta.episodes[ep][f"videos/{key}/from_timestamp"])
    frames = decode_video_frames(
        src.root / src.meta.get_video_file_path(ep, key),
        [start + t for t in stamps],
        1.0 / src.meta.fps / 2 - 1e-4,
        backend="pyav",
        return_uint8=True,
    )
    images = frames.permute(0, 2, 3, 1).numpy()
    if len(images) != len(stamps):
        raise DatasetError(f"episode {ep}: {key} decoded {len(images)} of {len(stamps)} frames")
    return images


def frames_to_keep(rows: Any, n: int, drop_pauses: bool, corrections_only: bool) -> np.ndarray:
    """The mask of one episode's `n` rows the training copy keeps (all of them unless asked)."""
    keep = moving_frames(np.asarray(rows[ACTION_KEY])) if drop_pauses else np.ones(n, bool)
    if corrections_only:
        keep &= correction_frames(np.asarray(rows[INTERVENTION_KEY]))
    return keep


def _checked_cameras(src: Any, root: Path, corrections_only: bool) -> list[str]:
    """The source's camera keys, once it has cameras (and the intervention flag when it is needed)."""
    if corrections_only and INTERVENTION_KEY not in src.meta.features:
        raise DatasetError(f"{root}: no {INTERVENTION_KEY!r} column, so no corrections to keep")
    video_keys = list(src.meta.video_keys)
    if not video_keys:
        raise DatasetError(f"{root}: no camera streams to resize")
    return video_keys


def resize_dataset(
    root: Path,
    output: Path,
    size: int,
    repo_id: str | None = None,
    say: Callable[[str], None] = print,
    drop_pauses: bool = False,
    corrections_only: bool = False,
) -> int:
    """Write the resized copy (`output` must not exist; removed again on any error); returns the number
    of episodes written. `say` gets a progress line every 25 episodes. `drop_pauses`: leave out the
    frames where the command stood still (`dataset.pauses.moving_frames`; timestamps follow the kept
    frames, so each episode is shorter). `corrections_only`: in episodes a person took over, only the
    frames they drove (`dataset.pauses.correction_frames`; needs the `intervention` column)."""
    from lerobot.configs.video import RGBEncoderConfig
    from lerobot.datasets import LeRobotDataset
    from lerobot.utils.constants import DEFAULT_FEATURES  # lerobot adds these itself on add_frame

    if output.exists():
        raise DatasetError(f"{output} exists: choose a new output")
    src = LeRobotDataset(repo_id or f"local/{root.name}", root=root)
    video_keys = _checked_cameras(src, root, corrections_only)
    features = resized_features(
        {k: dict(v) for k, v in src.meta.features.items() if k not in DEFAULT_FEATURES}, video_keys, size
    )
    video = VideoSettings()
    dst = LeRobotDataset.create(
        repo_id or f"local/{output.name}",
        src.meta.fps,
        features,
        root=output,
        robot_type=src.meta.robot_type,
        use_videos=True,
        streaming_encoding=True,
        encoder_queue_maxsize=ENCODER_QUEUE_FRAMES,
        rgb_encoder=RGBEncoderConfig(vcodec=video.codec, crf=video.crf, g=video.g),
    )
    tasks = src.meta.tasks
    task_of = {int(i): str(t) for t, i in zip(tasks.index, tasks["task_index"], strict=True)}
    data = src.hf_dataset.with_format("numpy")
    t0 = time.perf_counter()
    kept = total = 0
    try:
        for ep in range(src.meta.total_episodes):
            meta = src.meta.episodes[ep]
            lo, hi = int(meta["dataset_from_index"]), int(meta["dataset_to_index"])
            rows = data[lo:hi]
            stamps = [float(t) for t in rows["timestamp"]]
            images = {key: decode_episode(src, ep, key, stamps) for key in video_keys}
            keep = frames_to_keep(rows, hi - lo, drop_pauses, corrections_only)
            kept, total = kept + int(keep.sum()), total + hi - lo
            for j in np.flatnonzero(keep):
                frame: dict[str, Any] = {
                    k: np.asarray(rows[k][j], dtype=features[k]["dtype"]).reshape(features[k]["shape"])
                    for k in features
                    if k not in video_keys
                }
                for key in video_keys:
                    frame[key] = resize_image(images[key][j], size, size)
                frame["task"] = task_of[int(rows["task_index"][j])]
                dst.add_frame(frame)
            dst.save_episode()
            if (ep + 1) % 25 == 0 or ep + 1 == src.meta.total_episodes:
                rate = (ep + 1) / (time.perf_counter() - t0)
                say(f"[resize] {ep + 1}/{src.meta.total_episodes} episodes ({rate:.1f}/s)")
        dst.finalize()
        if drop_pauses or corrections_only:
            say(f"[resize] {kept} of {total} frames kept ({100 * kept / max(total, 1):.0f} %)")
    except BaseException:
        shutil.rmtree(output, ignore_errors=True)
        raise
    sidecar = root / SIDECAR_RELPATH
    if sidecar.is_file():
        shutil.copy2(sidecar, output / SIDECAR_RELPATH)
    return src.meta.total_episodes
