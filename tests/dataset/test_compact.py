"""Compaction: a per-episode dataset packed into a handful of files, same frames, sidecar aligned,
resume and delete still work, and a kill at any step leaves a whole dataset."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from recorded import load, make_cfg, record
from recorder_flows import run_delete, run_script

from sim_teleop.dataset.compact import compact, count_files, forget_decoded_videos, work_dir
from sim_teleop.dataset.reader import dataset_files
from sim_teleop.dataset.sidecar import EpisodeSidecar

REPO_ID = "test/rec"


def frames(root: Path) -> list[dict[str, np.ndarray]]:
    forget_decoded_videos()  # this process read the same paths before compaction replaced the files
    ds = load(root)
    return [{k: np.asarray(v) for k, v in ds[i].items() if k != "task"} for i in range(len(ds))]


def assert_same_frames(a: list[dict[str, np.ndarray]], b: list[dict[str, np.ndarray]]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for key in x:
            np.testing.assert_array_equal(x[key], y[key], err_msg=key)


@pytest.mark.dataflow  # script subprocesses
def test_compaction_packs_files_and_keeps_frames_sidecar_resume_and_delete(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    quality = {0: 0.9, 1: 0.2, 2: 0.8, 3: 0.7}
    record(make_cfg(root, num_episodes=9), [4, 5, 3, 6], quality=quality, expects_quality=True)
    before, sidecar_before = frames(root), EpisodeSidecar(root).records
    files_before = count_files(root)

    (root / ".recorder" / "stage" / "meta").mkdir(parents=True)  # a killed recording's leftover
    proc = run_script("compact_dataset.py", "--root", str(root), "--repo_id", REPO_ID)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "repair first: removed 1 leftover" in proc.stdout  # tidied first, as resume does
    assert f"{files_before} files -> 8 (4 episodes" in proc.stdout
    assert files_before == 4 * 4 + 4  # per episode: data, episodes meta, 2 videos; 3 meta files + sidecar
    for sub in (
        "data",
        "meta/episodes",
        "videos/observation.images.front",
        "videos/observation.images.wrist",
    ):
        assert len([p for p in (root / sub).rglob("*") if p.is_file()]) == 1, sub
    assert_same_frames(before, frames(root))
    assert EpisodeSidecar(root).records == sidecar_before
    assert not work_dir(root).exists()

    record(make_cfg(root, num_episodes=5, resume=True), [7])  # resume appends to the packed dataset
    assert list(load(root).meta.episodes["length"]) == [4, 5, 3, 6, 7]
    proc = run_delete(root, REPO_ID, "[1]")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert list(load(root).meta.episodes["length"]) == [4, 3, 6, 7]
    side = EpisodeSidecar(root)
    assert [side.records[i]["quality"]["score"] for i in range(3)] == [0.9, 0.8, 0.7]
    assert sorted(side.records) == [0, 1, 2, 3] and side.records[3]["quality"] is None  # the resumed one


class Killed(BaseException):
    """Stands for a SIGKILL at a compaction step."""


@pytest.mark.parametrize("at", ["packed", "sidecar", "verified", "exchanged"])
def test_a_kill_at_any_compaction_step_leaves_a_whole_dataset(at: str, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    record(make_cfg(root, num_episodes=9), [4, 5, 3])
    before, files = frames(root), dataset_files(root)

    def step(name: str) -> None:
        if name == at:
            raise Killed

    with contextlib.suppress(Killed):
        compact(root, REPO_ID, step=step)
    assert_same_frames(before, frames(root))  # the original, or the verified packed copy
    if at != "exchanged":
        assert dataset_files(root) == files  # the root was not touched before the exchange
    assert work_dir(root).exists()  # the leftover a kill leaves ...
    report = compact(root, REPO_ID)  # ... is removed by the next compaction, which completes
    assert not work_dir(root).exists() and report.episodes == 3
    assert_same_frames(before, frames(root))


@pytest.mark.dataflow  # script subprocesses
def test_merge_makes_one_contiguous_verified_dataset_and_refuses_mismatched_sources(tmp_path: Path) -> None:
    a, b, odd = tmp_path / "a", tmp_path / "b", tmp_path / "odd"
    record(make_cfg(a, num_episodes=9), [4, 5], quality={0: 0.9, 1: 0.8}, expects_quality=True)
    record(make_cfg(b, num_episodes=9), [3, 6, 2], quality={0: 0.7, 1: 0.6, 2: 0.5}, expects_quality=True)
    record(make_cfg(odd, num_episodes=9, fps=15), [3])
    frames_a, frames_b = frames(a), frames(b)
    out = tmp_path / "merged"

    proc = run_script("merge_datasets.py", "--sources", str(a), str(odd), "--output", str(out))
    assert proc.returncode == 1 and "fps" in proc.stderr and "nothing was written" in proc.stderr, proc.stderr
    assert not out.exists() and not out.with_name("merged.merging").exists()

    both = ["--sources", str(a), str(b), "--output", str(out)]
    proc = run_script("merge_datasets.py", *both, "--repo_id", REPO_ID)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "5 episodes, 20 frames" in proc.stdout and "verified" in proc.stdout
    ds = load(out)
    assert list(ds.meta.episodes["episode_index"]) == [0, 1, 2, 3, 4]
    assert list(ds.meta.episodes["length"]) == [4, 5, 3, 6, 2]
    merged = frames(out)
    for i, frame in enumerate(frames_b):  # b's frames follow a's, shifted in index and episode only
        frame = {**frame, "index": frame["index"] + 9, "episode_index": frame["episode_index"] + 2}
        assert_same_frames([frame], [merged[9 + i]])
    assert_same_frames(frames_a, merged[:9])
    side = EpisodeSidecar(out).records
    assert [side[i]["quality"]["score"] for i in range(5)] == [0.9, 0.8, 0.7, 0.6, 0.5]
    assert len([p for p in (out / "data").rglob("*") if p.is_file()]) == 1

    proc = run_script("merge_datasets.py", *both)
    assert proc.returncode == 1 and "never overwrites" in proc.stderr  # an existing output is refused


def test_the_recorder_packs_its_dataset_at_the_end_of_a_session_when_asked(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    rec, _ = record(make_cfg(root, num_episodes=9, compact_at_end=True), [4, 5, 3])
    said = [line for line in rec.logs if "compacted" in line]  # type: ignore[attr-defined]
    assert len(said) == 1 and "(3 episodes, 12 frames, verified)" in said[0], rec.logs  # type: ignore[attr-defined]
    assert len([p for p in (root / "data").rglob("*") if p.is_file()]) == 1
    assert list(load(root).meta.episodes["length"]) == [4, 5, 3]


@pytest.mark.dataflow  # script subprocesses
def test_a_real_sigkill_during_compaction_leaves_the_dataset_whole(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    record(make_cfg(root, num_episodes=9), [4, 5, 3, 6])
    before = frames(root)
    script = REPO / "scripts" / "compact_dataset.py"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, str(script), "--root", str(root), "--repo_id", REPO_ID], env=env)
    deadline = time.monotonic() + 120
    while not work_dir(root).exists():  # killed once the packed copy is being written
        assert proc.poll() is None and time.monotonic() < deadline, (
            "compaction ended before it could be killed"
        )
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert_same_frames(before, frames(root))
    assert compact(root, REPO_ID).episodes == 4 and not work_dir(root).exists()
