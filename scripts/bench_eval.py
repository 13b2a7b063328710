"""Eval dataflow throughput against its tick period: episodes/min, ticks answered, policy latency.

    HF_HUB_OFFLINE=1 python scripts/bench_eval.py --checkpoint outputs/train/act_cpu \
        --episodes 10 --ticks 100,70,50,40

Runs the real `dora run dataflow-eval.yaml` (headless, recorded and scored as a user runs it) once per
tick period on the same held-out placements, and prints per run: success, episodes per minute of eval
(first to last frame at the policy node, start-up excluded and shown apart), the share of sim steps that
ran on the policy's answer to the previous frame (the sim's own count: the rest ran on an older action
because an inference overran the tick), and the policy step latency p50/p99. The fastest tick that
keeps >= 99 % of steps answered is the one to use for bulk evaluation.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sim_teleop.launch.dora import dora_environment, run_dora

REPO = Path(__file__).resolve().parents[1]
ANSWERED_TARGET = 0.99
SIM_LINE = re.compile(
    r"\[sim\] (\d+) controller steps: (\d+) on the answer to the previous frame, (\d+) on an"
)


@dataclass
class EvalRun:
    tick_ms: float
    rc: int
    episodes: int
    successes: int
    wall_s: float
    total_s: float
    steps: int
    late: int
    p50_ms: float
    p99_ms: float

    @property
    def answered(self) -> float:
        return (self.steps - self.late) / self.steps if self.steps else 0.0

    @property
    def episodes_per_min(self) -> float:
        return 60.0 * self.episodes / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.answered >= ANSWERED_TARGET


def run_eval(
    checkpoint: str, tick_ms: float, episodes: int, workdir: Path, extra_env: dict[str, str]
) -> EvalRun:
    root = workdir / f"eval_{tick_ms:g}"
    env = dora_environment(
        POLICY_CHECKPOINT=str(Path(checkpoint).resolve()),
        EVAL_EPISODES=str(episodes),
        EVAL_TICK_MS=f"{tick_ms:g}",
        RECORD_ROOT=str(root),
        **extra_env,
    )
    rc, out, total = run_dora(REPO / "dataflow-eval.yaml", env, REPO, 180 + 25 * episodes)
    (workdir / f"dora_{tick_ms:g}.log").write_text(out)
    summary_path = root / "eval_summary.json"
    s = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    sim = SIM_LINE.search(out)
    lat = s.get("latency_ms", {})
    return EvalRun(
        tick_ms=tick_ms,
        rc=rc,
        episodes=int(s.get("episodes", 0)),
        successes=int(s.get("successes", 0)),
        wall_s=float(s.get("wall_s", 0.0)),
        total_s=total,
        steps=int(sim.group(1)) if sim else 0,
        late=int(sim.group(3)) if sim else 0,
        p50_ms=float(lat.get("p50", 0.0)),
        p99_ms=float(lat.get("p99", 0.0)),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="POLICY_CHECKPOINT")
    ap.add_argument("--episodes", type=int, default=10, help="eval episodes per run (10)")
    ap.add_argument("--ticks", default="100,70,50,40", help="tick periods (ms), 100 first")
    ap.add_argument("--logs", default=None, help="keep each run's dora log here")
    ap.add_argument("--env", action="append", default=[], help="extra KEY=VALUE for the dataflow")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    extra = dict(kv.split("=", 1) for kv in args.env)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    runs: list[EvalRun] = []
    with tempfile.TemporaryDirectory(prefix="bench_eval_") as tmp:
        for tick in (float(t) for t in args.ticks.split(",")):
            r = run_eval(args.checkpoint, tick, args.episodes, Path(tmp), extra)
            runs.append(r)
            print(
                f"  tick {r.tick_ms:g} ms: rc {r.rc}, {r.successes}/{r.episodes} successful, "
                f"{r.episodes_per_min:.1f} episodes/min ({r.total_s:.0f} s with start-up), "
                f"answered {100 * r.answered:.2f} % of {r.steps} steps ({r.late} late), "
                f"policy latency p50 {r.p50_ms:.1f} ms p99 {r.p99_ms:.1f} ms -> "
                f"{'OK' if r.ok else 'below target'}",
                flush=True,
            )
            if args.logs:
                Path(args.logs).mkdir(parents=True, exist_ok=True)
                log = Path(tmp) / f"dora_{tick:g}.log"
                (Path(args.logs) / log.name).write_text(log.read_text())
    base = next((r for r in runs if r.tick_ms == 100), None)
    fastest = min((r for r in runs if r.ok), key=lambda r: r.tick_ms, default=None)
    if base is not None:
        print(f"10 Hz: {base.episodes_per_min:.1f} episodes/min, answered {100 * base.answered:.2f} %")
    if fastest is not None:
        speedup = f", x{fastest.episodes_per_min / base.episodes_per_min:.2f}" if base and base.wall_s else ""
        print(
            f"fastest tick answering >= 99 %: {fastest.tick_ms:g} ms, {fastest.episodes_per_min:.1f} "
            f"episodes/min{speedup}"
        )
    else:
        print("no tick answered >= 99 % of its steps (is the machine busy? see the load average)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
