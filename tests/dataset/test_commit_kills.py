"""A real SIGKILL at every filesystem step of a commit: lerobot sees the committed episodes, never more.

strace runs the publishing process and kills it (`-e inject=...:signal=SIGKILL:when=K`) at its K-th call
that changes the filesystem (rename, link, unlink, mkdir, rmdir, open for writing is not counted: it only
fills a file no reader knows yet), for every K the commit has. After each kill, lerobot's own
`LeRobotDataset` must hold exactly 2 episodes (killed before the exchange) or exactly 3 (after it) in
`info.json`, `meta.episodes` and `hf_dataset` alike, the sidecar must hold the same episodes, and a
resume must tidy and continue. Before the atomic exchange, 8 of 22 such kills left lerobot's
`hf_dataset` with rows of the uncommitted episode.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from recorded import lerobot_view, make_cfg, record, stage_episode

from sim_teleop.dataset.publish import pending_path
from sim_teleop.dataset.repair import needs_repair
from sim_teleop.dataset.sidecar import EpisodeSidecar

pytestmark = pytest.mark.dataflow  # a subprocess per filesystem step (~100 s)
SYSCALLS = "rename,renameat,renameat2,link,linkat,unlink,unlinkat,mkdir,mkdirat,rmdir"
PUBLISH = """
import sys
from pathlib import Path
from sim_teleop.dataset.publish import publish
from sim_teleop.dataset.sidecar import EpisodeSidecar
root = Path(sys.argv[1])
sidecar = EpisodeSidecar(root)
publish(root, lambda tree: sidecar.put(2, into=tree, quality={"score": 0.5}))
"""


def staged(base: Path, root: Path) -> None:
    """A copy of `base` with a third episode saved and finalized in the writer's stage, not published."""
    shutil.copytree(base, root)
    stage_episode(root, 5)


def publish_under_strace(root: Path, kill_at: tuple[str, int] | None, log: Path) -> int:
    """Publish the staged episode of `root`; with `kill_at=(syscall, k)`, SIGKILLed at that syscall's
    k-th call (strace counts each syscall on its own)."""
    inject = [] if kill_at is None else ["-e", f"inject={kill_at[0]}:signal=SIGKILL:when={kill_at[1]}"]
    cmd = ["strace", "-f", "-qq", "-o", str(log), "-e", f"trace={SYSCALLS}", *inject]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([*cmd, sys.executable, "-c", PUBLISH, str(root)], env=env, timeout=120)
    return proc.returncode


def test_a_sigkill_at_every_filesystem_step_of_a_commit(tmp_path: Path) -> None:
    base = tmp_path / "base"
    record(make_cfg(base, num_episodes=9), [4, 3], quality={0: 0.9, 1: 0.8}, expects_quality=True)
    template = tmp_path / "template"
    staged(base, template)

    full = tmp_path / "full"
    shutil.copytree(template, full)
    assert publish_under_strace(full, None, tmp_path / "count.log") == 0
    calls = [line.split()[1].split("(")[0] for line in (tmp_path / "count.log").read_text().splitlines()]
    assert lerobot_view(full) == (3, 12, 3, 12)
    # links of the committed files, moves of the new ones, the exchange, the old version deleted
    assert {"link", "rename", "renameat2", "unlinkat"} <= set(calls) and len(calls) >= 20, calls
    steps = [(name, calls[: i + 1].count(name)) for i, name in enumerate(calls)]

    def killed(k: int) -> int:
        root = tmp_path / f"k{k}"
        shutil.copytree(template, root)
        return publish_under_strace(root, steps[k], tmp_path / f"k{k}.log")

    # The kills are independent (a root each): two at a time, as the publishing processes mostly wait
    # on strace's stops. Then each root is checked in this process.
    with ThreadPoolExecutor(max_workers=2) as pool:
        codes = list(pool.map(killed, range(len(steps))))
    outcomes = {2: 0, 3: 0}
    for k, step in enumerate(steps):
        root = tmp_path / f"k{k}"
        assert codes[k] != 0, step  # it was killed
        view = lerobot_view(root)
        assert view in ((2, 7, 2, 7), (3, 12, 3, 12)), (step, view)
        held = view[0]
        outcomes[held] += 1
        assert sorted(EpisodeSidecar(root).records) == list(range(held)), step
        assert needs_repair(root), step
        shutil.rmtree(root)
        shutil.rmtree(pending_path(root), ignore_errors=True)
    assert outcomes[2] > 0 and outcomes[3] > 0, outcomes  # kills landed on both sides of the exchange

    # After the last kind of kill (the old version left beside the root), a resume tidies and continues.
    root = tmp_path / "resume"
    shutil.copytree(template, root)
    assert publish_under_strace(root, steps[-1], tmp_path / "last.log") != 0
    record(make_cfg(root, num_episodes=4, resume=True), [6])
    assert lerobot_view(root) == (4, 18, 4, 18) and not pending_path(root).exists()
