"""Score an existing LeRobotDataset v3.0 offline with the live scorer's metric code; optionally filter it.

    .venv/bin/python scripts/score_dataset.py --root outputs/autopilot/demo
    .venv/bin/python scripts/score_dataset.py --root DIR --json scores.json --output DIR_good --threshold 0.8

Prints a per-episode table, writes JSON (default `<root>/meta/quality_scores.json`), and with `--output`
writes a new v3.0 dataset without the episodes scoring below `--threshold` or judged bad (lerobot's own
`delete_episodes`), which `LeRobotDataset` loads and `lerobot-train` trains on; the sidecar records
(quality, defect ground truth) follow the kept episodes, renumbered.

A dataset of another layout (joint-space actions, other cameras, fps or image sizes, no success column)
scores on the signals its feature names show; one line names the metrics it could not compute, which
count neither in the score nor as reasons. A config's `"layout"` (configs/quality.json format) wins over
the inferred one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from sim_teleop.config import ConfigError
from sim_teleop.dataset.reader import DatasetReader
from sim_teleop.dataset.sidecar import EpisodeSidecar
from sim_teleop.messages import QualityReport, Verdict
from sim_teleop.quality.config import QualityConfig, load_quality_config
from sim_teleop.quality.layout import not_computed, not_computed_line
from sim_teleop.quality.offline import DEFAULT_STRIDE, offline_config, score_episode
from sim_teleop.quality.scorer import EpisodeScorer, worst_metric


def dataset_config(path: str | None, reader: DatasetReader, cameras: bool) -> QualityConfig:
    """The quality config for this dataset: its fps, layout, cameras (none with `--no-cameras`) and
    success gate (`offline_config`)."""
    cfg = load_quality_config(path)
    cfg = offline_config(replace(cfg, fps=reader.fps), reader.info)
    return cfg if cameras else replace(cfg, cameras=())


def print_table(
    reports: list[QualityReport], threshold: float, keep_mode: str, gate: bool = True
) -> list[int]:
    """Print one line per episode; returns the episodes to keep. Without a success gate the success
    column says n/a: the dataset does not record it."""
    print(
        f"{'episode':>7s} {'frames':>6s} {'success':>7s} {'score':>6s} {'verdict':>7s}  "
        f"{'worst metric':24s} reasons"
    )
    keep: list[int] = []
    for r in reports:
        key, value = worst_metric(r)
        success = str(r.success) if gate else "n/a"
        print(
            f"{r.episode_index:7d} {r.num_frames:6d} {success:>7s} {r.score:6.3f} {r.verdict.value:>7s}  "
            f"{key + f' {value:.2f}':24s} {','.join(r.reasons) or '-'}"
        )
        if r.score >= threshold and (keep_mode == "threshold" or r.verdict is Verdict.GOOD):
            keep.append(r.episode_index)
    return keep


def write_filtered(
    root: Path, out: Path, repo_id: str, reports: list[QualityReport], keep: list[int]
) -> None:
    """A new dataset at `out` with only the `keep` episodes, their sidecar records renumbered and given
    their offline quality report."""
    from lerobot.datasets import LeRobotDataset, delete_episodes

    drop = [r.episode_index for r in reports if r.episode_index not in keep]
    dataset = LeRobotDataset(repo_id, root=root)
    if drop:
        delete_episodes(dataset, episode_indices=drop, output_dir=out, repo_id=repo_id)
    else:
        import shutil

        shutil.copytree(root, out)
    side_in = EpisodeSidecar(root)
    side_out = EpisodeSidecar(out)
    side_out.records = {i: dict(rec) for i, rec in side_in.records.items()}
    by_index = {r.episode_index: r for r in reports}
    for i in keep:
        side_out.records.setdefault(i, {"episode_index": i})["offline_quality"] = by_index[i].to_dict()
    side_out.delete_and_renumber(drop)
    print(f"filtered dataset ({len(keep)} episodes) written to {out}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, help="dataset root (contains meta/info.json)")
    ap.add_argument(
        "--repo_id", default=None, help="repo id for loading/writing (default: local/<root name>)"
    )
    ap.add_argument("--config", default=None, help="quality config (default configs/quality.json)")
    ap.add_argument(
        "--json", default=None, help="where to write the scores (default <root>/meta/quality_scores.json)"
    )
    ap.add_argument("--output", default=None, help="write a filtered v3.0 dataset here (must not exist)")
    ap.add_argument(
        "--threshold", type=float, default=None, help="keep episodes scoring >= this (default: config)"
    )
    ap.add_argument(
        "--keep",
        choices=("threshold", "good"),
        default="good",
        help="good (default): keep episodes with verdict good and score >= threshold; threshold: score only",
    )
    ap.add_argument(
        "--stride",
        type=int,
        default=DEFAULT_STRIDE,
        help=f"frames between sampled video keyframes (default {DEFAULT_STRIDE})",
    )
    ap.add_argument("--no-cameras", action="store_true", help="skip the video-based metrics")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    root = Path(args.root)
    try:
        reader = DatasetReader(root)
        cfg = dataset_config(args.config, reader, cameras=not args.no_cameras)
    except (ConfigError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    threshold = cfg.threshold if args.threshold is None else args.threshold
    if not 0.0 <= threshold <= 1.0:
        print(f"error: --threshold must be in [0, 1], got {threshold}", file=sys.stderr)
        return 2
    if args.output and Path(args.output).exists():
        print(f"error: --output {args.output} exists; choose a new directory", file=sys.stderr)
        return 2
    missing = not_computed(cfg)
    if missing:
        print(not_computed_line(missing))
    scorer = EpisodeScorer(cfg)
    t0 = time.perf_counter()
    sidecar = EpisodeSidecar(reader.root)
    cameras = not args.no_cameras
    reports = [score_episode(reader, i, scorer, args.stride, cameras, sidecar) for i in range(len(reader))]
    elapsed = time.perf_counter() - t0

    keep = print_table(reports, threshold, args.keep, gate=cfg.success_gate)
    n = len(reports)
    print(
        f"{n} episodes scored in {elapsed:.2f} s ({elapsed / max(n, 1) * 1000:.1f} ms each); "
        f"mean score {sum(r.score for r in reports) / max(n, 1):.3f}; "
        f"{len(keep)} kept, {n - len(keep)} below threshold {threshold} or bad"
    )

    out_json = Path(args.json) if args.json else root / "meta" / "quality_scores.json"
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(
        json.dumps(
            {
                "root": str(root),
                "threshold": threshold,
                "success_gate": cfg.success_gate,
                "not_computed": missing,
                "keep": keep,
                "episodes": [r.to_dict() for r in reports],
            },
            indent=1,
        )
    )
    print(f"scores written to {out_json}")

    if args.output:
        if not keep:
            print("error: every episode is below the threshold; nothing to write", file=sys.stderr)
            return 1
        write_filtered(root, Path(args.output), args.repo_id or f"local/{root.name}", reports, keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
