"""Benchmark scale-out on one machine: episodes/min of one autopilot dataflow vs two in parallel, and
the merge time of the two parts (per 100 episodes), in the same run.

    .venv/bin/python scripts/bench_parallel.py [--episodes 10] [--tick-ms 60]

Each run is a plain `dora run dataflow-autopilot.yaml` into a temporary root, with its own SIM_SEED;
episodes/min counts whole runs (start-up included), as a user waits for them. On one 2-core machine the
two dataflows share the CPU; across machines each would have its own.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sim_teleop.launch.dora import dora_environment, run_dora

REPO = Path(__file__).resolve().parents[1]


def autopilot(root: Path, seed: int, episodes: int, tick_ms: int, out: dict[int, tuple[int, float]]) -> None:
    env = dora_environment(
        RECORD_ROOT=str(root),
        SIM_SEED=str(seed),
        AUTOPILOT_EPISODES=str(episodes),
        AUTOPILOT_TICK_MS=str(tick_ms),
    )
    rc, text, seconds = run_dora(REPO / "dataflow-autopilot.yaml", env, REPO, timeout_s=1800)
    if rc != 0:
        print(text[-3000:], file=sys.stderr)
    out[seed] = (rc, seconds)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--tick-ms", type=int, default=60)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        one: dict[int, tuple[int, float]] = {}
        autopilot(base / "one", 1, args.episodes, args.tick_ms, one)
        two: dict[int, tuple[int, float]] = {}
        t0 = time.perf_counter()
        runs = [
            threading.Thread(target=autopilot, args=(base / f"part{s}", s, args.episodes, args.tick_ms, two))
            for s in (2, 3)
        ]
        for run in runs:
            run.start()
        for run in runs:
            run.join()
        both = time.perf_counter() - t0
        if any(rc != 0 for rc, _ in [*one.values(), *two.values()]):
            print("a dataflow failed (its output is above)", file=sys.stderr)
            return 1
        t1 = time.perf_counter()
        merged = subprocess.run(
            [
                sys.executable,
                str(REPO / "scripts" / "merge_datasets.py"),
                "--sources",
                str(base / "part2"),
                str(base / "part3"),
                "--output",
                str(base / "merged"),
            ],
            capture_output=True,
            text=True,
        )
        merge_s = time.perf_counter() - t1
        if merged.returncode != 0:
            print(merged.stderr[-2000:], file=sys.stderr)
            return 1
    single = args.episodes / (one[1][1] / 60)
    parallel = 2 * args.episodes / (both / 60)
    print(f"one dataflow : {args.episodes} episodes in {one[1][1]:.1f} s = {single:.1f} episodes/min")
    print(f"two parallel : {2 * args.episodes} episodes in {both:.1f} s = {parallel:.1f} episodes/min")
    print(f"scaling ratio: {parallel / single:.2f} (2.00 = perfect; same machine, {args.tick_ms} ms tick)")
    per_100 = 100 * merge_s / (2 * args.episodes)
    print(f"merge        : {2 * args.episodes} episodes in {merge_s:.1f} s = {per_100:.0f} s per 100")
    return 0


if __name__ == "__main__":
    sys.exit(main())
