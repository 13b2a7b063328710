"""Pack a finished dataset into lerobot's standard file sizes, verified, with nothing lost on a kill.

Why: the recorder commits every episode as its own files (crash safety, see `store`), so a
dataset of N episodes holds ~4N small files; lerobot's own layout packs episodes into ~100 MB data
and ~200 MB video files. lerobot's `aggregate_datasets` with the dataset as its only source writes
that packed copy (videos concatenated, not re-encoded, so frames stay pixel-identical) beside the
root, in `<root>.compacting`. The copy gets the per-episode sidecar (same indices), is checked against
the original (counts, every non-video column, decoded frames at the start, middle and end of every
episode), and only then is exchanged with the root in one atomic `renameat2(RENAME_EXCHANGE)`; the
original is deleted last. A kill at any moment leaves either the original root or the verified
packed one, plus a leftover `<root>.compacting` that the next compaction removes.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.publish import exchange
from sim_teleop.dataset.reader import episode_meta_files, read_info, read_table
from sim_teleop.dataset.repair import needs_repair, repair
from sim_teleop.dataset.sidecar import SIDECAR_RELPATH, EpisodeSidecar


@dataclass(frozen=True)
class CompactReport:
    episodes: int
    frames: int
    files_before: int
    files_after: int
    seconds: float
    repaired: str | None = None  # what the repair before compaction did, if one was needed

    def summary(self, root: Path) -> str:
        first = f"repair first: {self.repaired}; " if self.repaired else ""
        return first + (
            f"compacted {root}: {self.files_before} files -> {self.files_after} ({self.episodes} episodes, "
            f"{self.frames} frames, verified) in {self.seconds:.1f} s"
        )


def work_dir(root: Path) -> Path:
    return root.with_name(f"{root.name}.compacting")


def count_files(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file())


def compact(
    root: str | Path, repo_id: str = "local/dataset", step: Callable[[str], None] | None = None
) -> CompactReport:
    """Compact `root` in place (the caller holds its RootLock). `step(name)`: tests stop there."""
    from lerobot.datasets.aggregate import aggregate_datasets

    root = Path(root)
    t0 = time.perf_counter()
    repaired = repair(root).summary() if needs_repair(root) else None  # as resume does, first
    info = read_info(root)
    EpisodeSidecar(root).drop_after(int(info.get("total_episodes", 0)))
    if int(info.get("total_episodes", 0)) == 0:
        raise DatasetError(f"{root} holds no episode: nothing to compact")
    work = work_dir(root)
    if work.exists():
        shutil.rmtree(work)  # left by a killed compaction: the root is whole either way
    files_before = count_files(root)
    try:
        aggregate_datasets([repo_id], repo_id, roots=[root], aggr_root=work)
        point_episodes_at_their_files(work)
        _mark(step, "packed")
        if (root / SIDECAR_RELPATH).exists():
            shutil.copy2(root / SIDECAR_RELPATH, work / SIDECAR_RELPATH)
        _mark(step, "sidecar")
        verify_same(root, work, repo_id)
        _mark(step, "verified")
    except Exception:  # a failure, not a kill or Ctrl-C: those leave `work` for the next run
        shutil.rmtree(work, ignore_errors=True)
        raise
    exchange(root, work)
    _mark(step, "exchanged")
    shutil.rmtree(work)
    info = read_info(root)
    return CompactReport(
        int(info["total_episodes"]),
        int(info["total_frames"]),
        files_before,
        count_files(root),
        time.perf_counter() - t0,
        repaired,
    )


def _mark(step: Callable[[str], None] | None, name: str) -> None:
    if step is not None:
        step(name)


EPISODE_POINTERS = ("meta/episodes/chunk_index", "meta/episodes/file_index")


def point_episodes_at_their_files(root: Path) -> None:
    """Make each episode's `meta/episodes/{chunk,file}_index` name the metadata file it is in.

    lerobot 0.6.1's `aggregate_datasets` copies these two columns from the sources unchanged, so after
    packing four per-episode files into one, episodes 1..3 still claim files 1..3, which no longer
    exist: the dataset loads, but `delete_episodes` fails (FileNotFoundError), and a resumed
    recording numbers its next file after the stale pointer (measured)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for path in episode_meta_files(root):
        where = {
            EPISODE_POINTERS[0]: int(path.parent.name.split("-")[1]),
            EPISODE_POINTERS[1]: int(path.stem.split("-")[1]),
        }
        table = read_table(path)
        for column, value in where.items():
            i = table.schema.get_field_index(column)
            if i >= 0:
                field = table.schema.field(i)
                table = table.set_column(i, field, pa.array([value] * table.num_rows, type=field.type))
        pq.write_table(table, path)


def verify_same(original: Path, packed: Path, repo_id: str) -> None:
    """Raise DatasetError unless `packed` holds exactly the episodes and frames of `original`."""
    from lerobot.datasets import LeRobotDataset

    forget_decoded_videos()
    a = LeRobotDataset(repo_id, root=original)
    b = LeRobotDataset(repo_id, root=packed)
    if (a.meta.total_episodes, a.meta.total_frames) != (b.meta.total_episodes, b.meta.total_frames):
        raise DatasetError(
            f"packed copy holds {b.meta.total_episodes} episodes / {b.meta.total_frames} frames, "
            f"the original {a.meta.total_episodes} / {a.meta.total_frames}"
        )
    verify_part(a, b, 0, 0)


SHIFTED = {"episode_index": "episodes", "index": "frames"}
"""Columns that move by the part's offset in a merged dataset; `task_index` is renumbered with the
union of the tasks, so the task strings are compared instead."""


def verify_part(a: Any, b: Any, first_episode: int, first_frame: int) -> None:
    """Raise DatasetError unless dataset `b` holds all of dataset `a` (both LeRobotDataset) from its
    episode `first_episode` / frame `first_frame` on: every column, and decoded frames at the start,
    middle and end of every episode."""
    lengths_a = [int(x) for x in a.meta.episodes["length"]]
    lengths_b = [int(x) for x in b.meta.episodes["length"]][first_episode : first_episode + len(lengths_a)]
    if lengths_a != lengths_b:
        raise DatasetError(f"episode lengths differ: {lengths_a} vs {lengths_b} from episode {first_episode}")
    _verify_columns(a, b, {"episodes": first_episode, "frames": first_frame})
    starts = [int(x) for x in a.meta.episodes["dataset_from_index"]]
    for start, length in zip(starts, lengths_a, strict=True):
        for index in sorted({start, start + (length - 1) // 2, start + length - 1}):
            _verify_frame(a, b, index, first_frame)


def _verify_columns(a: Any, b: Any, offsets: dict[str, int]) -> None:
    """Every column of `a` but task_index equals `b`'s rows from `offsets["frames"]` on (shifted ones
    by their offset)."""
    import numpy as np

    first_frame, n = offsets["frames"], a.meta.total_frames
    for column in a.hf_dataset.column_names:
        if column == "task_index" or column not in b.hf_dataset.column_names:
            continue
        want = np.asarray(a.hf_dataset[column])
        if column in SHIFTED:
            want = want + offsets[SHIFTED[column]]
        got = np.asarray(b.hf_dataset[column])[first_frame : first_frame + n]
        if not np.array_equal(want, got):
            raise DatasetError(f"column {column!r} differs from frame {first_frame}")


def _verify_frame(a: Any, b: Any, index: int, first_frame: int) -> None:
    """Frame `index` of `a` (task and decoded images) equals frame `index + first_frame` of `b`."""
    item_a, item_b = a[index], b[index + first_frame]
    if item_a["task"] != item_b["task"]:
        raise DatasetError(f"task differs at frame {index + first_frame}")
    for key in a.meta.video_keys:
        if not bool((item_a[key] == item_b[key]).all()):
            raise DatasetError(f"{key} differs at frame {index + first_frame}")


def forget_decoded_videos() -> None:
    """Drop lerobot's per-process video decoders: they are keyed by path and would keep reading a
    file that compaction replaced (a 4-frame episode video where the packed one now lies)."""
    from lerobot.datasets import video_utils

    cache = getattr(video_utils, "_default_decoder_cache", None)
    if cache is not None:
        cache.clear()
