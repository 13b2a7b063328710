"""Pack a finished dataset's per-episode files into lerobot's standard file sizes, in place.

    python scripts/compact_dataset.py --root outputs/autopilot/pick_cube [--repo_id local/autopilot_pick_cube]

A dataset left by a killed recording is repaired first, as resume does. The packed copy is
verified against the original (episodes, every column, decoded frames) before it replaces the root in
one atomic exchange; a kill at any moment leaves a whole dataset. Recording can resume on a compacted
dataset and `delete_episodes.py` works on it as before.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.compact import compact
from sim_teleop.dataset.lock import RootInUse, RootLock
from sim_teleop.dataset.reader import is_dataset, not_a_dataset
from sim_teleop.nodes.serve import quiet_libraries


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, type=Path)
    ap.add_argument("--repo_id", default="local/dataset")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    quiet_libraries()
    if not is_dataset(args.root):
        print(f"error: {not_a_dataset(args.root)}", file=sys.stderr)
        return 2
    try:
        with RootLock(args.root, "compact_dataset.py"):
            report = compact(args.root, args.repo_id)
    except (RootInUse, DatasetError) as exc:
        print(f"error: {exc}; nothing was changed", file=sys.stderr)
        return 1
    print(report.summary(args.root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
