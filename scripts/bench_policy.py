"""Benchmark the trained policy: step latency on this CPU, ticks served in eval, end-to-end success.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_policy.py \
        --checkpoint outputs/train/act_cpu --eval-root outputs/eval/act_cpu \
        --train-log outputs/train/act_cpu.log

1. Latency: the policy drives an in-process sim (real rendered frames, closed loop) for `--steps`
   steps, resetting every `--episode-steps`; p50/p99 of `PolicyRunner.act` (target p99 <= 50 ms so the
   10 Hz loop holds). ACT runs its network once per chunk of `n_action_steps` and serves the rest from
   its queue, so both the overall and the network-step figures are printed.
2. Ticks served: from the eval run's `eval_summary.json` (policy steps vs running frames, frames that
   got no fresh action because an inference overran) and the sim's ticks_missed is not in the dataset,
   so only the policy side is reported here.
3. End-to-end: success rate (Wilson 95% CI) recomputed from the eval dataset's `next.success`, with the
   training dataset size, steps and wall time (from the training log's first/last timestamps).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np


def bench_latency(checkpoint: str, steps: int, episode_steps: int, seed: int, threads: int) -> dict:
    from sim_teleop.control.policy import PolicyRunner, frame_observation
    from sim_teleop.eval.summary import latency_stats
    from sim_teleop.messages import Frame, Phase
    from sim_teleop.sim.env import SimEnv

    runner = PolicyRunner(checkpoint, threads=threads)
    runner.warm_up()
    sim = SimEnv(seed=seed)
    all_lat: list[float] = []
    try:
        placement = 0
        obs = sim.reset(placement)
        runner.reset()
        for i in range(steps):
            if i and i % episode_steps == 0:
                placement += 1
                obs = sim.reset(placement)
                runner.reset()
            frame = Frame(
                episode_index=placement,
                frame_index=i % episode_steps,
                phase=Phase.RUNNING,
                timestamp=0.0,
                state=obs.state,
                action=np.zeros(4, np.float32),
                reward=0.0,
                success=False,
                front=obs.front,
                wrist=obs.wrist,
                cube_pose=obs.cube_pose,
            )
            t0 = time.perf_counter()
            action = runner.act(frame_observation(frame))
            all_lat.append(time.perf_counter() - t0)
            obs = sim.step(action)
    finally:
        sim.close()
    n_action = int(getattr(runner.config, "n_action_steps", 1))
    # The network runs on the first step of each chunk (counted from every reset).
    net = [t for i, t in enumerate(all_lat) if (i % episode_steps) % n_action == 0]
    return {
        "policy": runner.policy_type,
        "n_action_steps": n_action,
        "torch_threads": threads,
        "all_steps_ms": latency_stats(all_lat),
        "network_steps_ms": latency_stats(net),
    }


_TS = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})")


def train_facts(checkpoint: Path, log: Path | None) -> dict:
    """Steps, batch, dataset size (from the checkpoint's train_config.json) and wall time (from the log)."""
    from sim_teleop.control.policy import resolve_checkpoint
    from sim_teleop.dataset.reader import is_dataset, read_info

    ckpt = resolve_checkpoint(checkpoint)
    facts: dict = {"checkpoint": str(ckpt)}
    cfg_path = ckpt / "train_config.json"
    if cfg_path.is_file():
        cfg = json.loads(cfg_path.read_text())
        facts.update(steps=cfg.get("steps"), batch_size=cfg.get("batch_size"))
        root = cfg.get("dataset", {}).get("root")
        if root and is_dataset(Path(root)):
            info = read_info(Path(root))
            facts.update(
                dataset=root,
                dataset_episodes=info.get("total_episodes"),
                dataset_frames=info.get("total_frames"),
            )
    step_file = ckpt.parent / "training_state" / "training_step.json"
    if step_file.is_file():
        facts["trained_steps"] = json.loads(step_file.read_text()).get("step")
    if log is not None and log.is_file():
        stamps = [datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S") for m in _TS.finditer(log.read_text())]
        if len(stamps) >= 2:
            facts["train_wall_s"] = (stamps[-1] - stamps[0]).total_seconds()
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", default="outputs/train/act_cpu")
    parser.add_argument(
        "--eval-root", type=Path, default=None, help="eval dataset root (outputs/eval/<name>)"
    )
    parser.add_argument("--train-log", type=Path, default=None, help="lerobot-train's log (for wall time)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--episode-steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2000, help="SIM_SEED for the latency run's placements")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (as POLICY_THREADS)")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write all numbers here")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from sim_teleop.eval.summary import format_summary, summary_from_dataset

    report: dict = {}
    if not args.skip_latency:
        lat = bench_latency(args.checkpoint, args.steps, args.episode_steps, args.seed, args.threads)
        report["latency"] = lat
        a, n = lat["all_steps_ms"], lat["network_steps_ms"]
        verdict = "OK" if a["p99"] <= 50.0 else "over the 50 ms target"
        print(
            f"policy step latency ({lat['policy']}, {a['n']} steps, n_action_steps {lat['n_action_steps']}, "
            f"{lat['torch_threads']} thread): p50 {a['p50']:.1f} ms, p99 {a['p99']:.1f} ms, "
            f"max {a['max']:.1f} ms [{verdict}]; network steps p50 {n['p50']:.1f} ms, p99 {n['p99']:.1f} ms"
        )
    report["train"] = train_facts(Path(args.checkpoint), args.train_log)
    t = report["train"]
    print(
        f"training: {t.get('trained_steps', t.get('steps'))} steps x batch {t.get('batch_size')} on "
        f"{t.get('dataset_episodes')} episodes / {t.get('dataset_frames')} frames"
        + (f", wall {t['train_wall_s'] / 60:.1f} min" if "train_wall_s" in t else "")
    )
    if args.eval_root is not None:
        live_path = args.eval_root / "eval_summary.json"
        if live_path.is_file():
            live = json.loads(live_path.read_text())
            report["eval_live"] = {k: v for k, v in live.items() if k != "per_episode"}
            served = live.get("policy_steps", 0)
            running = live.get("running_frames", 0)
            stale = live.get("frames_without_fresh_action", 0)
            lat_live = live.get("latency_ms", {})
            print(
                f"eval ticks: {running} running frames, {served} policy steps, {stale} frames without "
                f"a fresh action ({100 * (running - stale) / max(1, running):.1f}% served); "
                f"in-dataflow latency p50 {lat_live.get('p50', 0):.1f} ms, "
                f"p99 {lat_live.get('p99', 0):.1f} ms"
            )
        recorded = summary_from_dataset(args.eval_root)
        report["eval_dataset"] = {k: v for k, v in recorded.items() if k != "per_episode"}
        print("end to end (from the recorded eval dataset):")
        print("\n".join(format_summary(recorded).splitlines()[:2]))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
