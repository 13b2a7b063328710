"""Benchmark the recorder against lerobot's default (PNG frames, then encode at save) in the same run.

    python scripts/bench_recorder.py [--episodes 20] [--frames 30]

One `dora run` of: the real sim (10 Hz timer, both cameras rendered) driven by a scripted controller
(tests/dora_nodes/script_controller.py: N frames per episode, then Space through done/resetting), and two
recorder nodes fed the same frames: ours (streaming encoding, commits on a writer thread, one finalized
lerobot session per episode) and lerobot's default way (`add_frame` writes PNGs, `save_episode`
encodes, all inside the receive loop). Prints per recorder the episode-boundary pause (time the
receive loop is blocked on the frame that ends an episode) p50/p99, our writer-side commit latency,
frames dropped/duplicated (recorded frames vs the running frames the sim emitted for saved episodes),
and the sim's ticks served (frames emitted / timer ticks elapsed) with both recorders running.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

from sim_teleop.launch.dora import dora_environment
from sim_teleop.messages import Phase

REPO = Path(__file__).resolve().parents[1]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--frames", type=int, default=30, help="running frames per episode")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_recorder_"))
    env = dora_environment(SIM_TIME_LIMIT_S="600")
    configs = {
        "ours": {"video": {"codec": "libsvtav1", "streaming": True}, "writer": "thread"},
        "lerobot_default": {"video": {"codec": "libsvtav1", "streaming": False}, "writer": "inline"},
    }
    spec = yaml.safe_load((REPO / "dataflow-record.yaml").read_text())
    nodes = [n for n in spec["nodes"] if n["id"] in ("sim", "keyboard")]
    kb = next(n for n in nodes if n["id"] == "keyboard")
    kb["path"] = str(REPO / "tests" / "nodes" / "script_controller.py")
    kb["inputs"]["frame"] = {"source": "sim/frame", "queue_size": 1000}
    kb["env"] = {"SCRIPT": ",".join([str(args.frames)] * args.episodes)}
    sim = next(n for n in nodes if n["id"] == "sim")
    for edge in ("control_recorder", "recorder_progress", "scorer_quality"):  # no scorer, several recorders
        sim["inputs"].pop(edge, None)
    sim.get("env", {}).pop("SIM_WAIT_FOR_START", None)  # the script starts at once, no Space
    for name, extra in configs.items():
        cfg_path = tmp / f"{name}.json"
        cfg_path.write_text(
            json.dumps({"repo_id": f"bench/{name}", "root": str(tmp / name), "num_episodes": 10_000, **extra})
        )
        nodes.append(
            {
                "id": f"rec_{name}",
                "path": "sim-teleop-recorder",
                "inputs": {"frame": {"source": "sim/frame", "queue_size": 1000}},
                "outputs": ["control"],
                "env": {"RECORD_CONFIG": str(cfg_path), "RECORD_STATS_PATH": str(tmp / f"{name}.stats.json")},
            }
        )
    probe = tmp / "frames.jsonl"
    nodes.append(
        {
            "id": "probe",
            "path": str(REPO / "tests" / "nodes" / "frame_probe.py"),
            "inputs": {"frame": {"source": "sim/frame", "queue_size": 1000}},
            "env": {"PROBE_OUT": str(probe)},
        }
    )
    flow = tmp / "bench.yaml"
    flow.write_text(yaml.safe_dump({"nodes": nodes}, sort_keys=False))
    print(f"running {args.episodes} episodes x {args.frames} frames in {tmp} ...", flush=True)
    with (tmp / "dora.log").open("w") as log:
        rc = subprocess.run(
            ["dora", "run", str(flow)],
            cwd=tmp,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=1800,
            check=False,
        ).returncode
    if rc != 0:
        print(f"dora run failed ({rc}); see {tmp / 'dora.log'}")
        return 1

    rows = [json.loads(line) for line in probe.read_text().splitlines() if line.strip()]
    served = len(rows)
    elapsed = rows[-1]["tick_index"] + 1
    running: dict[int, list[int]] = {}
    for r in rows:
        if Phase(r["phase"]) is Phase.RUNNING:
            running.setdefault(r["episode_index"], []).append(r["frame_index"])
    os.environ["HF_HUB_OFFLINE"] = "1"
    from lerobot.datasets import LeRobotDataset

    print(
        f"\nsim: {served} frames for {elapsed} timer ticks -> {100 * served / elapsed:.1f}% ticks served "
        f"(both recorders running; ticks_missed reported by the sim: {rows[-1]['ticks_missed']})"
    )
    for name in configs:
        st = json.loads((tmp / f"{name}.stats.json").read_text())
        ds = LeRobotDataset(f"bench/{name}", root=tmp / name)
        saved = [t for t in st["timings"] if t["saved_as"] is not None]
        expected = sum(len(running[t["attempt"]]) for t in saved)
        block = [1000 * t["loop_block_s"] for t in saved]
        commit = [1000 * (t["save_s"] + t["finalize_s"] + t["open_s"]) for t in saved]
        print(
            f"\n{name}: {ds.meta.total_episodes} episodes, {ds.meta.total_frames} frames "
            f"(sim emitted {expected} running frames for them) -> dropped "
            f"{max(0, expected - ds.meta.total_frames)}, extra {max(0, ds.meta.total_frames - expected)}; "
            f"tracker: dropped {st['stats']['dropped']}, "
            f"duplicated {st['stats']['duplicated']}"
        )
        print(
            f"  boundary pause of the receive loop: p50 {pct(block, 50):.1f} ms, "
            f"p99 {pct(block, 99):.1f} ms, max {max(block):.1f} ms"
        )
        if name != "ours":
            save = [1000 * t["save_s"] for t in saved]
            print(
                f"  of which lerobot's save_episode (encode PNGs): p50 {pct(save, 50):.0f} ms, "
                f"p99 {pct(save, 99):.0f} ms"
            )
        if name == "ours":
            print(
                f"  writer thread per commit (save + finalize + open next): p50 {pct(commit, 50):.0f} ms, "
                f"p99 {pct(commit, 99):.0f} ms"
            )
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
