"""Benchmark of the quality scorer against injected defects, and of offline scoring speed.

Generates autopilot episodes in-process (SimEnv + scripted expert + the defect injectors of
`sim_teleop.control.defects`, several seeds), driven by the scripted expert and by the human operator
model (`sim_teleop.control.operator`: tremor, hand noise, reaction delays, hesitations, corrections):
clean ones, each motion defect family at several severities (physics only), clean recordings damaged
afterwards by each recording defect (`recording_defects`: command spike, telemetry freeze, dropped
frames, action/state lag), and rendered clean episodes seen through each camera defect at several
severities (camera defects never change the physics, so one rendered episode yields every camera
variant). Every episode is scored by our accumulators and by the anchor toolkit's formulas
(re-implemented in `sim_teleop_bench.anchor`). Prints AUROC per defect family (matching sub-score and
aggregate; for the anchor its best sub-score and its aggregate), the clean false-reject rate at the
default threshold per operator, the confusion table (injected family x reported reason), and the
offline speed of our sparse scorer vs decoding every video frame (the anchor's approach) on a v3.0
dataset written by the recorder's writer.

    .venv/bin/python scripts/bench_scorer.py               # ~10 min on the 2-core CPU
    .venv/bin/python scripts/bench_scorer.py --quick       # smoke run
    .venv/bin/python scripts/bench_scorer.py --calibrate   # clean raw-metric percentiles too
    .venv/bin/python scripts/bench_scorer.py --speed-only --baseline /tmp/old   # speed, old vs new

`--baseline DIR` (a checkout, e.g. `git worktree add /tmp/old HEAD~3`) times that version's offline scorer
too, in a subprocess that scores each episode right after ours: on a loaded machine the two see the same
load, so their ratio is the change and each one's ratio to the anchor is measured in the same run.
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

import sim_teleop_bench.anchor as anchor
from sim_teleop.control.defects import CAMERA_FAMILIES, MOTION_FAMILIES, EpisodePlan, plan_for_episode
from sim_teleop.control.operator import OPERATORS
from sim_teleop.messages import CAMERAS, Verdict
from sim_teleop.quality.config import load_quality_config
from sim_teleop.quality.offline import DEFAULT_STRIDE
from sim_teleop.quality.scorer import EpisodeScorer
from sim_teleop.sim.env import SimEnv
from sim_teleop_bench.inprocess import (
    Episode,
    camera_plan,
    run_episode,
    single_family_config,
    with_camera_defect,
)
from sim_teleop_bench.recording_defects import RECORDING_FAMILIES, damage

MATCH = {
    "spike": "spike",
    "telemetry_freeze": "telemetry_freeze",
    "gap": "gap",
    "lag": "lag",
    "jitter": "jitter",
    "pause": "idle",
    "chatter": "gripper_chatter",
    "detour": "detour",
    "slow": "slow",
    "drop": "drop",
    "smudge": "partial_view",  # the partial-view families share one metric
    "occlusion": "partial_view",
    "glare": "partial_view",
}


def auroc(clean: list[float], defect: list[float]) -> float:
    """P(a clean episode scores higher than a defective one), ties counted half."""
    if not clean or not defect:
        return float("nan")
    c = np.asarray(clean)[:, None]
    d = np.asarray(defect)[None, :]
    return float(np.mean((c > d) + 0.5 * (c == d)))


def score_frames(scorer: EpisodeScorer, frames: Any, success: bool) -> tuple[Any, dict[str, float]]:
    """Score an episode's frames (or `(frame_number, frame)` pairs) with ours and the anchor's."""
    acc = scorer.new_episode()
    states: list[np.ndarray] = []
    actions: list[np.ndarray] = []
    videos: dict[str, list[np.ndarray]] = {cam: [] for cam in CAMERAS}
    for i, item in enumerate(frames):
        number, f = item if isinstance(item, tuple) else (i, item)
        acc.add_frame(f.state, f.action, f.success, f.contact_force, f.cube_pose, f.images, frame=number)
        states.append(f.state)
        actions.append(f.action)
        if f.images:
            for cam, img in f.images.items():
                videos[cam].append(img)
    report = scorer.report(0, acc, success=success)
    vids = [v for v in videos.values() if v]
    anc = anchor.episode_scores(np.asarray(states, np.float64), np.asarray(actions, np.float64), 0.1, vids)
    return report, anc


def row(
    kind: str,
    family: str,
    sev: float,
    camera: str | None,
    scored: tuple[Any, dict],
    ep: Episode,
    operator: str,
) -> dict[str, Any]:
    report, anc = scored
    return {
        "set": kind,
        "operator": operator,
        "family": family,
        "severity": sev,
        "camera": camera,
        "report": report,
        "anchor": anc,
        "success": ep.success,
        "duration_s": len(ep.frames) * 0.1,
    }


def operator_rows(sim: SimEnv, args: argparse.Namespace, cfg: Any, operator: str, first: int) -> list[dict]:
    """One operator's motion set, scored in order by one scorer as a dataset of that operator would be
    (its running time reference adapts to the operator's pace): clean episodes, every motion family x
    severity x seed, then recording defects on the clean recordings (the physics stays as it was)."""
    scorer = EpisodeScorer(cfg)
    rows: list[dict[str, Any]] = []
    placement = first
    cleans: list[Episode] = []
    for k in range(args.clean):
        ep = run_episode(sim, placement, EpisodePlan(k), expert_seed=args.seed + placement, operator=operator)
        placement += 1
        cleans.append(ep)
        rows.append(
            row("motion", "clean", 0.0, None, score_frames(scorer, ep.frames, ep.success), ep, operator)
        )
    for fam in MOTION_FAMILIES:
        for sev in args.severities:
            for s in range(args.seeds):
                plan = plan_for_episode(single_family_config(fam, sev, seed=s), s, 1000 + s)
                ep = run_episode(
                    sim, placement, plan, args.seed + placement, defects_seed=s, operator=operator
                )
                placement += 1
                rows.append(
                    row("motion", fam, sev, None, score_frames(scorer, ep.frames, ep.success), ep, operator)
                )
    for k, ep in enumerate(cleans[: args.recorded]):
        for fam in RECORDING_FAMILIES:
            sev = args.severities[k % len(args.severities)]
            frames = damage(ep.frames, fam, sev, np.random.default_rng([args.seed, k]))
            rows.append(row("motion", fam, sev, None, score_frames(scorer, frames, ep.success), ep, operator))
    return rows


def camera_rows(args: argparse.Namespace, cfg: Any) -> list[dict[str, Any]]:
    """Rendered clean expert episodes, each seen through every camera family x severity."""
    scorer = EpisodeScorer(cfg)
    rows: list[dict[str, Any]] = []
    rsim = SimEnv(seed=args.seed + 1, image_obs=True)
    rendered: list[Episode] = []
    for k in range(args.rendered):
        ep = run_episode(rsim, 5000 + k, EpisodePlan(k), expert_seed=args.seed + 5000 + k, keep_images=True)
        rendered.append(ep)
        rows.append(
            row("camera", "clean", 0.0, None, score_frames(scorer, ep.frames, ep.success), ep, "expert")
        )
        for fam in CAMERA_FAMILIES:
            for j, sev in enumerate(args.severities):
                camera = CAMERAS[(k + j) % len(CAMERAS)]
                plan = camera_plan(fam, sev, seed=k, episode_index=k, camera=camera)
                frames = list(with_camera_defect(ep, plan))
                rows.append(
                    row("camera", fam, sev, camera, score_frames(scorer, frames, ep.success), ep, "expert")
                )
    rsim.close()
    args._rendered = rendered
    return rows


def generate(args: argparse.Namespace, cfg: Any) -> list[dict[str, Any]]:
    """Every operator's motion set, then the rendered camera set."""
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    sim = SimEnv(seed=args.seed, image_obs=False)
    for k, operator in enumerate(args.operators):
        rows += operator_rows(sim, args, cfg, operator, first=k * 100_000)
    sim.close()
    print(f"motion episodes: {len(rows)} in {time.perf_counter() - t0:.0f} s", flush=True)
    rows += camera_rows(args, cfg)
    print(f"all episodes: {len(rows)} in {time.perf_counter() - t0:.0f} s", flush=True)
    return rows


def finish_anchor(rows: list[dict[str, Any]]) -> None:
    """The anchor's runtime score needs the whole dataset: one dataset per set, as it would be recorded."""
    for kind in ("motion", "camera"):
        sel = [r for r in rows if r["set"] == kind]
        done = anchor.finish_dataset([r["anchor"] for r in sel], [r["duration_s"] for r in sel])
        for r, a in zip(sel, done, strict=True):
            r["anchor"] = a


def matching_key(row: dict[str, Any]) -> str:
    fam = row["family"]
    return f"{row['camera']}.{MATCH.get(fam, fam)}" if fam in CAMERA_FAMILIES else MATCH[fam]


def table(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    out: dict[str, Any] = {"families": {}}
    anchor_keys = ["visual_clarity", "smoothness", "collision", "runtime", "actuator_sat"]
    print()
    print(
        f"{'family':17s} {'n':>4s} {'ours: match':>12s} {'aggregate':>10s} {'flagged':>8s} "
        f"{'right reason':>12s}"
        f" | {'anchor: best sub':>22s} {'aggregate':>10s}"
    )
    for fam in (*MOTION_FAMILIES, *RECORDING_FAMILIES, *CAMERA_FAMILIES):
        kind = "camera" if fam in CAMERA_FAMILIES else "motion"
        clean = [r for r in rows if r["set"] == kind and r["family"] == "clean"]
        bad = [r for r in rows if r["family"] == fam]
        if not bad:
            continue
        key_name = MATCH.get(fam, fam)
        match_auc = auroc(
            [
                min(r["report"].subscores.get(f"{c}.{key_name}", 1.0) for c in CAMERAS)
                if kind == "camera"
                else r["report"].subscores[key_name]
                for r in clean
            ],
            [r["report"].subscores[matching_key(r)] for r in bad],
        )
        agg_auc = auroc([r["report"].score for r in clean], [r["report"].score for r in bad])
        flagged = np.mean([r["report"].verdict is Verdict.BAD for r in bad])
        right = np.mean([key_name in r["report"].reasons for r in bad])
        best_key, best = "-", float("nan")
        for k in anchor_keys:
            vals_c = [r["anchor"].get(k) for r in clean]
            vals_b = [r["anchor"].get(k) for r in bad]
            if any(v is None for v in vals_c + vals_b):
                continue
            a = auroc(vals_c, vals_b)  # type: ignore[arg-type]
            if not best >= a:
                best_key, best = k, a
        anc_agg = auroc([r["anchor"]["aggregate"] for r in clean], [r["anchor"]["aggregate"] for r in bad])
        out["families"][fam] = {
            "n": len(bad),
            "n_clean": len(clean),
            "auroc_match": match_auc,
            "auroc_aggregate": agg_auc,
            "flagged": float(flagged),
            "right_reason": float(right),
            "anchor_best_subscore": best_key,
            "anchor_auroc_best": best,
            "anchor_auroc_aggregate": anc_agg,
        }
        print(
            f"{fam:17s} {len(bad):4d} {match_auc:12.3f} {agg_auc:10.3f} {flagged:8.0%} {right:12.0%}"
            f" | {best_key + f' {best:.3f}':>22s} {anc_agg:10.3f}"
        )
    clean_all = [r for r in rows if r["family"] == "clean"]
    fr = float(np.mean([r["report"].verdict is Verdict.BAD for r in clean_all]))
    fr_thr = float(np.mean([r["report"].score < threshold for r in clean_all]))
    anc_fr = float(np.mean([r["anchor"]["aggregate"] < 0.5 for r in clean_all]))
    failed = sum(not r["success"] for r in clean_all)
    reasons: dict[str, int] = {}
    for r in clean_all:
        for x in r["report"].reasons:
            reasons[x] = reasons.get(x, 0) + 1
    print(
        f"\nclean episodes: {len(clean_all)} ({failed} failed the task); "
        f"false rejects: verdict bad {fr:.1%}, "
        f"aggregate < {threshold} {fr_thr:.1%} (reasons {reasons or 'none'}); "
        f"anchor aggregate < 0.5: {anc_fr:.1%}"
    )
    per_operator = false_rejects_by_operator(clean_all)
    out["confusion"] = confusion(rows)
    out.update(
        {
            "clean_by_operator": per_operator,
            "clean": len(clean_all),
            "clean_failed": failed,
            "clean_false_reject_verdict": fr,
            "clean_false_reject_threshold": fr_thr,
            "anchor_clean_false_reject": anc_fr,
            "episodes": len(rows),
        }
    )
    return out


def false_rejects_by_operator(clean_all: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Clean false-reject rate and its reasons for each operator (expert, human and keyboard models)."""
    per_operator: dict[str, dict[str, Any]] = {}
    for operator in sorted({r["operator"] for r in clean_all}):
        mine = [r for r in clean_all if r["operator"] == operator]
        rejected = [r for r in mine if r["report"].verdict is Verdict.BAD]
        why: dict[str, int] = {}
        for r in rejected:
            for x in r["report"].reasons:
                why[x] = why.get(x, 0) + 1
        per_operator[operator] = {
            "clean": len(mine),
            "false_reject": len(rejected) / len(mine),
            "reasons": why,
        }
        print(
            f"  {operator:7s} clean {len(mine):4d}: false rejects {len(rejected) / len(mine):.1%} "
            f"(reasons {why or 'none'})"
        )
    return per_operator


def confusion(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Injected family x reported reason: the share of each family's episodes that carry each reason
    (an episode may carry several; `-` = judged good), and the share whose first (worst) reason is the
    family's own. Prints the table and returns it."""
    every = (*MOTION_FAMILIES, *RECORDING_FAMILIES, *CAMERA_FAMILIES)
    families = ["clean", *(f for f in every if any(r["family"] == f for r in rows))]
    table_: dict[str, dict[str, float]] = {}
    for fam in families:
        sel = [r for r in rows if r["family"] == fam]
        counts: dict[str, int] = {}
        for r in sel:
            for x in r["report"].reasons or ["-"]:
                counts[x] = counts.get(x, 0) + 1
        table_[fam] = {k: v / len(sel) for k, v in counts.items()}
        own = "-" if fam == "clean" else MATCH.get(fam, fam)
        table_[fam]["first is own"] = float(np.mean([(r["report"].reasons or ["-"])[0] == own for r in sel]))
    reasons = sorted({k for v in table_.values() for k in v} - {"first is own"}, key=lambda k: (k == "-", k))
    print("\nconfusion: injected family (rows) x reported reason (share of the family's episodes)")
    print(f"{'family':17s} " + " ".join(f"{k[:7]:>7s}" for k in reasons) + "   first reason is its own")
    for fam, shares in table_.items():
        cells = " ".join(f"{shares[k]:7.0%}" if k in shares else f"{'':7s}" for k in reasons)
        print(f"{fam:17s} {cells}   {shares['first is own']:7.0%}")
    return table_


def calibrate(rows: list[dict[str, Any]]) -> None:
    clean = [r["report"].metrics for r in rows if r["family"] == "clean"]
    keys = sorted({k for m in clean for k in m})
    print("\nclean raw metrics: p50 / p95 / p99 / max")
    for k in keys:
        v = np.array([m[k] for m in clean if k in m])
        print(
            f"  {k:24s} {np.percentile(v, 50):9.4f} {np.percentile(v, 95):9.4f} {np.percentile(v, 99):9.4f} "
            f"{v.max():9.4f}"
        )


def write_dataset(root: Path, episodes: list[Episode]) -> None:
    from sim_teleop.dataset.features import (
        ACTION_KEY,
        DONE_KEY,
        REWARD_KEY,
        STATE_KEY,
        SUCCESS_KEY,
        build_features,
        camera_key,
    )
    from sim_teleop.dataset.store import EpisodeWriter, VideoSettings

    writer = EpisodeWriter(
        "bench/scorer", root, 10, build_features(), "Pick up the cube.", VideoSettings(), create=True
    )
    for ep in episodes:
        for i, f in enumerate(ep.frames):
            assert f.images is not None
            row: dict[str, Any] = {
                ACTION_KEY: np.asarray(f.action, np.float32),
                STATE_KEY: np.asarray(f.state, np.float32),
                REWARD_KEY: np.array([float(f.success)], np.float32),
                SUCCESS_KEY: np.array([bool(f.success)]),
                DONE_KEY: np.array([i == len(ep.frames) - 1]),
                "task": "Pick up the cube.",
            }
            for cam, img in f.images.items():
                row[camera_key(cam)] = img
            writer.add(row)
        writer.commit()
    writer.close()


def decode_all(path: Path, t0: float, fps: float, n: int) -> list[np.ndarray]:
    """The anchor's approach: decode every frame of the episode's video span."""
    import av

    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = float(stream.time_base or 0.0)
        container.seek(int(t0 / tb), stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            idx = round((frame.pts * tb - t0) * fps)
            if idx >= n:
                break
            if idx >= 0:
                out.append(frame.to_ndarray(format="rgb24"))
    return out


def anchor_cut(path: Path, t0: float, t1: float, tmp: Path) -> Path:
    """The anchor's v3.0 path: cut the episode's segment out with an ffmpeg subprocess (-c copy)."""
    import subprocess

    out = tmp / "segment.mp4"
    cmd = [
        "ffmpeg",
        "-y",
        "-loglevel",
        "error",
        "-ss",
        str(t0),
        "-i",
        str(path),
        "-t",
        str(t1 - t0),
        "-c",
        "copy",
        "-avoid_negative_ts",
        "1",
        str(out),
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def offline_stuck(args: argparse.Namespace, cfg: Any) -> dict[str, float]:
    """A camera stuck from mid-episode, found offline: rendered clean episodes and the same episodes with
    one camera (front and wrist in turn) frozen from the middle to the end, written as a v3.0 dataset
    (AV1) and scored from sparsely decoded keyframes as `score_dataset.py` does."""
    from sim_teleop.control.defects import Defect
    from sim_teleop.dataset.reader import DatasetReader
    from sim_teleop.quality.offline import offline_config, score_episode

    clean: list[Episode] = args._rendered[: args.offline_episodes]
    stuck = []
    for k, ep in enumerate(clean):
        camera = CAMERAS[k % len(CAMERAS)]
        plan = EpisodePlan(k, (Defect("frozen", 1.0, len(ep.frames) // 2, None, camera),))
        stuck.append(Episode(f"{ep.key}-stuck", plan, list(with_camera_defect(ep, plan)), ep.success))
    tmp = Path(tempfile.mkdtemp(prefix="bench_stuck_"))
    try:
        write_dataset(tmp / "ds", clean + stuck)
        with DatasetReader(tmp / "ds") as reader:
            scorer = EpisodeScorer(offline_config(cfg, reader.info))
            reports = [score_episode(reader, i, scorer, stride=args.stride) for i in range(len(reader))]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def frozen(report: Any) -> float:
        return min(report.subscores.get(f"{cam}.frozen", 1.0) for cam in CAMERAS)

    n = len(clean)
    auc = auroc([frozen(r) for r in reports[:n]], [frozen(r) for r in reports[n:]])
    flagged = float(np.mean(["frozen" in r.reasons for r in reports[n:]]))
    false_alarm = float(np.mean(["frozen" in r.reasons for r in reports[:n]]))
    print(
        f"\noffline stuck camera ({n} clean + {n} stuck from mid-episode, keyframe every {args.stride}): "
        f"AUROC {auc:.3f}, flagged frozen {flagged:.0%}, clean flagged frozen {false_alarm:.0%}"
    )
    return {"episodes": n, "auroc": auc, "flagged": flagged, "clean_flagged": false_alarm}


BASELINE_WORKER = """
import sys, time
from sim_teleop.dataset.reader import DatasetReader
from sim_teleop.quality.config import load_quality_config
from sim_teleop.quality.offline import offline_config, score_episode
from sim_teleop.quality.scorer import EpisodeScorer
root, config, stride = sys.argv[1], sys.argv[2] or None, int(sys.argv[3])
reader = DatasetReader(root)
scorer = EpisodeScorer(offline_config(load_quality_config(config), reader.info))
score_episode(reader, 0, scorer, stride=stride)  # untimed: imports, first file opened
reader.close()
for line in sys.stdin:
    t = time.perf_counter()
    score_episode(reader, int(line), scorer, stride=stride)
    reader.close()
    print(time.perf_counter() - t, flush=True)
"""
"""Another version's offline scorer (`--baseline`): scores the episode index it reads, prints its time."""


class Baseline:
    """A subprocess running `BASELINE_WORKER` on another checkout's `src/`."""

    def __init__(self, checkout: Path, root: Path, config: str | None, stride: int) -> None:
        import subprocess
        import sys

        self.checkout = checkout
        self.times: list[float] = []
        env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
        argv = [sys.executable, "-c", BASELINE_WORKER, str(root), config or "", str(stride)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def score(self, i: int) -> float:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{i}\n")
        self.proc.stdin.flush()
        self.times.append(float(self.proc.stdout.readline()))
        return self.times[-1]

    def close(self, ours: float, decode_all: float, pipeline: float) -> None:
        """End the worker; print its median time against ours and the anchor's (seconds)."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait()
        b = float(np.median(self.times))
        print(
            f"baseline {self.checkout} in the same run: {b * 1000:.1f} ms -> {decode_all / b:.1f}x decode "
            f"every frame, {pipeline / b:.1f}x anchor pipeline; ours {b / ours:.2f}x faster than the baseline"
        )


def time_ours(
    reader: Any, scorer: EpisodeScorer, i: int, stride: int, base: Baseline | None, before: list[float]
) -> float:
    """Our cold time on episode `i` (no file stays open for the next one); the baseline's too, before
    ours on every other episode and after it on the rest."""
    from sim_teleop.quality.offline import score_episode

    if base is not None and i % 2:
        before.append(base.score(i))
    t = time.perf_counter()
    score_episode(reader, i, scorer, stride=stride)
    reader.close()
    elapsed = time.perf_counter() - t
    if base is not None and not i % 2:
        before.append(base.score(i))
    return elapsed


def whole_dataset(root: Path, scorer: EpisodeScorer, stride: int, repeat: int) -> float:
    """Median seconds per episode of `score_dataset` over the whole dataset, as `score_dataset.py` runs
    it: the episodes of a v3.0 file share its opened video and data files."""
    from sim_teleop.quality.offline import score_dataset

    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        n = len(score_dataset(root, scorer, stride=stride))
        times.append((time.perf_counter() - t) / n)
    return float(np.median(times))


def where_time_goes(reader: Any, scorer: EpisodeScorer, stride: int, repeat: int) -> dict[str, float]:
    """Median ms per episode of each stage of ours, cold as timed above: reading the rows, opening the
    videos and decoding the sampled frames, the per-frame metrics without images, and the camera metrics
    (the same frames with their images, less that)."""
    from sim_teleop.quality.offline import consecutive_pairs, sample_images, score_frames

    stages: dict[str, list[float]] = {"rows": [], "decode": [], "motion": [], "camera": []}
    for _ in range(repeat):
        for i in range(len(reader)):
            t = time.perf_counter()
            ep = reader.episode(i)
            t1 = time.perf_counter()
            images = sample_images(reader, i, len(ep.state), stride, consecutive_pairs(ep, scorer.config))
            reader.close()
            t2 = time.perf_counter()
            score_frames(ep, {}, scorer, reader.fps)
            t3 = time.perf_counter()
            score_frames(ep, images, scorer, reader.fps)
            t4 = time.perf_counter()
            for key, value in zip(stages, (t1 - t, t2 - t1, t3 - t2, (t4 - t3) - (t3 - t2)), strict=True):
                stages[key].append(value)
    out = {k: float(np.median(v)) * 1000 for k, v in stages.items()}
    print("where ours goes (median ms per episode): " + ", ".join(f"{k} {v:.1f}" for k, v in out.items()))
    return out


def speed(args: argparse.Namespace, cfg: Any) -> dict[str, float]:
    from sim_teleop.dataset.reader import DatasetReader
    from sim_teleop.quality.offline import offline_config

    if getattr(args, "_rendered", None) is None:  # --speed-only: render just the episodes timed here
        rsim = SimEnv(seed=args.seed + 1, image_obs=True)
        args._rendered = [
            run_episode(rsim, 5000 + k, EpisodePlan(k), expert_seed=args.seed + 5000 + k, keep_images=True)
            for k in range(args.speed_episodes)
        ]
        rsim.close()
    episodes: list[Episode] = args._rendered[: args.speed_episodes]
    tmp = Path(tempfile.mkdtemp(prefix="bench_scorer_"))
    root = tmp / "ds"
    try:
        t = time.perf_counter()
        write_dataset(root, episodes)
        print(f"\nspeed: wrote {len(episodes)} episodes to a v3.0 dataset in {time.perf_counter() - t:.1f} s")
        reader = DatasetReader(root)
        scorer = EpisodeScorer(offline_config(cfg, reader.info))
        base = Baseline(Path(args.baseline), root, args.config, args.stride) if args.baseline else None
        before: list[float] = []  # the baseline's times
        ours, theirs, pipeline, frames = [], [], [], 0
        for _ in range(args.repeat):
            for i in range(len(reader)):
                ours.append(time_ours(reader, scorer, i, args.stride, base, before))
                reader.episode(i)  # untimed: the anchor gets the episode's rows from a cached data file
                t = time.perf_counter()
                ep = reader.episode(i)
                vids = []
                for key in reader.video_keys:
                    path, t0 = reader.video_span(i, key)
                    vids.append(decode_all(path, t0, reader.fps, len(ep.state)))
                anchor.episode_scores(ep.state, ep.action, 1.0 / reader.fps, vids)
                theirs.append(time.perf_counter() - t)
                if shutil.which("ffmpeg"):
                    t = time.perf_counter()
                    vids = []
                    for key in reader.video_keys:
                        path, t0 = reader.video_span(i, key)
                        seg = anchor_cut(path, t0, t0 + len(ep.state) / reader.fps, tmp)
                        vids.append(decode_all(seg, 0.0, reader.fps, len(ep.state)))
                    anchor.episode_scores(ep.state, ep.action, 1.0 / reader.fps, vids)
                    pipeline.append(time.perf_counter() - t)
                frames += len(ep.state)
        o, a = float(np.median(ours)), float(np.median(theirs))
        p = float(np.median(pipeline)) if pipeline else float("nan")
        print(
            f"offline per episode (median over {len(ours)}; {frames / len(ours):.0f} frames, "
            f"{len(reader.video_keys)} videos): ours (keyframe every {args.stride}, + the next where the "
            "frozen check needs it; cold: "
            f"opens, reads and closes the episode's files every time) "
            f"{o * 1000:.1f} ms; decode every frame in-process {a * 1000:.1f} ms -> {a / o:.1f}x; "
            f"anchor pipeline (ffmpeg cut per video + decode "
            f"every frame) {p * 1000:.1f} ms -> {p / o:.1f}x"
        )
        if base is not None:
            base.close(o, a, p)
        w = whole_dataset(root, scorer, args.stride, args.repeat)
        print(
            f"a whole-dataset pass (score_dataset: each video file and data file opened once) "
            f"{w * 1000:.1f} ms per episode -> {p / w:.1f}x the anchor pipeline"
        )
        stages = where_time_goes(reader, scorer, args.stride, args.repeat)
        return {
            **{f"ours_{k}_ms": v for k, v in stages.items()},
            "ours_ms": o * 1000,
            "decode_all_ms": a * 1000,
            "speedup_vs_decode_all": a / o,
            "anchor_pipeline_ms": p * 1000,
            "speedup_vs_anchor_pipeline": p / o,
            "dataset_pass_ms": w * 1000,
            "dataset_pass_speedup_vs_anchor_pipeline": p / w,
            "baseline_ms": float(np.median(before)) * 1000 if before else float("nan"),
            "stride": args.stride,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clean", type=int, default=48, help="clean physics-only episodes")
    ap.add_argument("--seeds", type=int, default=4, help="episodes per motion family and severity")
    ap.add_argument("--severities", type=float, nargs="+", default=[0.3, 0.65, 1.0])
    ap.add_argument(
        "--recorded",
        type=int,
        default=24,
        help="clean episodes per operator damaged by each recording defect",
    )
    ap.add_argument("--rendered", type=int, default=16, help="rendered clean episodes (camera variants each)")
    ap.add_argument("--speed-episodes", type=int, default=8)
    ap.add_argument(
        "--offline-episodes",
        type=int,
        default=8,
        help="rendered episodes (and stuck-camera twins) scored offline",
    )
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument(
        "--stride", type=int, default=DEFAULT_STRIDE, help="offline: frames between sampled keyframes"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--operators",
        nargs="+",
        choices=OPERATORS,
        default=list(OPERATORS),
        help="who drives the motion episodes: the scripted expert, the human or keyboard operator model",
    )
    ap.add_argument("--config", default=None)
    ap.add_argument("--json", default=None, help="write the numbers here")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--speed-only", action="store_true", help="only the offline speed part (no AUROC table)")
    ap.add_argument("--baseline", default=None, help="a checkout whose scorer is timed alongside ours")
    args = ap.parse_args()
    if args.quick:
        args.clean, args.seeds, args.rendered, args.severities, args.speed_episodes = 6, 1, 2, [0.3, 1.0], 2
        args.recorded, args.offline_episodes = 2, 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cfg = load_quality_config(args.config)
    result: dict[str, Any] = {}
    if not args.speed_only:
        rows = generate(args, cfg)
        finish_anchor(rows)
        result = table(rows, cfg.threshold)
        if args.calibrate:
            calibrate(rows)
    if not args.speed_only and args.offline_episodes:
        result["offline_stuck"] = offline_stuck(args, cfg)
    result["speed"] = speed(args, cfg)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
