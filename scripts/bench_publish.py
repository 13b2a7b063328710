"""What an atomic commit costs: `publish` (next version hard-linked beside the root, one exchange) against
renaming the episode's files into the root one by one (the design before, not atomic for lerobot).

    python scripts/bench_publish.py [--files 40 400 4000] [--repeat 20]

A synthetic root of N committed files (the recorder writes ~4 per episode until compaction: 4000 files is
~1000 uncompacted episodes) and a stage with one new episode (4 files) and the 3 rewritten metadata
files; both ways are timed in the same run, on the same filesystem. Prints ms per commit and the ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from sim_teleop.dataset.journal import JOURNAL_DIR, STAGE
from sim_teleop.dataset.publish import MUTABLE, listed_files, publish

NEW = (
    "data/chunk-000/new.parquet",
    "meta/episodes/chunk-000/new.parquet",
    "videos/front/new.mp4",
    "videos/wrist/new.mp4",
)


def make_root(root: Path, files: int) -> None:
    for i in range(files):
        sub = ("data/chunk-000", "meta/episodes/chunk-000", "videos/front", "videos/wrist")[i % 4]
        path = root / sub / f"file-{i:05d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 64)
    for rel in MUTABLE:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("{}")


def stage_episode(root: Path) -> None:
    stage = root / JOURNAL_DIR / STAGE
    for rel in (*NEW, *MUTABLE):
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        (stage / rel).write_text("{}")


def rename_in(root: Path) -> None:
    """The baseline: the stage's files renamed into the root, info.json last."""
    stage = root / JOURNAL_DIR / STAGE
    for rel in [*listed_files(stage), *MUTABLE]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / rel, root / rel)


def time_one(files: int, commit, repeat: int) -> float:
    """Median ms of `commit(root)` over `repeat` fresh copies (the copy is not timed)."""
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template"
        make_root(template, files)
        for i in range(repeat):
            root = Path(tmp) / f"root{i}"
            shutil.copytree(template, root)
            stage_episode(root)
            t0 = time.perf_counter()
            commit(root)
            times.append((time.perf_counter() - t0) * 1000)
            shutil.rmtree(root)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, nargs="+", default=[40, 400, 4000])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"{'files':>6} {'renames (ms)':>13} {'publish (ms)':>13} {'ratio':>6}")
    for files in args.files:
        base = time_one(files, rename_in, args.repeat)
        ours = time_one(files, publish, args.repeat)
        print(f"{files:>6} {base:>13.2f} {ours:>13.2f} {ours / base:>6.1f}")


if __name__ == "__main__":
    main()
