"""Closed-loop success against training time: the numbers behind `scripts/learning_curve.py`.

A training run (`lerobot-train`) leaves `checkpoints/<step>/pretrained_model` every `save_freq` steps and
a log whose lines carry a wall-clock stamp. Each checkpoint is evaluated on the same held-out placements
(`rollout.evaluate`); its training time is the stamp of the log's "Checkpoint policy after step N" line
minus the log's first stamp, so the curve says how long a user has to train for a given success rate.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sim_teleop.eval.summary import wilson_interval

_STAMP = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")
_CHECKPOINT = re.compile(r"Checkpoint policy after step (\d+)")


@dataclass(frozen=True, slots=True)
class CurvePoint:
    step: int
    minutes: float | None  # training wall time when the checkpoint was written; None without a log
    successes: int
    episodes: int

    @property
    def rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0

    @property
    def ci95(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.episodes)

    def as_dict(self) -> dict[str, Any]:
        lo, hi = self.ci95
        return {**asdict(self), "success_rate": self.rate, "ci95": [lo, hi]}


def checkpoint_minutes(log_text: str) -> dict[int, float]:
    """Step -> minutes since the log's first stamped line, for every checkpoint the log reports."""
    start: datetime | None = None
    out: dict[int, float] = {}
    for line in log_text.splitlines():
        stamp = _STAMP.search(line)
        if stamp is None:
            continue
        when = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S")
        if start is None:
            start = when
        ckpt = _CHECKPOINT.search(line)
        if ckpt is not None:
            out[int(ckpt.group(1))] = (when - start).total_seconds() / 60.0
    return out


def step_checkpoints(run_dir: Path) -> dict[int, Path]:
    """Step -> `pretrained_model` directory of every numbered checkpoint of a training run."""
    base = run_dir / "checkpoints"
    if not base.is_dir():
        raise FileNotFoundError(f"{run_dir} has no checkpoints/ (is it a lerobot-train output_dir?)")
    found: dict[int, Path] = {}
    for child in base.iterdir():
        model = child / "pretrained_model"
        if child.name.isdigit() and (model / "model.safetensors").is_file():
            found[int(child.name)] = model
    if not found:
        raise FileNotFoundError(f"no checkpoints/<step>/pretrained_model under {run_dir}")
    return dict(sorted(found.items()))


def plot_curve(points: list[CurvePoint], out: Path, title: str) -> Path:
    """Success rate (Wilson 95% bars) against training minutes (or steps without times) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    use_minutes = all(p.minutes is not None for p in points)
    xs = [float(p.minutes) if use_minutes and p.minutes is not None else float(p.step) for p in points]
    rates = [100 * p.rate for p in points]
    lower = [100 * (p.rate - p.ci95[0]) for p in points]
    upper = [100 * (p.ci95[1] - p.rate) for p in points]
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    ax.errorbar(xs, rates, yerr=[lower, upper], fmt="o-", capsize=4, color="tab:blue")
    for x, p in zip(xs, points, strict=True):
        ax.annotate(
            f"{p.successes}/{p.episodes}\nstep {p.step}" if use_minutes else f"{p.successes}/{p.episodes}",
            (x, 100 * p.rate),
            textcoords="offset points",
            xytext=(6, -22),
            fontsize=7,
        )
    ax.axhline(80, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("training wall time (min, 2-core CPU)" if use_minutes else "training steps")
    ax.set_ylabel("closed-loop success (%)")
    ax.set_xlim(0, max(xs) * 1.1)
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
