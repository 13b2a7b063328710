"""Closed-loop success of every checkpoint of a training run, on the eval's held-out placements.

    HF_HUB_OFFLINE=1 python scripts/learning_curve.py --run outputs/train/act_cpu \
        --log outputs/train/act_cpu.log --episodes 50 --plot media/learning_curve.png

Each `checkpoints/<step>` is rolled out in-process (`sim_teleop.eval.rollout`: the eval dataflow's
placements, episode rules and one-tick action latency, without dora, scoring or recording) on
placements 0..N-1 of `--seed` (1000, the eval dataflow's default). Training minutes come from the
`lerobot-train` log (`--log`); without it the x axis is steps. Prints one line per checkpoint, writes the
numbers as JSON (`--json`, default <run>/learning_curve.json) and the plot (`--plot`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sim_teleop.eval.learning_curve import CurvePoint, checkpoint_minutes, plot_curve, step_checkpoints


def reused_points(path: Path, settings: dict[str, Any], steps: set[int]) -> list[CurvePoint]:
    """Points of an earlier run of this script, refused when it was evaluated differently."""
    data = json.loads(path.read_text())
    differs = {k: (data.get(k), v) for k, v in settings.items() if data.get(k) != v}
    if differs:
        raise ValueError(f"{path} was evaluated with other settings (earlier, now): {differs}")
    return [
        CurvePoint(int(p["step"]), p.get("minutes"), int(p["successes"]), int(p["episodes"]))
        for p in data["points"]
        if int(p["step"]) in steps
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", required=True, type=Path, help="lerobot-train output_dir")
    parser.add_argument("--log", type=Path, default=None, help="its log (training minutes per checkpoint)")
    parser.add_argument("--episodes", type=int, default=50, help="held-out placements per checkpoint (50)")
    parser.add_argument("--seed", type=int, default=1000, help="placement seed (1000 = the eval's)")
    parser.add_argument("--time-limit", type=float, default=20.0, help="seconds per attempt (20)")
    parser.add_argument("--steps", default="", help="only these steps, comma-separated (default: all)")
    parser.add_argument("--n-action-steps", type=int, default=None, help="actions per inference override")
    parser.add_argument("--temporal-ensemble", type=float, default=None, help="ACT ensembling coefficient")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    parser.add_argument("--json", type=Path, default=None, help="default: <run>/learning_curve.json")
    parser.add_argument(
        "--plot", type=Path, default=None, help="PNG to write (e.g. media/learning_curve.png)"
    )
    parser.add_argument("--title", default=None, help="plot title")
    parser.add_argument(
        "--reuse",
        type=Path,
        action="append",
        default=[],
        help="an earlier run's JSON: its points are taken as they are, not evaluated again (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    settings = {
        k: getattr(args, k) for k in ("episodes", "seed", "time_limit", "n_action_steps", "temporal_ensemble")
    }
    try:
        checkpoints = select_checkpoints(args.run, args.steps)
        points: list[CurvePoint] = []
        for earlier in args.reuse:
            points += reused_points(earlier, settings, set(checkpoints))
    except (FileNotFoundError, ValueError) as exc:
        print(f"[curve] {exc}", file=sys.stderr)
        return 2
    minutes: dict[int, float] = {}
    if args.log is not None:
        minutes = checkpoint_minutes(args.log.read_text(errors="replace"))

    done = {p.step for p in points}
    for p in points:
        print(f"[curve] step {p.step}: {p.successes}/{p.episodes} (reused)")
    todo = {step: path for step, path in checkpoints.items() if step not in done}
    points += evaluate_checkpoints(todo, args, minutes)
    points.sort(key=lambda p: p.step)
    out_json = args.json or args.run / "learning_curve.json"
    out_json.write_text(
        json.dumps({"run": str(args.run), **settings, "points": [p.as_dict() for p in points]}, indent=2)
        + "\n"
    )
    print(f"[curve] numbers -> {out_json}")
    if args.plot is not None:
        title = args.title or f"{args.run.name}: closed-loop success on {args.episodes} held-out placements"
        print(f"[curve] plot -> {plot_curve(points, args.plot, title)}")
    return 0


def select_checkpoints(run: Path, steps: str) -> dict[int, Path]:
    """The run's checkpoints by step, only `steps` (comma-separated) when given; ValueError if one lacks."""
    checkpoints = step_checkpoints(run)
    if not steps:
        return checkpoints
    wanted = {int(s) for s in steps.split(",") if s.strip()}
    missing = sorted(wanted - set(checkpoints))
    if missing:
        raise ValueError(f"no checkpoint for steps {missing}; have {sorted(checkpoints)}")
    return {s: p for s, p in checkpoints.items() if s in wanted}


def evaluate_checkpoints(
    todo: dict[int, Path], args: argparse.Namespace, minutes: dict[int, float]
) -> list[CurvePoint]:
    """Roll out each checkpoint in-process on the same sim, one `[curve]` line each."""
    from sim_teleop.control.policy import PolicyRunner
    from sim_teleop.eval.rollout import evaluate
    from sim_teleop.sim.env import SimEnv

    if not todo:
        return []
    points: list[CurvePoint] = []
    sim = SimEnv(seed=args.seed)
    for step, path in todo.items():
        runner = PolicyRunner(
            path,
            threads=args.threads,
            n_action_steps=args.n_action_steps,
            temporal_ensemble=args.temporal_ensemble,
        )
        runner.warm_up()
        t0 = time.perf_counter()
        stats = evaluate(runner, args.episodes, seed=args.seed, time_limit_s=args.time_limit, sim=sim)
        point = CurvePoint(step, minutes.get(step), stats.successes, args.episodes)
        points.append(point)
        lo, hi = point.ci95
        when = f", {point.minutes:.1f} min" if point.minutes is not None else ""
        print(
            f"[curve] step {step}{when}: {point.successes}/{point.episodes} = {100 * point.rate:.0f}% "
            f"(95% CI {100 * lo:.0f}-{100 * hi:.0f}%), eval {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    sim.close()
    return points


if __name__ == "__main__":
    raise SystemExit(main())
