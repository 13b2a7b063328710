"""Benchmark compaction: file count and load time of a dataset before and after, in the same run.

    python scripts/bench_compact.py --root outputs/autopilot/pick_cube [--items 2000]

Works on a copy (the source is not touched). Load time = `LeRobotDataset(...)` open, then one pass
over a DataLoader (batch 32, no workers) of the first `--items` frames (all when 0), which decodes
both cameras' video.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from sim_teleop.dataset.compact import compact, count_files, forget_decoded_videos
from sim_teleop.nodes.serve import quiet_libraries


def load_seconds(root: Path, repo_id: str, items: int) -> tuple[float, float]:
    import torch
    from lerobot.datasets import LeRobotDataset

    forget_decoded_videos()
    t0 = time.perf_counter()
    ds = LeRobotDataset(repo_id, root=root)
    opened = time.perf_counter() - t0
    subset = ds if items <= 0 else torch.utils.data.Subset(ds, range(min(items, len(ds))))
    t1 = time.perf_counter()
    for _ in torch.utils.data.DataLoader(subset, batch_size=32, num_workers=0):
        pass
    return opened, time.perf_counter() - t1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, type=Path)
    ap.add_argument("--repo_id", default="local/dataset")
    ap.add_argument("--items", type=int, default=2000)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    quiet_libraries()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / args.root.name
        shutil.copytree(args.root, work)
        files_before = count_files(work)
        open_a, pass_a = load_seconds(work, args.repo_id, args.items)
        report = compact(work, args.repo_id)
        open_b, pass_b = load_seconds(work, args.repo_id, args.items)
    what = f"{args.items} frames" if args.items > 0 else "all frames"
    n_after = report.files_after
    print(f"{report.episodes} episodes, {report.frames} frames; compacted in {report.seconds:.1f} s")
    print(f"files {files_before:6d} -> {n_after:6d}    ratio {n_after / files_before:.3f}")
    print(f"open  {open_a:6.2f} -> {open_b:6.2f} s  ratio {open_b / open_a:.2f}")
    print(f"pass  {pass_a:6.2f} -> {pass_b:6.2f} s  ratio {pass_b / pass_a:.2f} ({what})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
