"""Our scorer side by side with four third-party dataset checkers from PyPI, on the same episodes.

    nice -n 5 .venv/bin/python scripts/bench_peers.py --venv /work/peers-venv   # ~15 min on 2 cores
    .venv/bin/python scripts/bench_peers.py --dataset outputs/filter_study/mixed  # a recording instead

Generates rendered autopilot episodes in-process: clean ones by the scripted expert and by the
human and keyboard operator models, and for every defect family (motion, recording and camera;
`bench_scorer.py` has the families) episodes at severities 0.3 and 1.0. All of them are written as
ONE LeRobot v3.0 dataset (AV1 video, as the recorder writes), then scored offline by ours
(`score_dataset`, keyframes every `DEFAULT_STRIDE` frames) and by each peer of `scripts/peers.py`
(lerobot-doctor, kalanos, deepen-grade, lerobot-lint, installed in their own venv, see there).
`--dataset` uses a recording made with `DEFECTS_CONFIG` instead, its sidecar's ground truth as the
labels. Prints, per family and checker, the AUROC of its score (clean vs that family) and the share
it flagged, the clean false-flag rate per operator, and seconds per episode.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_scorer import auroc, write_dataset
from peers import DEFAULT_VENV, PEERS, PeerResult, run_all

from sim_teleop.control.defects import (
    CAMERA_FAMILIES,
    MOTION_FAMILIES,
    EpisodePlan,
    plan_for_episode,
)
from sim_teleop.control.operator import OPERATORS
from sim_teleop.dataset.reader import read_info
from sim_teleop.messages import CAMERAS, Verdict
from sim_teleop.quality import EpisodeScorer
from sim_teleop.quality.config import load_quality_config
from sim_teleop.quality.offline import offline_config, score_dataset
from sim_teleop.sim.env import SimEnv
from sim_teleop_bench.inprocess import (
    Episode,
    camera_plan,
    run_episode,
    single_family_config,
    with_camera_defect,
)
from sim_teleop_bench.recording_defects import RECORDING_FAMILIES, damage


def generate(args: argparse.Namespace) -> tuple[list[Episode], list[tuple[str, str]]]:
    """The episodes and, per episode, (family, operator)."""
    episodes: list[Episode] = []
    labels: list[tuple[str, str]] = []
    sim = SimEnv(seed=args.seed, image_obs=True)
    placement = 7000
    for operator, count in (
        ("expert", args.clean),
        ("human", args.clean_human),
        ("keyboard", args.clean_keyboard),
    ):
        for k in range(count):
            ep = run_episode(
                sim,
                placement,
                EpisodePlan(k),
                args.seed + placement,
                keep_images=True,
                operator=operator,
                max_steps=300,
            )
            placement += 1
            episodes.append(ep)
            labels.append(("clean", operator))
    base = [ep for ep, (_fam, op) in zip(episodes, labels, strict=True) if op == "expert"]
    for fam in MOTION_FAMILIES:
        for j, sev in enumerate(args.severities):
            plan = plan_for_episode(single_family_config(fam, sev, seed=j), j, 1000 + j)
            episodes.append(
                run_episode(sim, placement, plan, args.seed + placement, defects_seed=j, keep_images=True)
            )
            labels.append((fam, "expert"))
            placement += 1
    sim.close()
    for fam in RECORDING_FAMILIES:
        for j, sev in enumerate(args.severities):
            ep = base[j % len(base)]
            frames = [f for _i, f in damage(ep.frames, fam, sev, np.random.default_rng([args.seed, j]))]
            episodes.append(Episode(f"{ep.key}-{fam}", ep.plan, frames, ep.success))
            labels.append((fam, "expert"))
    for fam in CAMERA_FAMILIES:
        for j, sev in enumerate(args.severities):
            ep = base[(j + 1) % len(base)]
            plan = camera_plan(fam, sev, seed=j, episode_index=j, camera=CAMERAS[j % len(CAMERAS)])
            episodes.append(Episode(f"{ep.key}-{fam}", plan, list(with_camera_defect(ep, plan)), ep.success))
            labels.append((fam, "expert"))
    return episodes, labels


def sidecar_labels(root: Path) -> list[tuple[str, str]]:
    """(family, operator) per episode from a recording's ground truth (`DEFECTS_CONFIG` annotations)."""
    from sim_teleop.dataset.sidecar import EpisodeSidecar

    records = EpisodeSidecar(root).records
    labels = []
    for i in range(len(records)):
        defects = records[i].get("annotation", {}).get("defects", [])
        labels.append((defects[0]["family"] if defects else "clean", "expert"))
    return labels


def ours(root: Path) -> dict[int, PeerResult]:
    cfg = load_quality_config(None)
    scorer = EpisodeScorer(offline_config(cfg, read_info(root)))
    return {
        r.episode_index: PeerResult(r.score, r.verdict is Verdict.BAD, tuple(r.reasons))
        for r in score_dataset(root, scorer)
    }


def table(
    labels: list[tuple[str, str]], results: dict[str, dict[int, PeerResult] | str], seconds: dict[str, float]
) -> dict[str, Any]:
    out: dict[str, Any] = {"families": {}, "clean_flagged": {}, "seconds_per_episode": {}}
    names = list(results)
    n = len(labels)
    print(f"\n{'family':17s} {'n':>3s} " + " ".join(f"{name[:18]:>18s}" for name in names))
    print(f"{'':21s} " + " ".join(f"{'AUROC  flagged':>18s}" for _ in names))
    families = [
        f
        for f in (*MOTION_FAMILIES, *RECORDING_FAMILIES, *CAMERA_FAMILIES)
        if any(lab[0] == f for lab in labels)
    ]
    clean = [i for i, lab in enumerate(labels) if lab[0] == "clean"]
    for fam in families:
        bad = [i for i, lab in enumerate(labels) if lab[0] == fam]
        cells = []
        for name in names:
            res = results[name]
            if isinstance(res, str) or any(i not in res for i in clean + bad):
                cells.append(f"{'-':>18s}")
                continue
            auc = auroc([res[i].score for i in clean], [res[i].score for i in bad])
            flagged = float(np.mean([res[i].flagged for i in bad]))
            out["families"].setdefault(fam, {})[name] = {"auroc": auc, "flagged": flagged}
            cells.append(f"{auc:10.3f} {flagged:6.0%} ")
        print(f"{fam:17s} {len(bad):3d} " + " ".join(cells))
    for name in names:
        res = results[name]
        if isinstance(res, str):
            print(f"{name}: {res}")
            continue
        for op in OPERATORS:
            idx = [i for i in clean if labels[i][1] == op]
            if idx:
                share = float(np.mean([res[i].flagged for i in idx if i in res]))
                out["clean_flagged"].setdefault(name, {})[op] = share
        out["seconds_per_episode"][name] = seconds[name] / n
    print("\nclean flagged (expert / human / keyboard) and seconds per episode:")
    for name in names:
        if name in out["clean_flagged"]:
            cf = out["clean_flagged"][name]
            print(
                f"  {name:15s} "
                + " / ".join(f"{cf.get(op, float('nan')):6.0%}" for op in OPERATORS)
                + f"   {out['seconds_per_episode'][name]:.3f} s"
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="the peers' venv (see scripts/peers.py)")
    ap.add_argument("--clean", type=int, default=8, help="clean expert episodes")
    ap.add_argument("--clean-human", type=int, default=6, help="clean human-operator episodes")
    ap.add_argument("--clean-keyboard", type=int, default=6, help="clean keyboard-operator episodes")
    ap.add_argument("--severities", type=float, nargs="+", default=[0.3, 1.0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--keep", type=Path, default=None, help="keep the dataset here")
    ap.add_argument(
        "--dataset",
        type=Path,
        default=None,
        help="instead: a recorded dataset with injected-defect ground truth",
    )
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tmp = Path(tempfile.mkdtemp(prefix="bench_peers_"))
    root = args.dataset or args.keep or tmp / "ds"
    try:
        if args.dataset is not None:
            labels = sidecar_labels(root)
        else:
            t = time.perf_counter()
            episodes, labels = generate(args)
            print(f"{len(episodes)} episodes generated in {time.perf_counter() - t:.0f} s", flush=True)
            t = time.perf_counter()
            write_dataset(root, episodes)
            print(f"written as one v3.0 dataset in {time.perf_counter() - t:.0f} s", flush=True)
        seconds: dict[str, float] = {}
        t = time.perf_counter()
        results: dict[str, dict[int, PeerResult] | str] = {"ours": ours(root)}
        seconds["ours"] = time.perf_counter() - t
        for name in PEERS:
            t = time.perf_counter()
            results[name] = run_all(root, args.venv, only=(name,))[name]
            seconds[name] = time.perf_counter() - t
        summary = table(labels, results, seconds)
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
