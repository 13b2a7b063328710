"""Score an existing LeRobotDataset v3.0 on disk with the same accumulators as the live scorer node.

Numeric columns come from the data parquet files (state, action, success). Images come from the videos,
but sparsely: every `stride`-th frame (snapped to a keyframe, so it decodes alone) plus the frame after
it (for the frozen-frame test), and only those packets are handed to the decoder - the rest are demuxed
and skipped. That is what makes offline scoring many times faster than decoding every frame.
Cube pose and contact force are not in a dataset: those metrics fall back to what the state tells
(e.g. `drop` from a gripper that re-opened while lifted).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim_teleop.messages import QualityReport
from sim_teleop.quality.config import QualityConfig
from sim_teleop.quality.scorer import EpisodeScorer

STATE_KEY = "observation.state"
ACTION_KEY = "action"
SUCCESS_KEYS = ("next.success", "success")
IMAGE_PREFIX = "observation.images."


@dataclass(slots=True)
class EpisodeData:
    index: int
    state: np.ndarray  # (T, S)
    action: np.ndarray  # (T, A)
    success: bool


class DatasetReader:
    """Minimal reader of a v3.0 dataset's meta, data and video files (no lerobot import needed)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        info_path = self.root / "meta" / "info.json"
        if not info_path.is_file():
            raise FileNotFoundError(f"{self.root}: not a LeRobotDataset v3.0 root (no meta/info.json)")
        self.info: dict[str, Any] = json.loads(info_path.read_text())
        self.fps = float(self.info["fps"])
        files = sorted((self.root / "meta" / "episodes").glob("*/*.parquet"))
        if not files:
            raise FileNotFoundError(f"{self.root}: no meta/episodes/*/*.parquet")
        table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
        self.episodes = table.sort_by("episode_index").to_pylist()
        self.video_keys = [k for k, ft in self.info["features"].items() if ft.get("dtype") == "video"]
        self._data_cache: dict[tuple[int, int], pa.Table] = {}

    def __len__(self) -> int:
        return len(self.episodes)

    def _data_file(self, chunk: int, file: int) -> pa.Table:
        key = (chunk, file)
        if key not in self._data_cache:
            path = self.root / self.info["data_path"].format(chunk_index=chunk, file_index=file)
            names = set(pq.read_schema(path).names)
            wanted = ["episode_index", STATE_KEY, ACTION_KEY, *[k for k in SUCCESS_KEYS if k in names]]
            # Keep one file: episodes come in order. Only the columns the metrics use.
            self._data_cache = {key: pq.read_table(path, columns=[c for c in wanted if c in names])}
        return self._data_cache[key]

    def episode(self, i: int) -> EpisodeData:
        meta = self.episodes[i]
        table = self._data_file(int(meta["data/chunk_index"]), int(meta["data/file_index"]))
        rows = table.filter(pc.equal(table["episode_index"], meta["episode_index"]))
        state = _matrix(rows[STATE_KEY])
        action = _matrix(rows[ACTION_KEY])
        success = False
        for key in SUCCESS_KEYS:
            if key in rows.column_names:
                success = bool(np.any(np.asarray(rows[key].to_pylist(), dtype=bool)))
                break
        return EpisodeData(int(meta["episode_index"]), state, action, success)

    def video_span(self, i: int, key: str) -> tuple[Path, float]:
        meta = self.episodes[i]
        path = self.root / self.info["video_path"].format(
            video_key=key,
            chunk_index=int(meta[f"videos/{key}/chunk_index"]),
            file_index=int(meta[f"videos/{key}/file_index"]),
        )
        return path, float(meta[f"videos/{key}/from_timestamp"])


def _matrix(column: pa.ChunkedArray) -> np.ndarray:
    """A fixed-size-list (or list) column -> (T, D) float64 without going through Python objects."""
    arr = column.combine_chunks()
    flat = arr.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=np.float64).reshape(len(arr), -1)


def decode_sparse(
    path: Path, t0: float, fps: float, num_frames: int, stride: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(frame offset, RGB image) for a keyframe at about every `stride` frames and the frame after each."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = float(stream.time_base or 0.0)
        container.seek(int(t0 / tb), stream=stream, backward=True, any_frame=False)
        next_sample = 0
        take_next = -1
        ctx = stream.codec_context

        def frames(packet: Any) -> Iterator[tuple[int, np.ndarray]]:
            for frame in ctx.decode(packet):
                idx = round((frame.pts * tb - t0) * fps)
                if 0 <= idx < num_frames:
                    yield idx, frame.to_ndarray(format="rgb24")

        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            idx = round((packet.pts * tb - t0) * fps)
            if idx >= num_frames:
                break
            if idx < 0:
                continue
            if (packet.is_keyframe and idx >= next_sample) or idx == take_next:
                if idx != take_next:
                    next_sample = idx + stride
                    take_next = idx + 1
                yield from frames(packet)
        yield from frames(None)


OFFLINE_FROZEN_MOTION = 0.025
"""m of TCP motion between two decoded frames before identical images count as a frozen camera.

Live, the scorer sees the rendered frames and 6 mm of motion always changes the image. Decoded video
is compressed (AV1, CRF 30): the encoder repeats near-static wrist frames exactly, which flagged 14 of
99 clean demonstrations as frozen at 6 mm and none at 25 mm."""


def offline_config(cfg: QualityConfig) -> QualityConfig:
    """The live config, adapted to frames decoded from compressed video."""
    thresholds = dict(cfg.thresholds)
    thresholds["frozen_motion"] = max(thresholds["frozen_motion"], OFFLINE_FROZEN_MOTION)
    return replace(cfg, thresholds=thresholds)


def score_episode(
    reader: DatasetReader, i: int, scorer: EpisodeScorer, stride: int = 8, cameras: bool = True
) -> QualityReport:
    ep = reader.episode(i)
    n = len(ep.state)
    images: dict[int, dict[str, np.ndarray]] = {}
    if cameras:
        for key in reader.video_keys:
            cam = key.removeprefix(IMAGE_PREFIX)
            path, t0 = reader.video_span(i, key)
            for idx, img in decode_sparse(path, t0, reader.fps, n, stride):
                images.setdefault(idx, {})[cam] = img
    acc = scorer.new_episode()
    for t in range(n):
        acc.add_frame(ep.state[t], ep.action[t], success=False, images=images.get(t), frame=t)
    return scorer.report(ep.index, acc, success=ep.success)


def score_dataset(
    root: str | Path, scorer: EpisodeScorer, stride: int = 8, cameras: bool = True
) -> list[QualityReport]:
    reader = DatasetReader(root)
    return [score_episode(reader, i, scorer, stride, cameras) for i in range(len(reader))]
