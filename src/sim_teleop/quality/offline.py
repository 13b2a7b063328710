"""Score an existing LeRobotDataset v3.0 on disk with the same accumulators as the live scorer node.

Numeric columns come from the data parquet files (state, action, success), each file read once and
sliced by the episodes' row ranges. Images come from the videos, but sparsely: a keyframe at about
every `stride` frames (so it decodes alone) plus the frame after it (for the frozen-frame test). The
demuxer seeks straight to each of those keyframes and only those packets reach the decoder; a video
file stays open while the next episode is in it too (v3.0 files hold many episodes). The camera
metrics only use grey levels, so a frame's luma plane is used as it is (no RGB conversion; see
`frame_grey`). That is what makes offline scoring many times faster than decoding every frame.
Cube pose and contact force are not in a dataset: those metrics fall back to what the state tells
(e.g. `drop` from a gripper that re-opened while lifted).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim_teleop.messages import GRIPPER_COMMAND_MAX, LEGACY_STATE_GRIPPER, QualityReport
from sim_teleop.quality.config import QualityConfig
from sim_teleop.quality.scorer import EpisodeScorer
from sim_teleop.quality.visual import grey

STATE_KEY = "observation.state"
ACTION_KEY = "action"
SUCCESS_KEYS = ("next.success", "success")
IMAGE_PREFIX = "observation.images."
DECODER_THREADS = 1
"""A handful of 128x128 frames per episode: thread start-up and hand-over cost more than they save."""


@dataclass(slots=True)
class EpisodeData:
    index: int
    state: np.ndarray  # (T, S)
    action: np.ndarray  # (T, A)
    success: bool


# --- decoded frames as grey levels ---------------------------------------------------------------------

LIMITED_RANGE_Y = frozenset({"yuv420p", "yuv422p", "yuv444p"})
FULL_RANGE_Y = frozenset({"yuvj420p", "yuvj422p", "yuvj444p"})
_Y_TO_GREY = {  # 8-bit luma code -> grey level (float32), one table per range
    False: np.clip((np.arange(256, dtype=np.float32) - 16.0) * np.float32(255.0 / 219.0), 0.0, 255.0),
    True: np.arange(256, dtype=np.float32),
}


def frame_grey(frame: Any) -> np.ndarray:
    """A decoded `av.VideoFrame` -> float32 HxW grey levels 0..255, as `visual.grey` of its RGB image.

    Luma is what `grey` computes from RGB (BT.601 weights), and an 8-bit YUV frame carries it as its Y
    plane, so the Y plane is expanded to 0..255 the way the RGB conversion does it (`to_ndarray("rgb24")`
    reads yuv* as limited range 16..235 and yuvj* as full range, whatever the stream's tags say) and
    clipped like RGB. It differs from grey(rgb24) only by the RGB path's rounding and clipping of
    saturated colours: about 1 grey level, and it is closer to the grey of the rendered frame that was
    encoded (tests/test_offline_decode.py). Other pixel formats go through RGB.
    """
    name = frame.format.name
    if name not in LIMITED_RANGE_Y and name not in FULL_RANGE_Y:
        return grey(frame.to_ndarray(format="rgb24"))
    plane = frame.planes[0]
    y = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: plane.height, : plane.width]
    return np.take(_Y_TO_GREY[name in FULL_RANGE_Y], y)


# --- sparse video access -------------------------------------------------------------------------------

MP4_SUFFIXES = frozenset({".mp4", ".m4v", ".mov"})


class VideoFile:
    """One open video file: seeks to sampled keyframes and decodes only them and the frame after each.

    Sampling rule (per episode span starting at `t0`, `num_frames` frames): the first keyframe at or after
    frame 0, then the first keyframe at or after (previous sample + stride), and so on; each sample with
    the frame right after it when that frame is in the span.
    """

    def __init__(self, path: str | Path, threads: int = DECODER_THREADS) -> None:
        import av

        self.path = Path(path)
        # Naming the demuxer of an .mp4 (what v3.0 writes) skips probing the file against every format.
        mp4 = self.path.suffix.lower() in MP4_SUFFIXES
        self.container: Any = av.open(str(path), format="mp4" if mp4 else None)
        self.stream = self.container.streams.video[0]
        self.tb = float(self.stream.time_base or 0.0)
        self.ctx = self.stream.codec_context
        if threads:
            self.ctx.thread_count = threads

    def close(self) -> None:
        self.container.close()

    def _index(self, pts: int, t0: float, fps: float) -> int:
        return round((pts * self.tb - t0) * fps)

    def sample_packets(self, t0: float, fps: float, num_frames: int, stride: int) -> list[tuple[int, Any]]:
        """(frame offset, packet) of every sampled keyframe and of the frame after each, in stream order."""
        import av

        picked: list[tuple[int, Any]] = []
        step = max(stride, 2)  # the frame after a sample is never the next sample
        target = 0
        while target < num_frames:
            # At most the timestamp of the first frame whose offset rounds to >= target; the demuxer goes
            # to the first keyframe at or after it. Packets are checked anyway, so landing earlier only
            # costs reading forward.
            ts = math.floor((t0 + (target - 0.5) / fps) / self.tb)
            try:
                self.container.seek(ts, stream=self.stream, backward=False, any_frame=False)
            except av.FFmpegError:
                break  # no keyframe after this point in the file
            packets = self.container.demux(self.stream)
            key = -1
            try:
                for packet in packets:
                    if packet.pts is None:
                        if packet.size == 0:
                            break  # end of file
                        continue
                    idx = self._index(packet.pts, t0, fps)
                    if key >= 0:
                        if idx == key + 1 and idx < num_frames:
                            picked.append((idx, packet))
                        break
                    if idx >= num_frames:
                        break
                    if packet.is_keyframe and idx >= target:
                        picked.append((idx, packet))
                        key = idx
            finally:
                packets.close()
            if key < 0:
                break
            target = key + step
        return picked

    def sample(
        self, t0: float, fps: float, num_frames: int, stride: int, rgb: bool = False
    ) -> list[tuple[int, np.ndarray]]:
        """(frame offset, image) of the sampled frames: grey float32 HxW, or uint8 RGB with `rgb`."""
        picked = self.sample_packets(t0, fps, num_frames, stride)
        if not picked:
            return []
        out: list[tuple[int, np.ndarray]] = []

        def convert(frames: Any) -> None:
            for frame in frames:
                idx = self._index(frame.pts, t0, fps)
                if 0 <= idx < num_frames:
                    out.append((idx, frame.to_ndarray(format="rgb24") if rgb else frame_grey(frame)))

        self.ctx.flush_buffers()  # a previous episode's end of stream
        for _, packet in picked:
            convert(self.ctx.decode(packet))
        convert(self.ctx.decode(None))
        return out


def decode_sparse(
    path: str | Path, t0: float, fps: float, num_frames: int, stride: int, rgb: bool = False
) -> list[tuple[int, np.ndarray]]:
    """(frame offset, image) for a keyframe at about every `stride` frames and the frame after each
    (see `VideoFile`); images are grey float32 HxW (`frame_grey`), or uint8 RGB with `rgb`."""
    video = VideoFile(path)
    try:
        return video.sample(t0, fps, num_frames, stride, rgb=rgb)
    finally:
        video.close()


# --- dataset -------------------------------------------------------------------------------------------


@dataclass(slots=True)
class DataFile:
    """The columns the metrics use of one data parquet file, as numpy arrays (all its episodes)."""

    episode_index: np.ndarray  # (N,) int64
    state: np.ndarray  # (N, S) float64
    action: np.ndarray  # (N, A) float64
    success: np.ndarray | None  # (N,) bool

    @classmethod
    def read(cls, path: Path) -> DataFile:
        with pa.OSFile(str(path)) as source:  # a local file: no filesystem lookup, no pre-buffering
            pf = pq.ParquetFile(source, pre_buffer=False)
            names = set(pf.schema_arrow.names)
            success_key = next((k for k in SUCCESS_KEYS if k in names), None)
            wanted = ["episode_index", STATE_KEY, ACTION_KEY, *([success_key] if success_key else [])]
            table = pf.read(columns=wanted, use_threads=False)
        success = None
        if success_key is not None:
            column = table[success_key].combine_chunks()
            if pa.types.is_list(column.type) or pa.types.is_fixed_size_list(column.type):
                success = np.array([bool(np.any(np.asarray(v, dtype=bool))) for v in column.to_pylist()])
            else:
                if column.null_count:
                    column = pc.fill_null(column, False)
                success = np.asarray(column.to_numpy(zero_copy_only=False), dtype=bool)
        return cls(
            np.asarray(table["episode_index"].to_numpy(), dtype=np.int64),
            _matrix(table[STATE_KEY]),
            _matrix(table[ACTION_KEY]),
            success,
        )


def _matrix(column: pa.ChunkedArray) -> np.ndarray:
    """A fixed-size-list (or list) column -> (T, D) float64 without going through Python objects."""
    arr = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    if pa.types.is_fixed_size_list(arr.type) and arr.offset == 0 and arr.null_count == 0:
        flat = arr.values.slice(0, len(arr) * arr.type.list_size)  # the child array as it is
    else:
        flat = arr.flatten()
    return np.asarray(flat.to_numpy(zero_copy_only=False), dtype=np.float64).reshape(len(arr), -1)


class DatasetReader:
    """Minimal reader of a v3.0 dataset's meta, data and video files (no lerobot import needed).

    Keeps the last data file and, per camera, the last video file open: episodes are read in order and a
    file may hold many of them. `close()` (or `with`) releases the video files.
    """

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
        table = pa.concat_tables([self._read_meta(f) for f in files], promote_options="default")
        # Files of a commit in flight are not counted in info.json yet: read only what it counts.
        held = int(self.info.get("total_episodes", -1))
        self.episodes = [
            e for e in table.sort_by("episode_index").to_pylist() if held < 0 or e["episode_index"] < held
        ]
        self.video_keys = [k for k, ft in self.info["features"].items() if ft.get("dtype") == "video"]
        # Global index of each data file's first row: episodes' rows are contiguous and in order.
        self._file_start: dict[tuple[int, int], int] = {}
        for meta in self.episodes:
            start = meta.get("dataset_from_index")
            if start is not None:
                key = (int(meta["data/chunk_index"]), int(meta["data/file_index"]))
                self._file_start[key] = min(self._file_start.get(key, int(start)), int(start))
        self._data_cache: dict[tuple[int, int], DataFile] = {}
        self._videos: dict[str, VideoFile] = {}

    @staticmethod
    def _read_meta(path: Path) -> pa.Table:
        """Everything but the per-episode feature statistics (most of the file, never used here)."""
        with pa.OSFile(str(path)) as source:
            pf = pq.ParquetFile(source, pre_buffer=False)
            names = [n for n in pf.schema_arrow.names if not n.startswith("stats/")]
            return pf.read(columns=names, use_threads=False)

    def __len__(self) -> int:
        return len(self.episodes)

    def __enter__(self) -> DatasetReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the open video files and drop the cached data file (a later read opens them again)."""
        for video in self._videos.values():
            video.close()
        self._videos.clear()
        self._data_cache.clear()

    def _data_file(self, chunk: int, file: int) -> DataFile:
        key = (chunk, file)
        if key not in self._data_cache:
            path = self.root / self.info["data_path"].format(chunk_index=chunk, file_index=file)
            # Keep one file: episodes come in order. Only the columns the metrics use.
            self._data_cache = {key: DataFile.read(path)}
        return self._data_cache[key]

    def episode(self, i: int) -> EpisodeData:
        meta = self.episodes[i]
        index = int(meta["episode_index"])
        key = (int(meta["data/chunk_index"]), int(meta["data/file_index"]))
        data = self._data_file(*key)
        rows: slice | np.ndarray | None = self._episode_rows(data, key, meta)
        if rows is None:  # no row range in the meta, or it disagrees with the file
            rows = np.flatnonzero(data.episode_index == index)
        success = bool(data.success[rows].any()) if data.success is not None else False
        return EpisodeData(index, data.state[rows], data.action[rows], success)

    def _episode_rows(self, data: DataFile, key: tuple[int, int], meta: dict[str, Any]) -> slice | None:
        """The episode's rows by the meta's global row range, if they are exactly its episode's run."""
        start, stop = meta.get("dataset_from_index"), meta.get("dataset_to_index")
        if key not in self._file_start or start is None or stop is None:
            return None
        lo, hi = int(start) - self._file_start[key], int(stop) - self._file_start[key]
        column = data.episode_index
        index = int(meta["episode_index"])
        if not 0 <= lo < hi <= len(column) or not bool((column[lo:hi] == index).all()):
            return None
        if (lo > 0 and column[lo - 1] == index) or (hi < len(column) and column[hi] == index):
            return None  # more rows of this episode next to the range
        return slice(lo, hi)

    def video_span(self, i: int, key: str) -> tuple[Path, float]:
        meta = self.episodes[i]
        path = self.root / self.info["video_path"].format(
            video_key=key,
            chunk_index=int(meta[f"videos/{key}/chunk_index"]),
            file_index=int(meta[f"videos/{key}/file_index"]),
        )
        return path, float(meta[f"videos/{key}/from_timestamp"])

    def video(self, i: int, key: str) -> tuple[VideoFile, float]:
        """The open video file holding episode i's camera `key`, and the episode's start time in it."""
        path, t0 = self.video_span(i, key)
        video = self._videos.get(key)
        if video is None or video.path != path:
            if video is not None:
                video.close()
            video = self._videos[key] = VideoFile(path)
        return video, t0


OFFLINE_FROZEN_MOTION = 0.025
"""m of TCP motion between two decoded frames before identical images count as a frozen camera.

Live, the scorer sees the rendered frames and 6 mm of motion always changes the image. Decoded video
is compressed (AV1, CRF 30): the encoder repeats near-static wrist frames exactly, which flagged 14 of
99 clean demonstrations as frozen at 6 mm and none at 25 mm."""


def offline_config(cfg: QualityConfig, info: dict[str, Any] | None = None) -> QualityConfig:
    """The live config, adapted to frames decoded from compressed video and to the dataset's `info`
    (a dataset recorded before the gripper became 0..1 stores it in 0..255)."""
    thresholds = dict(cfg.thresholds)
    thresholds["frozen_motion"] = max(thresholds["frozen_motion"], OFFLINE_FROZEN_MOTION)
    layout = cfg.layout
    names = ((info or {}).get("features", {}).get(STATE_KEY) or {}).get("names") or []
    index = layout.state_gripper
    if index is not None and index < len(names) and names[index] == LEGACY_STATE_GRIPPER:
        layout = replace(layout, state_gripper_max=GRIPPER_COMMAND_MAX)
    return replace(cfg, thresholds=thresholds, layout=layout)


def score_episode(
    reader: DatasetReader, i: int, scorer: EpisodeScorer, stride: int = 8, cameras: bool = True
) -> QualityReport:
    ep = reader.episode(i)
    n = len(ep.state)
    images: dict[int, dict[str, np.ndarray]] = {}
    if cameras:
        for key in reader.video_keys:
            cam = key.removeprefix(IMAGE_PREFIX)
            video, t0 = reader.video(i, key)
            for idx, img in video.sample(t0, reader.fps, n, stride):
                images.setdefault(idx, {})[cam] = img
    acc = scorer.new_episode()
    for t in range(n):
        acc.add_frame(ep.state[t], ep.action[t], success=False, images=images.get(t), frame=t)
    return scorer.report(ep.index, acc, success=ep.success)


def score_dataset(
    root: str | Path, scorer: EpisodeScorer, stride: int = 8, cameras: bool = True
) -> list[QualityReport]:
    with DatasetReader(root) as reader:
        return [score_episode(reader, i, scorer, stride, cameras) for i in range(len(reader))]
