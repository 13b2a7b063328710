"""Repair a dataset left by a killed recorder (the recorder also does this itself on resume).

    python scripts/repair_dataset.py --root outputs/record/sim_teleop_pick [--repo_id local/sim_teleop_pick]

Rolls back an episode commit that was interrupted (its journal in `<root>/.recorder/`), removes the
streaming encoder's temporary files of an unfinished episode, drops sidecar records of episodes that
are not in the dataset, then loads the dataset to show it is whole.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.lock import RootInUse, RootLock
from sim_teleop.dataset.reader import read_info
from sim_teleop.dataset.repair import repair
from sim_teleop.dataset.sidecar import EpisodeSidecar


def repair_failed_message(exc: OSError, root: Path) -> str:
    """One line: why repair stopped and that running it again is safe (every step is atomic)."""
    what = "the disk is full" if exc.errno == errno.ENOSPC else f"{exc.strerror or exc}"
    return (
        f"repair stopped: {what} ({exc.filename or root}). Every step it took is complete and the dataset "
        "loads as it is; free some space (or fix the cause) and run it again to finish"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, type=Path)
    ap.add_argument("--repo_id", default="local/dataset")
    args = ap.parse_args(argv)
    if not args.root.is_dir():  # before the lock, which would create it
        what = "is not a directory" if args.root.exists() else "does not exist"
        print(f"error: --root {args.root} {what}: nothing to repair", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    lock = RootLock(args.root, "repair_dataset.py")
    try:
        lock.acquire()
    except RootInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        report = repair(args.root)
        total = int(read_info(args.root).get("total_episodes", 0))
        EpisodeSidecar(args.root).drop_after(total)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {repair_failed_message(exc, args.root)}", file=sys.stderr)
        return 1
    finally:
        lock.release()
    print(f"repair: {report.summary()}")
    if total == 0:
        print(f"{args.root} holds no episode yet (resume the recording to add some)")
        return 0
    from lerobot.datasets import LeRobotDataset

    ds = LeRobotDataset(args.repo_id, root=args.root)
    print(f"{args.root}: {ds.meta.total_episodes} episodes, {ds.meta.total_frames} frames, loads fine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
