"""Success against operator-minutes: keyboard demonstrations alone, and demonstrations plus corrections.

    python scripts/human_loop_study.py --spec configs/human_loop_study.json \
        --plot media/human_loop.png --json outputs/study/human_loop.json

The spec lists trained policies, each with the datasets it was trained on and its evaluation:

    {"points": [
      {"arm": "demonstrations", "label": "25 demos", "demos": ["outputs/study/kb25"],
       "curve": "outputs/train/kb25/learning_curve.json"},
      {"arm": "corrections", "label": "25 demos + round 1", "demos": ["outputs/study/kb25"],
       "watched": ["outputs/eval/round1"], "curve": "outputs/train/kb25_r1/learning_curve.json"}
    ]}

Operator time comes from the recorded datasets (`sim_teleop.eval.operator_time`): a demonstration costs
its length plus the keys between episodes, an eval round the whole of every episode a person watched.
Success is the last checkpoint of each `scripts/learning_curve.py` JSON (or `"step"`), with its Wilson
95 % interval. Prints a Markdown table; writes the numbers and the plot.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

from sim_teleop.eval.loop_study import study_point, table


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 5.2), dpi=100)
    arms = list(dict.fromkeys(r["arm"] for r in rows))  # in the spec's order; every arm drawn
    for arm, marker in zip(arms, itertools.cycle("osd^vP*X"), strict=False):
        pts = sorted((r for r in rows if r["arm"] == arm), key=lambda r: r["operator_min"])
        x = [r["operator_min"] for r in pts]
        y = [100 * r["successes"] / r["episodes"] for r in pts]
        err = [
            [yy - 100 * r["ci95"][0] for yy, r in zip(y, pts, strict=True)],
            [100 * r["ci95"][1] - yy for yy, r in zip(y, pts, strict=True)],
        ]
        ax.errorbar(x, y, yerr=err, marker=marker, capsize=3, label=arm)
        for xx, yy, r in zip(x, y, pts, strict=True):
            ax.annotate(r["label"], (xx, yy), textcoords="offset points", xytext=(4, -12), fontsize=7)
    ax.set_xlabel("operator-minutes (recorded time + keys between episodes, or eval watched)")
    ax.set_ylabel("success on 50 held-out placements (%)")
    ax.set_ylim(-5, 105)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spec", required=True, type=Path, help="the study's JSON spec")
    parser.add_argument("--base", type=Path, default=Path("."), help="paths in the spec are relative to this")
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here")
    parser.add_argument("--plot", type=Path, default=None, help="PNG to write (e.g. media/human_loop.png)")
    parser.add_argument("--title", default="keyboard demonstrations vs corrections, per operator-minute")
    args = parser.parse_args(argv)
    try:
        spec = json.loads(args.spec.read_text())
        rows = [study_point(entry, args.base) for entry in spec["points"]]
    except (OSError, KeyError, StopIteration, ValueError) as exc:
        print(f"[study] {args.spec}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(table(rows))
    if args.json is not None:
        args.json.write_text(json.dumps({"points": rows}, indent=2) + "\n")
        print(f"[study] numbers -> {args.json}")
    if args.plot is not None:
        print(f"[study] plot -> {plot(rows, args.plot, args.title)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
