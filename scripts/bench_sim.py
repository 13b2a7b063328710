"""Benchmark the sim: step latency with gym-hil's default render settings vs ours, and ticks served.

Part 1 steps PickCube in-process with both cameras, default render settings and ours, in the same run,
and prints p50/p99 step latency and the speed-up. Part 2 runs the headless sim node under `dora run`
for --seconds with a counter node and prints the fraction of timer ticks for which a frame was emitted.

    uv run python scripts/bench_sim.py [--steps 60] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from sim_teleop.launch.dora import dora_environment

REPO = Path(__file__).resolve().parents[1]


def step_latencies(fast: bool, steps: int) -> np.ndarray:
    from sim_teleop.sim.env import SimEnv

    sim = SimEnv(fast_render=fast)
    sim.reset(placement=0)
    rng = np.random.default_rng(0)
    times = []
    for i in range(steps + 3):
        action = np.array([*rng.uniform(-0.1, 0.1, 3), float(i % 20 > 10)], dtype=np.float32)
        t0 = time.perf_counter()
        sim.step(action)
        if i >= 3:  # skip warm-up steps
            times.append(time.perf_counter() - t0)
    sim.close()
    return np.array(times) * 1e3


def counter_node(out_path: str) -> None:
    """Runs inside the dataflow: records (tick_index, ticks_missed, receive time) per frame."""
    from dora import Node

    from sim_teleop.messages import decode_frame

    rows = []
    for event in Node():
        if event["type"] == "INPUT":
            f = decode_frame(event["value"])
            rows.append((f.tick_index, f.ticks_missed, time.monotonic()))
    Path(out_path).write_text(json.dumps(rows))


def ticks_served(seconds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ticks.json"
        flow = Path(tmp) / "bench-sim.yaml"
        flow.write_text(
            f"""nodes:
  - id: sim
    path: sim-teleop-sim
    inputs:
      tick:
        source: dora/timer/millis/100
        queue_size: 1
    outputs: [frame]
  - id: counter
    path: {Path(__file__).resolve()}
    args: --counter-node {out}
    inputs:
      frame:
        source: sim/frame
        queue_size: 1000
"""
        )
        env = dora_environment(SIM_TIME_LIMIT_S="100000")
        subprocess.run(
            ["dora", "run", str(flow), "--stop-after", f"{seconds}s"],
            cwd=tmp,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        rows = json.loads(out.read_text())[1:]  # the first frame opens the channel; counting starts after
    ticks = [r[0] for r in rows]
    frames = len(rows)
    expected = ticks[-1] - ticks[0] + 1
    gaps = np.diff([r[2] for r in rows]) * 1e3
    return {
        "frames": frames,
        "ticks": expected,
        "served": frames / expected,
        "missed_by_sim": rows[-1][1] - rows[0][1],
        "interval_p50_ms": float(np.percentile(gaps, 50)),
        "interval_p99_ms": float(np.percentile(gaps, 99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=60, help="steps per render setting")
    parser.add_argument("--seconds", type=int, default=60, help="length of the dataflow run")
    parser.add_argument("--counter-node", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.counter_node:
        counter_node(args.counter_node)
        return
    os.environ.setdefault("MUJOCO_GL", "osmesa")
    print(f"step latency, PickCube, two 128x128 cameras, {args.steps} steps each, {os.cpu_count()} CPUs")
    results = {}
    for name, fast in (("gym-hil default", False), ("ours (fast render)", True)):
        ms = step_latencies(fast, args.steps)
        results[name] = ms
        print(f"  {name:20s} p50 {np.percentile(ms, 50):7.1f} ms   p99 {np.percentile(ms, 99):7.1f} ms")
    d, f = results["gym-hil default"], results["ours (fast render)"]
    p99_ratio = np.percentile(d, 99) / np.percentile(f, 99)
    print(f"  speed-up: p50 {np.median(d) / np.median(f):.1f}x, p99 {p99_ratio:.1f}x")
    print(f"headless `dora run` of the sim node for {args.seconds} s (10 Hz timer)")
    t = ticks_served(args.seconds)
    print(
        f"  frames {t['frames']} / ticks {t['ticks']} = {100 * t['served']:.2f}% served; "
        f"sim-counted missed ticks {t['missed_by_sim']}; "
        f"frame interval p50 {t['interval_p50_ms']:.1f} ms, p99 {t['interval_p99_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
