"""Reading a LeRobotDataset v3.0 on disk without lerobot: info.json, episode metadata, data columns, video.

The only module that opens `meta/info.json` or a parquet file. Readers see what lerobot loads: only
the episodes info.json counts (files of a commit in flight are already on disk but not counted yet).
The writer, resume and the maintenance scripts see the dataset as the last finished commit left it
(`read_info(root)`: the journal's backup while a commit is in flight), which is what repair restores.

Images come from the videos sparsely: a keyframe at about every `stride` frames (so it decodes alone)
plus the frame after it (for the frozen-frame test). The demuxer seeks straight to each of those
keyframes and only those packets reach the decoder; a video file stays open while the next episode is
in it too (v3.0 files hold many episodes). Grey levels come from a frame's luma plane as it is (no RGB
conversion; see `frame_grey`). That is what makes offline scoring many times faster than decoding
every frame.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.features import ACTION_KEY, STATE_KEY, SUCCESS_KEYS
from sim_teleop.dataset.journal import BACKUP, JOURNAL, JOURNAL_DIR
from sim_teleop.images import grey

INFO = "meta/info.json"
TASKS = "meta/tasks.parquet"
DECODER_THREADS = 1
"""A handful of 128x128 frames per episode: thread start-up and hand-over cost more than they save."""


# --- meta ----------------------------------------------------------------------------------------------


def is_dataset(root: Path) -> bool:
    return (Path(root) / INFO).is_file()


def not_a_dataset(root: Path) -> str:
    """The one message for a root that is not a dataset."""
    return f"{root} is not a LeRobotDataset (no {INFO})"


def read_info(root: Path, committed: bool = True) -> dict:
    """info.json as the last finished commit left it (the journal's copy while a commit is in flight);
    with `committed=False`, as it stands, which is what lerobot loads."""
    path = _as_committed(Path(root), INFO, committed)
    if not path.exists():
        raise DatasetError(not_a_dataset(root))
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        # Commits replace info.json by an atomic rename, so no kill leaves it half written: repair
        # cannot rebuild it, only a copy can.
        raise DatasetError(
            f"{path}: unreadable ({exc}); it was changed outside the recorder, which only ever replaces "
            "it whole: restore it from a copy (delete_episodes.py keeps the original as <root>.bak-*)"
        ) from None


def _as_committed(root: Path, rel: str, committed: bool = True) -> Path:
    """The file `rel` of root as the last finished commit left it (its journal backup while a commit is
    in flight), or as it stands with `committed=False`."""
    backup = root / JOURNAL_DIR / BACKUP / rel
    in_flight = committed and (root / JOURNAL_DIR / JOURNAL).exists() and backup.exists()
    return backup if in_flight else root / rel


def read_tasks(root: Path) -> list[str]:
    """The task strings of `meta/tasks.parquet` as the last finished commit left it (empty: no file)."""
    path = _as_committed(Path(root), TASKS)
    if not path.exists():
        return []
    table = pq.read_table(path)
    if "task" not in table.column_names:
        raise DatasetError(f"{path}: no 'task' column (columns: {table.column_names})")
    return [str(t) for t in table.column("task").to_pylist()]


def total_episodes(root: Path) -> int | None:
    """Episodes the dataset at root holds as lerobot loads it (None: no readable info.json, or it does
    not say)."""
    try:
        return int(read_info(root, committed=False)["total_episodes"])
    except (DatasetError, OSError, KeyError, TypeError, ValueError):
        return None


def held(info: dict[str, Any], episode_index: int) -> bool:
    """Whether info.json counts the episode (a hand-made info.json without total_episodes counts all)."""
    total = info.get("total_episodes")
    return total is None or episode_index < int(total)


def video_codec(info: dict[str, Any], key: str) -> str | None:
    """The codec lerobot noted for camera `key` (e.g. "av1"), None when it noted none."""
    return ((info.get("features", {}).get(key) or {}).get("info") or {}).get("video.codec")


def data_files(root: Path) -> list[Path]:
    return sorted((Path(root) / "data").glob("**/*.parquet"))


def episode_meta_files(root: Path) -> list[Path]:
    return sorted((Path(root) / "meta" / "episodes").glob("chunk-*/file-*.parquet"))


def read_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    """One parquet file (or some of its columns) of a local dataset."""
    with pa.OSFile(str(path)) as source:  # a local file: no filesystem lookup, no pre-buffering
        return pq.ParquetFile(source, pre_buffer=False).read(columns=columns, use_threads=False)


def column_names(path: Path) -> list[str]:
    with pa.OSFile(str(path)) as source:
        return list(pq.ParquetFile(source, pre_buffer=False).schema_arrow.names)


def read_episodes(root: Path, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The episodes metadata rows info.json counts, in episode order, without the per-episode feature
    statistics (most of the file, never used here)."""
    files = episode_meta_files(root)
    if not files:
        raise FileNotFoundError(f"{root}: no meta/episodes/*/*.parquet")
    tables = [read_table(f, [n for n in column_names(f) if not n.startswith("stats/")]) for f in files]
    table = pa.concat_tables(tables, promote_options="default").sort_by("episode_index")
    return [e for e in table.to_pylist() if held(info, int(e["episode_index"]))]


def read_data_columns(root: Path, columns: list[str]) -> pa.Table | None:
    """Some columns of every data file, rows of uncounted episodes dropped (None: no data file)."""
    files = data_files(root)
    if not files:
        return None
    table = pa.concat_tables([read_table(f, columns) for f in files])
    total = read_info(root, committed=False).get("total_episodes")
    if total is not None:
        table = table.filter(pc.less(table["episode_index"], int(total)))
    return table


def bool_flags(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A bool column, scalar or 1-element lists (lerobot stores `(1,)` features as lists) -> (N,) bool;
    a list counts as true when any element is, a null as false."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_list(column.type) or pa.types.is_fixed_size_list(column.type):
        return np.array([bool(np.any(np.asarray(v, dtype=bool))) for v in column.to_pylist()], dtype=bool)
    if column.null_count:
        column = pc.fill_null(column, False)
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=bool)


def dataset_files(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes (tests compare datasets byte for byte)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- decoded frames as grey levels ---------------------------------------------------------------------

LIMITED_RANGE_Y = frozenset({"yuv420p", "yuv422p", "yuv444p"})
FULL_RANGE_Y = frozenset({"yuvj420p", "yuvj422p", "yuvj444p"})
_Y_TO_GREY = {  # 8-bit luma code -> grey level (float32), one table per range
    False: np.clip((np.arange(256, dtype=np.float32) - 16.0) * np.float32(255.0 / 219.0), 0.0, 255.0),
    True: np.arange(256, dtype=np.float32),
}


def frame_grey(frame: Any) -> np.ndarray:
    """A decoded `av.VideoFrame` -> float32 HxW grey levels 0..255, as `images.grey` of its RGB image.

    Luma is what `grey` computes from RGB (BT.601 weights), and an 8-bit YUV frame carries it as its Y
    plane, so the Y plane is expanded to 0..255 the way the RGB conversion does it (`to_ndarray("rgb24")`
    reads yuv* as limited range 16..235 and yuvj* as full range, whatever the stream's tags say) and
    clipped like RGB. It differs from grey(rgb24) only by the RGB path's rounding and clipping of
    saturated colours: about 1 grey level, and it is closer to the grey of the rendered frame that was
    encoded (tests/quality/test_offline_decode.py). Other pixel formats go through RGB.
    """
    name = frame.format.name
    if name not in LIMITED_RANGE_Y and name not in FULL_RANGE_Y:
        return grey(frame.to_ndarray(format="rgb24"))
    plane = frame.planes[0]
    y = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: plane.height, : plane.width]
    return np.take(_Y_TO_GREY[name in FULL_RANGE_Y], y)


# --- sparse video access -------------------------------------------------------------------------------

MP4_SUFFIXES = frozenset({".mp4", ".m4v", ".mov"})


Pairing = Callable[[int], bool] | None
"""Which sampled keyframes (by frame offset) to decode the frame after too; None: every one."""


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

    def sample_packets(
        self, t0: float, fps: float, num_frames: int, stride: int, pair: Pairing = None
    ) -> list[tuple[int, Any]]:
        """(frame offset, packet) of every sampled keyframe and of the frame after each (only after those
        `pair` accepts, when given), in stream order: a keyframe at or after every `stride` frames, and
        one at or after the episode's second-to-last frame (a camera stuck in the last part of a short
        episode must show in two samples)."""
        picked: list[tuple[int, Any]] = []
        step = max(stride, 2)  # the frame after a sample is never the next sample
        target = 0
        last_key = -step
        while target < num_frames:
            found = self._keyframe_at_or_after(target, t0, fps, num_frames)
            if not found:
                break
            picked += found if pair is None or pair(found[0][0]) else found[:1]
            last_key = found[0][0]
            target = last_key + step
        end = num_frames - 2
        if picked and end > last_key + 1:
            found = [p for p in self._keyframe_at_or_after(end, t0, fps, num_frames) if p[0] > picked[-1][0]]
            picked += found if pair is None or not found or pair(found[0][0]) else found[:1]
        return picked

    def _keyframe_at_or_after(
        self, target: int, t0: float, fps: float, num_frames: int
    ) -> list[tuple[int, Any]]:
        """The first keyframe at or after frame `target` of the span and the frame after it (when in the
        span); empty when the span has no keyframe there."""
        import av

        # At most the timestamp of the first frame whose offset rounds to >= target; the demuxer goes to
        # the first keyframe at or after it. Packets are checked anyway, so landing earlier only costs
        # reading forward.
        ts = math.floor((t0 + (target - 0.5) / fps) / self.tb)
        try:
            self.container.seek(ts, stream=self.stream, backward=False, any_frame=False)
        except av.FFmpegError:
            return []  # no keyframe after this point in the file
        packets = self.container.demux(self.stream)
        try:
            return self._keyframe_pair(packets, target, t0, fps, num_frames)
        finally:
            packets.close()

    def _keyframe_pair(
        self, packets: Iterable[Any], target: int, t0: float, fps: float, num_frames: int
    ) -> list[tuple[int, Any]]:
        found: list[tuple[int, Any]] = []
        for packet in packets:
            if packet.pts is None:
                if packet.size == 0:
                    break  # end of file
                continue
            idx = self._index(packet.pts, t0, fps)
            if found:
                if idx == found[0][0] + 1 and idx < num_frames:
                    found.append((idx, packet))
                break
            if idx >= num_frames:
                break
            if packet.is_keyframe and idx >= target:
                found.append((idx, packet))
        return found

    def sample(
        self, t0: float, fps: float, num_frames: int, stride: int, rgb: bool = False, pair: Pairing = None
    ) -> list[tuple[int, np.ndarray]]:
        """(frame offset, image) of the sampled frames: grey float32 HxW, or uint8 RGB with `rgb`."""
        picked = self.sample_packets(t0, fps, num_frames, stride, pair)
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


# --- episodes ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class EpisodeData:
    index: int
    state: np.ndarray  # (T, S)
    action: np.ndarray  # (T, A)
    success: bool
    timestamp: np.ndarray | None = None  # (T,) s, when the data file has the column

    def frame_numbers(self, fps: float) -> np.ndarray:
        """Each row's frame number from its timestamp (a hole shows as a skip), else 0..T-1."""
        if self.timestamp is None or len(self.timestamp) == 0:
            return np.arange(len(self.state))
        return np.rint((self.timestamp - self.timestamp[0]) * fps).astype(np.int64)


@dataclass(slots=True)
class DataFile:
    """The state, action and success columns of one data parquet file, as numpy arrays (all its episodes)."""

    episode_index: np.ndarray  # (N,) int64
    state: np.ndarray  # (N, S) float64
    action: np.ndarray  # (N, A) float64
    success: np.ndarray | None  # (N,) bool
    timestamp: np.ndarray | None = None  # (N,) float64 s

    @classmethod
    def read(cls, path: Path) -> DataFile:
        names = set(column_names(path))
        success_key = next((k for k in SUCCESS_KEYS if k in names), None)
        time_key = "timestamp" if "timestamp" in names else None
        optional = [k for k in (success_key, time_key) if k is not None]
        table = read_table(path, ["episode_index", STATE_KEY, ACTION_KEY, *optional])
        return cls(
            np.asarray(table["episode_index"].to_numpy(), dtype=np.int64),
            _matrix(table[STATE_KEY]),
            _matrix(table[ACTION_KEY]),
            bool_flags(table[success_key]) if success_key is not None else None,
            np.asarray(table[time_key].to_numpy(), dtype=np.float64) if time_key is not None else None,
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
    """Episode by episode reader of a v3.0 dataset's data and video files (no lerobot import needed).

    Keeps the last data file and, per camera, the last video file open: episodes are read in order and a
    file may hold many of them. `close()` (or `with`) releases the video files.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not is_dataset(self.root):
            raise FileNotFoundError(not_a_dataset(self.root))
        self.info: dict[str, Any] = read_info(self.root, committed=False)
        self.fps = float(self.info["fps"])
        self.episodes = read_episodes(self.root, self.info)
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
        timestamp = data.timestamp[rows] if data.timestamp is not None else None
        return EpisodeData(index, data.state[rows], data.action[rows], success, timestamp)

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
