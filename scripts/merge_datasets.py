"""Merge finished datasets (e.g. one per machine or per session) into one new, packed LeRobotDataset v3.0.

    python scripts/merge_datasets.py --sources outputs/autopilot/a outputs/autopilot/b \
        --output outputs/autopilot/merged [--repo_id local/merged]

Episodes follow in the order of --sources, numbered contiguously; the per-episode sidecar (quality
reports, annotations) moves with them. Corrections and demonstrations merge: when one source has the
per-frame `intervention` flag (an eval with takeovers), a source without it is merged as all False.
Refuses, writing nothing, when the sources differ in fps, features or cameras, or when --output exists.
The result is verified against every source (every column, decoded frames at the start, middle and end
of every episode) before it appears at --output.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.lock import RootInUse, RootLock
from sim_teleop.dataset.merge import lacking_intervention, merge
from sim_teleop.dataset.reader import is_dataset, not_a_dataset
from sim_teleop.nodes.serve import quiet_libraries


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", required=True, nargs="+", type=Path)
    ap.add_argument("--output", required=True, type=Path)
    ap.add_argument("--repo_id", default="local/merged")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    quiet_libraries()
    for src in args.sources:
        if not is_dataset(src):
            print(f"error: {not_a_dataset(src)}; nothing was written", file=sys.stderr)
            return 2
    if len({src.resolve() for src in args.sources}) != len(args.sources):
        print("error: a source is named twice; nothing was written", file=sys.stderr)
        return 2
    try:
        with contextlib.ExitStack() as locks:
            for root in (*args.sources, args.output):
                locks.enter_context(RootLock(root, "merge_datasets.py"))
            for src in lacking_intervention(list(args.sources)):
                print(f"{src}: no 'intervention' column: merged as all False (demonstrations)")
            report = merge(list(args.sources), args.output, args.repo_id)
    except (RootInUse, DatasetError) as exc:
        print(f"error: {exc}; nothing was written", file=sys.stderr)
        return 1
    print(
        f"merged {len(args.sources)} datasets into {args.output}: {report.episodes} episodes, "
        f"{report.frames} frames, {report.files_before} files -> {report.files_after}, verified, "
        f"in {report.seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
