"""A really full filesystem (a small tmpfs): the recorder stops with one line, what was committed
loads as left, and repair finishes on the full disk or fails cleanly and finishes once space is freed."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from recorder_fakes import ScriptedSim, episode_frames
from recorder_flows import run_script

from sim_teleop.dataset.reader import dataset_files
from sim_teleop.dataset.sidecar import SIDECAR_RELPATH, EpisodeSidecar
from sim_teleop.recorder.config import RecordConfig
from sim_teleop.recorder.session import Recorder

REPO = Path(__file__).resolve().parents[2]
REPO_ID = "test/full"


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs; mounting one needs root (CI runs as root)."""
    mnt = tmp_path / "fs"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(fs: Path) -> Path:
    """Write a file until the filesystem has not one byte left."""
    path = fs / "filler"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        for chunk in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError:
                pass
    finally:
        os.close(fd)
    return path


def repair_script(root: Path) -> subprocess.CompletedProcess[str]:
    return run_script("repair_dataset.py", "--root", str(root), "--repo_id", REPO_ID)


def load(root: Path):
    from lerobot.datasets import LeRobotDataset

    return LeRobotDataset(REPO_ID, root=root)


@pytest.mark.dataflow  # script subprocesses
def test_a_full_disk_keeps_committed_episodes_and_repair_never_half_writes(small_fs: Path) -> None:
    root = small_fs / "ds"
    cfg = RecordConfig.from_dict(
        {"repo_id": REPO_ID, "root": str(root), "rerun": "off", "num_episodes": 9, "writer": "inline"}
    )
    logs: list[str] = []
    rec = Recorder(cfg, expects_quality=False, log=logs.append)
    sim = ScriptedSim()
    for n in (4, 3):
        for f in episode_frames(sim, n):
            rec.on_frame(f)
    assert rec.saved == 2
    filler = fill(small_fs)
    for f in episode_frames(sim, 5):  # the third episode hits the full disk
        rec.on_frame(f)
    with pytest.raises(OSError):
        rec.close()
    errors = [line for line in logs if "ERROR" in line]
    assert len(errors) == 1 and "disk is full" in errors[0] and "RESUME_RECORDING=1" in errors[0], logs
    assert list(load(root).meta.episodes["length"]) == [4, 3]  # as left, no repair

    # Repair on the still-full disk: it only renames and deletes, so it finishes.
    proc = repair_script(root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not (root / ".recorder").exists()

    # A repair that must write (a sidecar record ahead of info.json) on a disk with no byte left:
    # one line, nothing half-written, the dataset unchanged; it finishes once space is freed.
    sidecar = root / SIDECAR_RELPATH
    with sidecar.open("a") as fh:
        fh.write(json.dumps({"episode_index": 2, "end_reason": "next"}) + "\n")
    fill(small_fs)
    before = dataset_files(root)
    proc = repair_script(root)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "disk is full" in lines[0] and "run it again" in lines[0], proc.stderr[-2000:]
    assert dataset_files(root) == before  # no temp file, nothing changed
    filler.unlink()
    (small_fs / "filler").unlink(missing_ok=True)
    proc = repair_script(root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 episodes" in proc.stdout
    assert len(sidecar.read_text().splitlines()) == 2 and sorted(EpisodeSidecar(root).records) == [0, 1]

    # With space again, resume records on.
    cfg = RecordConfig.from_dict(
        {"repo_id": REPO_ID, "root": str(root), "rerun": "off", "num_episodes": 3, "resume": True}
    )
    rec = Recorder(cfg, expects_quality=False, log=logs.append)
    for f in episode_frames(sim, 6):
        rec.on_frame(f)
    rec.close()
    assert list(load(root).meta.episodes["length"]) == [4, 3, 6]
