"""The human-loop study's rows: per trained policy, what its data cost a person and how often it succeeded.

Read by `scripts/human_loop_study.py` (which also draws the plot). A row's operator time comes from the
recorded datasets (`operator_time`), its success from the last (or a named) checkpoint of a
`scripts/learning_curve.py` JSON, with its Wilson 95 % interval.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim_teleop.eval.operator_time import OperatorTime, demonstration_time, watched_time
from sim_teleop.eval.summary import wilson_interval


def study_point(entry: dict[str, Any], base: Path) -> dict[str, Any]:
    """One trained policy: its operator time, training data and closed-loop success."""
    demos = [demonstration_time(base / d) for d in entry.get("demos", [])]
    watched = [watched_time(base / w) for w in entry.get("watched", [])]
    spent: list[OperatorTime] = demos + watched
    curve = json.loads((base / entry["curve"]).read_text())
    points = curve["points"]
    step = entry.get("step")
    point = next(p for p in points if p["step"] == step) if step is not None else points[-1]
    lo, hi = wilson_interval(int(point["successes"]), int(point["episodes"]))
    return {
        "arm": entry["arm"],
        "label": entry["label"],
        "demonstrations": sum(t.episodes for t in demos),
        "eval_episodes": sum(t.episodes for t in watched),
        "operator_min": round(sum(t.operator_s for t in spent) / 60.0, 2),
        "step": int(point["step"]),
        "train_min": point.get("minutes"),
        "successes": int(point["successes"]),
        "episodes": int(point["episodes"]),
        "ci95": [round(lo, 4), round(hi, 4)],
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| arm | policy | demonstrations | eval episodes watched | operator-min | step | success (95 % CI) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lo, hi = r["ci95"]
        lines.append(
            f"| {r['arm']} | {r['label']} | {r['demonstrations']} | {r['eval_episodes']} | "
            f"{r['operator_min']:.1f} | {r['step']} | {r['successes']}/{r['episodes']} = "
            f"{100 * r['successes'] / r['episodes']:.0f} % ({100 * lo:.0f}-{100 * hi:.0f} %) |"
        )
    return "\n".join(lines)
