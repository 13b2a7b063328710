"""Derive a training dataset with smaller camera images from a recorded LeRobotDataset v3.0.

    python scripts/resize_dataset.py --root outputs/autopilot/pick_cube \
        --output outputs/autopilot/pick_cube_64 --size 64

Every episode, frame, action, state and flag is copied; each camera is area-resized and re-encoded
(`sim_teleop.dataset.resize`). The output root must not exist; on any error it is removed.
`--drop-pauses` leaves out the frames where the command stood still (a person's looks and reactions),
keeping every movement and the frames around each gripper change (`sim_teleop.dataset.pauses`);
`--corrections-only` keeps, in episodes a person took over, only the frames they drove.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.reader import is_dataset, not_a_dataset
from sim_teleop.dataset.resize import resize_dataset
from sim_teleop.nodes.serve import quiet_libraries


def _say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", required=True, type=Path, help="recorded dataset")
    parser.add_argument("--output", required=True, type=Path, help="new dataset root (must not exist)")
    parser.add_argument("--size", type=int, default=64, help="output height = width in pixels (64)")
    parser.add_argument("--repo_id", default=None, help="repo id of the output (local/<output name>)")
    parser.add_argument(
        "--drop-pauses", action="store_true", help="leave out frames where the command stood still"
    )
    parser.add_argument(
        "--corrections-only",
        action="store_true",
        help="in episodes a person took over, keep only the frames they drove",
    )
    args = parser.parse_args(argv)
    if args.output.exists():
        print(f"[resize] {args.output} exists: choose a new --output", file=sys.stderr)
        return 2
    if not is_dataset(args.root):
        print(f"[resize] {not_a_dataset(args.root)}", file=sys.stderr)
        return 2
    if args.size < 8:
        print(f"[resize] --size {args.size}: must be >= 8", file=sys.stderr)
        return 2
    quiet_libraries()
    t0 = time.perf_counter()
    try:
        n = resize_dataset(
            args.root,
            args.output,
            args.size,
            args.repo_id,
            say=_say,
            drop_pauses=args.drop_pauses,
            corrections_only=args.corrections_only,
        )
    except DatasetError as exc:
        print(f"[resize] {exc}", file=sys.stderr)
        return 2
    took = time.perf_counter() - t0
    print(f"[resize] {n} episodes -> {args.output} ({args.size}x{args.size}) in {took:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
