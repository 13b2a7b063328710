"""Merge finished datasets into one new packed dataset, verified before it appears.

Why its own module: merging shares compaction's machinery (lerobot's `aggregate_datasets`, the episode
pointers it leaves wrong, the frame-by-frame verification) but not its promise: it never changes a
source, and the output only appears, whole, once every source's episodes were found in it.

Corrections meet demonstrations here: an eval with takeovers stores the per-frame `intervention` flag,
demonstrations recorded by hand do not (nobody intervenes in their own demonstration). A source without
the flag is merged as all `False`, through a copy made with LeRobot's own `add_features`; the source
itself is never touched.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.compact import (
    CompactReport,
    count_files,
    forget_decoded_videos,
    point_episodes_at_their_files,
    verify_part,
)
from sim_teleop.dataset.features import INTERVENTION_KEY, build_features, compat_problems, has_intervention
from sim_teleop.dataset.reader import read_info
from sim_teleop.dataset.repair import needs_repair
from sim_teleop.dataset.sidecar import EpisodeSidecar


def merge(sources: list[Path], output: Path, repo_id: str = "local/merged") -> CompactReport:
    """Merge finished datasets (in order) into a new packed one at `output`; nothing is written
    unless the sources agree on fps, features and cameras, and `output` only appears once verified.

    Sidecar records move with their episodes (indices shifted by the episodes of the sources
    before). The sources are read, never changed; the caller holds their RootLocks."""
    from lerobot.datasets.aggregate import aggregate_datasets

    t0 = time.perf_counter()
    if output.exists():
        raise DatasetError(f"{output} exists; merging never overwrites: choose a new --output")
    infos = _mergeable_infos(sources)
    work = output.with_name(f"{output.name}.merging")
    filling = output.with_name(f"{output.name}.filling")
    for leftover in (work, filling):
        if leftover.exists():
            shutil.rmtree(leftover)  # left by a killed merge
    try:
        roots = _with_intervention(sources, infos, filling, repo_id)
        aggregate_datasets([repo_id] * len(sources), repo_id, roots=roots, aggr_root=work)
        point_episodes_at_their_files(work)
        episodes, frames = _verify_merged(sources, infos, work, repo_id)
    except Exception:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(filling, ignore_errors=True)
    os.replace(work, output)
    return CompactReport(
        episodes,
        frames,
        sum(count_files(src) for src in sources),
        count_files(output),
        time.perf_counter() - t0,
    )


def lacking_intervention(sources: list[Path]) -> list[Path]:
    """The sources that will be merged with an all-`False` intervention flag (none if no source has it)."""
    flags = [has_intervention(read_info(src)) for src in sources]
    return [src for src, flag in zip(sources, flags, strict=True) if any(flags) and not flag]


def _mergeable_infos(sources: list[Path]) -> list[dict]:
    """The sources' info.json, once each is whole and all agree with the first on fps and features
    (the intervention flag aside: a source without it gets it, all `False`)."""
    infos = []
    for src in sources:
        if needs_repair(src):
            raise DatasetError(
                f"{src} was left by an interrupted recording: run repair_dataset.py on it first"
            )
        infos.append(read_info(src))
    flag = {INTERVENTION_KEY: build_features(intervention=True)[INTERVENTION_KEY]}
    first = {**infos[0]["features"], **flag}
    for src, info in zip(sources[1:], infos[1:], strict=True):
        problems = compat_problems(
            {**info, "features": {**info["features"], **flag}}, int(infos[0]["fps"]), first
        )
        if info.get("robot_type") != infos[0].get("robot_type"):  # lerobot's aggregate refuses it too
            problems.append(f"robot type: {info.get('robot_type')!r}, not {infos[0].get('robot_type')!r}")
        if problems:
            raise DatasetError(f"{src} differs from {sources[0]}: " + "; ".join(problems))
    return infos


def _with_intervention(sources: list[Path], infos: list[dict], filling: Path, repo_id: str) -> list[Path]:
    """The roots to aggregate: each source, or for one without the intervention flag (when another has
    it) a copy under `filling` with the flag all `False`, made by LeRobot's `add_features`."""
    import numpy as np
    from lerobot.datasets import LeRobotDataset
    from lerobot.datasets.dataset_tools import add_features

    if not any(has_intervention(info) for info in infos):
        return list(sources)
    feature = build_features(intervention=True)[INTERVENTION_KEY]
    roots = []
    for k, (src, info) in enumerate(zip(sources, infos, strict=True)):
        if has_intervention(info):
            roots.append(src)
            continue
        copy = filling / str(k)
        ds = LeRobotDataset(repo_id, root=src)
        flags = np.zeros((ds.meta.total_frames, 1), dtype=bool)
        add_features(ds, {INTERVENTION_KEY: (flags, feature)}, output_dir=copy, repo_id=repo_id)
        roots.append(copy)
    return roots


def _verify_merged(sources: list[Path], infos: list[dict], work: Path, repo_id: str) -> tuple[int, int]:
    """Check the merged copy in `work` against every source and give it their sidecar records, shifted;
    returns its (episodes, frames)."""
    import numpy as np
    from lerobot.datasets import LeRobotDataset

    merged_sidecar = EpisodeSidecar(work)
    forget_decoded_videos()
    merged = LeRobotDataset(repo_id, root=work)
    first_episode = first_frame = 0
    for src, info in zip(sources, infos, strict=True):
        for index, record in EpisodeSidecar(src).records.items():
            shifted = index + first_episode
            merged_sidecar.records[shifted] = {**record, "episode_index": shifted}
        verify_part(LeRobotDataset(repo_id, root=src), merged, first_episode, first_frame)
        if INTERVENTION_KEY in merged.hf_dataset.column_names and not has_intervention(info):
            n = int(info["total_frames"])
            filled = np.asarray(merged.hf_dataset[INTERVENTION_KEY])[first_frame : first_frame + n]
            if len(filled) != n or filled.any():
                raise DatasetError(f"{src}: its frames' {INTERVENTION_KEY!r} flag did not merge as all False")
        first_episode += int(info["total_episodes"])
        first_frame += int(info["total_frames"])
    if merged_sidecar.records:
        merged_sidecar.save()
    if (merged.meta.total_episodes, merged.meta.total_frames) != (first_episode, first_frame):
        raise DatasetError(
            f"merged dataset holds {merged.meta.total_episodes} episodes / {merged.meta.total_frames} "
            f"frames, the sources {first_episode} / {first_frame}"
        )
    return first_episode, first_frame
