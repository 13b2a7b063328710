"""One writer per dataset root: a second recorder or script refuses at once and touches nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.lock import RootInUse, RootLock, lock_path
from sim_teleop.dataset.reader import dataset_files
from sim_teleop.recorder.config import RecordConfig
from sim_teleop.recorder.session import Recorder

REPO = Path(__file__).resolve().parents[2]


def _holder(root: Path) -> subprocess.Popen:
    """Another process that takes the lock and sleeps (as a running recorder would)."""
    code = textwrap.dedent(
        f"""
        import time
        from sim_teleop.dataset.lock import RootLock
        lock = RootLock({str(root)!r}, "a recorder").acquire()
        print("locked", flush=True)
        time.sleep(120)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_second_lock_is_refused_and_names_the_holder(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    with RootLock(root, "a recorder"):
        with pytest.raises(RootInUse, match=rf"in use by a recorder \(pid {os.getpid()}"):
            RootLock(root, "repair_dataset.py").acquire()
        assert not root.exists()  # the lock lives beside the root, which may not exist yet
    RootLock(root, "repair_dataset.py").acquire().release()  # free again after release


@pytest.mark.dataflow  # starts a Python subprocess
def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    proc = _holder(root)
    try:
        with pytest.raises(RootInUse, match=f"pid {proc.pid}"):
            RootLock(root, "x").acquire()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    RootLock(root, "x").acquire().release()
    assert lock_path(root).is_file()


@pytest.mark.dataflow  # starts a Python subprocess
def test_a_second_recorder_refuses_and_the_first_root_is_untouched(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    (root / "marker").write_text("the first run's files")
    before = dataset_files(root)
    proc = _holder(root)
    try:
        cfg = RecordConfig.from_dict(
            {"repo_id": "test/lock", "root": str(root), "rerun": "off", "resume": True}
        )
        with pytest.raises(DatasetError, match="in use by a recorder"):
            Recorder(cfg, expects_quality=False, log=lambda _msg: None)
        for script, args in (
            ("repair_dataset.py", ["--root", str(root)]),
            (
                "delete_episodes.py",
                ["--root", str(root), "--repo_id", "test/lock", "--episode_indices", "[0]"],
            ),
        ):
            t0 = time.monotonic()
            out = subprocess.run(
                [sys.executable, str(REPO / "scripts" / script), *args],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert out.returncode == 2, out.stderr
            assert "in use by a recorder" in out.stderr and "nothing was touched" in out.stderr
            assert time.monotonic() - t0 < 60
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert dataset_files(root) == before
