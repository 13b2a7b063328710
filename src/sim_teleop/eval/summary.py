"""Closed-loop evaluation results: per-episode outcomes, success rate with a Wilson 95% interval.

The policy node fills an `EvalTracker` live from the frames it sees and writes the summary when the run
ends; `summary_from_dataset` recomputes the same numbers from the recorded eval dataset alone (its
`next.success` and `timestamp` columns), so the two can be checked against each other.

An episode a person (or the simulated corrector) drove for even one frame is *assisted*: its success is
counted apart (`assisted_successes`), never as the policy's; `successes`, `success_rate` and its
interval count the policy's own (autonomous) successes only.

Episode length and time to success use the dataset's clock: frame k of an episode is at k / fps, which
is the timestamp lerobot stores for it. The sim's own clock (`Frame.timestamp`) is kept beside it as
`sim_time_to_success_s`, so a slow sim shows up as a difference rather than being hidden.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim_teleop.follower import EpisodeFollower, Event, Settled, Started, Step
from sim_teleop.messages import Frame

SUMMARY_FILENAME = "eval_summary.json"


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0, 1) when there are no trials.

    Chosen over the normal approximation because it stays inside [0, 1] and is honest at 0% and 100%
    with tens of episodes, which is exactly the eval regime.
    """
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} must be within 0..{n}")
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(slots=True)
class EpisodeResult:
    """One saved eval episode. `episode_index` is the dataset's index (saved attempts in order)."""

    episode_index: int
    attempt_index: int
    end_reason: str
    success: bool
    num_frames: int
    time_to_success_s: float | None = None
    sim_time_to_success_s: float | None = None
    intervention_frames: int = 0  # frames a person (or the corrector) drove
    intervention_s: float = 0.0  # the same in the dataset's clock (frames / fps)

    @property
    def assisted(self) -> bool:
        return self.intervention_frames > 0


def summarize(
    results: list[EpisodeResult], fps: float, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Aggregate per-episode results into the summary written beside the eval dataset."""
    n = len(results)
    k = sum(1 for r in results if r.success and not r.assisted)  # the policy's own successes
    assisted = [r for r in results if r.assisted]
    lo, hi = wilson_interval(k, n)
    times = [
        r.time_to_success_s
        for r in results
        if r.success and not r.assisted and r.time_to_success_s is not None
    ]
    reasons: dict[str, int] = {}
    for r in results:
        reasons[r.end_reason] = reasons.get(r.end_reason, 0) + 1
    summary: dict[str, Any] = {
        "episodes": n,
        "successes": k,
        "success_rate": (k / n) if n else 0.0,
        "success_rate_ci95": [lo, hi],
        "ci_method": "wilson",
        "mean_time_to_success_s": (sum(times) / len(times)) if times else None,
        "end_reasons": reasons,
        "autonomous": n - len(assisted),
        "assisted": len(assisted),
        "assisted_successes": sum(1 for r in assisted if r.success),
        "intervention_frames": sum(r.intervention_frames for r in results),
        "intervention_s": sum(r.intervention_s for r in results),
        "fps": fps,
        "per_episode": [{**asdict(r), "assisted": r.assisted} for r in results],
    }
    if extra:
        summary.update(extra)
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """A few human-readable lines for the log / terminal."""
    lo, hi = summary["success_rate_ci95"]
    mean_t = summary["mean_time_to_success_s"]
    lines = [
        f"eval: {summary['successes']}/{summary['episodes']} successful by the policy alone = "
        f"{100 * summary['success_rate']:.1f}% "
        f"(95% CI {100 * lo:.1f}-{100 * hi:.1f}%, Wilson)",
        "eval: mean time to success "
        + (f"{mean_t:.2f} s" if mean_t is not None else "n/a (no success)")
        + f"; end reasons {summary['end_reasons']}",
    ]
    if summary.get("assisted"):
        lines.append(
            f"eval: {summary['assisted']} assisted episodes ({summary['assisted_successes']} ended in "
            f"success, not counted as the policy's), {summary['autonomous']} autonomous; "
            f"{summary['intervention_s']:.1f} s driven by a person"
        )
    failed = [ep["episode_index"] for ep in summary["per_episode"] if not ep["success"]]
    if failed:  # every episode is in the JSON; the console names only the failures
        lines.append(f"eval: failed episodes {failed}")
    return "\n".join(lines)


def write_summary(summary: dict[str, Any], out_dir: str | Path) -> Path:
    """Write `eval_summary.json` atomically under `out_dir` (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / SUMMARY_FILENAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


@dataclass(slots=True)
class _Attempt:
    frames: int = 0
    success_frame: int | None = None  # index of its first success frame, in the dataset's clock
    sim_t: float | None = None  # the sim's clock at that frame
    intervention_frames: int = 0

    def add(self, frame: Frame) -> None:
        if frame.success and self.success_frame is None:
            self.success_frame = self.frames
            self.sim_t = float(frame.timestamp)
        self.frames += 1
        self.intervention_frames += bool(frame.intervention)


class EvalTracker:
    """Follows the sim's frames and keeps one result per kept attempt, in the order they settle.

    Only frames are trusted (the sim owns episode state): the `EpisodeFollower` settles an attempt as
    the recorder does, so an operator's re-record during `done` discards an attempt that had ended.
    """

    def __init__(self, fps: float) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.fps = fps
        self.follower = EpisodeFollower()
        self._open: _Attempt | None = None
        self._results: list[EpisodeResult] = []

    def observe(self, frame: Frame) -> None:
        for ev in self.follower.feed(frame):
            self._on_event(ev)

    def _on_event(self, ev: Event) -> None:
        if isinstance(ev, Started):
            self._open = None if ev.partial else _Attempt()
        elif isinstance(ev, Step) and self._open is not None:
            self._open.add(ev.frame)
        elif isinstance(ev, Settled):
            settled, self._open = self._open, None
            if ev.kept and settled is not None:
                self._results.append(self._result(ev, settled))

    def _result(self, settled: Settled, att: _Attempt) -> EpisodeResult:
        success = att.success_frame is not None
        return EpisodeResult(
            episode_index=len(self._results),
            attempt_index=settled.episode,
            end_reason=settled.reason.value,
            success=success,
            num_frames=att.frames,
            time_to_success_s=(att.success_frame / self.fps) if att.success_frame is not None else None,
            sim_time_to_success_s=att.sim_t if success else None,
            intervention_frames=att.intervention_frames,
            intervention_s=att.intervention_frames / self.fps,
        )

    def results(self) -> list[EpisodeResult]:
        """Every kept episode; the stream is over, so the open attempt is settled first."""
        for ev in self.follower.finish():
            self._on_event(ev)
        return list(self._results)


def results_from_dataset(root: str | Path) -> tuple[list[EpisodeResult], float]:
    """Per-episode results read straight from a LeRobotDataset v3.0's data files (no lerobot import).

    Success = any `next.success` in the episode; time to success = `timestamp` of the first success frame.
    End reason and sim attempt index come from the recorder's sidecar when it has them.
    """
    from sim_teleop.dataset.features import INTERVENTION_KEY, SUCCESS_KEY, has_intervention
    from sim_teleop.dataset.reader import bool_flags, is_dataset, not_a_dataset, read_data_columns, read_info
    from sim_teleop.dataset.sidecar import ATTEMPT_KEY, EpisodeSidecar

    root = Path(root)
    if not is_dataset(root):
        raise FileNotFoundError(not_a_dataset(root))
    info = read_info(root, committed=False)
    fps = float(info["fps"])
    flagged = has_intervention(info)  # older eval datasets: every frame was the policy's
    columns = ["episode_index", "frame_index", "timestamp", SUCCESS_KEY]
    table = read_data_columns(root, [*columns, INTERVENTION_KEY] if flagged else columns)
    if table is None:
        return [], fps
    episodes: dict[int, list[tuple[int, float, bool]]] = {}
    taken: dict[int, int] = {}
    driven = bool_flags(table[INTERVENTION_KEY]).tolist() if flagged else [False] * table.num_rows
    for ep, fi, ts, ok, human in zip(
        table["episode_index"].to_pylist(),
        table["frame_index"].to_pylist(),
        table["timestamp"].to_pylist(),
        bool_flags(table[SUCCESS_KEY]).tolist(),
        driven,
        strict=True,
    ):
        episodes.setdefault(int(ep), []).append((int(fi), float(ts), ok))
        taken[int(ep)] = taken.get(int(ep), 0) + bool(human)
    sidecar = EpisodeSidecar(root)
    results = []
    for ep in sorted(episodes):
        rows = sorted(episodes[ep])
        first = next((r for r in rows if r[2]), None)
        rec = sidecar.get(ep) or {}
        results.append(
            EpisodeResult(
                episode_index=ep,
                attempt_index=int(rec.get(ATTEMPT_KEY, -1)),
                end_reason=str(rec.get("end_reason") or ("success" if first else "unknown")),
                success=first is not None,
                num_frames=len(rows),
                time_to_success_s=first[1] if first else None,
                intervention_frames=taken.get(ep, 0),
                intervention_s=taken.get(ep, 0) / fps,
            )
        )
    return results, fps


def summary_from_dataset(root: str | Path) -> dict[str, Any]:
    results, fps = results_from_dataset(root)
    return summarize(results, fps, extra={"source": str(root)})


def main(argv: list[str] | None = None) -> None:
    """`python -m sim_teleop.eval.summary ROOT`: recompute the summary from a recorded eval dataset."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("root", help="eval dataset root, e.g. outputs/eval/<name>")
    parser.add_argument("--json", action="store_true", help="print the JSON instead of the text summary")
    args = parser.parse_args(argv)
    summary = summary_from_dataset(args.root)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))


if __name__ == "__main__":
    main()


def latency_stats(seconds: list[float]) -> dict[str, float]:
    """p50/p90/p99/max in milliseconds (zeros when nothing was measured)."""
    if not seconds:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0, "mean": 0.0, "n": 0}
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    return {
        "p50": float(np.percentile(ms, 50)),
        "p90": float(np.percentile(ms, 90)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
        "mean": float(ms.mean()),
        "n": int(ms.size),
    }
