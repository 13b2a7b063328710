"""Benchmark the review page on a 1,000-episode dataset: first useful paint, filter/sort, memory.

    .venv/bin/python scripts/bench_review.py                      # synthetic tiny dataset, 1000 episodes
    .venv/bin/python scripts/bench_review.py --per-episode-files  # a metadata file per episode (as recorded)
    .venv/bin/python scripts/bench_review.py --dataset ROOT --screenshot media/review.png

The synthetic dataset is what the page reads at scale, without recording 1,000 episodes: info.json with
this project's features, the episodes metadata (one file, as a compacted dataset has, or one per
episode, as the recorder writes), one small H.264 video per camera holding every episode back to back
(as a compacted dataset's file does), and a sidecar whose reports have the live scorer's keys (22
sub-scores, ~40 raw metrics) with scores, reasons and verdicts spread like a real session's.

The server runs as `sim-teleop review` in its own process (its peak RSS is read from /proc); Debian's
chromium loads the page headless. First useful paint: from navigation start to the first drawing of
every card with its score (the page's own mark). Filter/sort: a change of one control to the cards
reordered and the next frame drawn, median of 10.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim_teleop.dataset.features import build_features

FPS = 10
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SUBSCORES = [
    "detour", "drop", "gap", "gripper_chatter", "idle", "jitter", "lag", "path", "saturation", "slow",
    "spike", "telemetry_freeze",
    *(f"{cam}.{m}" for cam in ("front", "wrist") for m in ("blur", "dark", "frozen", "overexposed")),
    "front.partial_view", "wrist.partial_view",
]  # fmt: skip
METRICS = [f"raw_{k}" for k in range(40)]


def write_video(path: Path, frames: int) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for k in range(frames):
            img = np.full((64, 64, 3), (k * 7) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def episode_rows(n: int, length: int) -> list[dict]:
    rows = []
    for i in range(n):
        row = {
            "episode_index": i,
            "tasks": ["Pick up the cube."],
            "length": length,
            "data/chunk_index": 0,
            "data/file_index": 0,
            "dataset_from_index": i * length,
            "dataset_to_index": (i + 1) * length,
        }
        for cam in ("front", "wrist"):
            key = f"observation.images.{cam}"
            row |= {f"videos/{key}/chunk_index": 0, f"videos/{key}/file_index": 0}
            row |= {f"videos/{key}/from_timestamp": i * length / FPS}
            row |= {f"videos/{key}/to_timestamp": (i + 1) * length / FPS}
        rows.append(row)
    return rows


def sidecar_line(i: int, rng: random.Random) -> str:
    subs = {k: round(1.0 - rng.random() ** 6, 4) for k in SUBSCORES}
    reasons = [k.rsplit(".", 1)[-1] for k, v in sorted(subs.items(), key=lambda kv: kv[1]) if v < 0.5]
    success = rng.random() > 0.1
    score = round(min(subs.values()) ** 0.3 * (1.0 if success else 0.5), 4)
    if not success:
        reasons.insert(0, "failed")
    quality = {
        "episode_index": i,
        "score": score,
        "verdict": "bad" if reasons or score < 0.8 else "good",
        "reasons": reasons,
        "subscores": subs,
        "metrics": {m: round(rng.random(), 6) for m in METRICS},
        "success": success,
        "num_frames": 50,
    }
    note = {"defects": [], "operator": rng.choice(["expert", "human", "keyboard"])}
    return json.dumps({"episode_index": i, "quality": quality, "annotation": note, "end_reason": "success"})


def make_dataset(root: Path, n: int, length: int, per_episode_files: bool) -> None:
    features = build_features()
    info = {
        "codebase_version": "v3.0",
        "fps": FPS,
        "total_episodes": n,
        "total_frames": n * length,
        "total_tasks": 1,
        "chunks_size": 1000,
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
        "robot_type": "franka_panda_gym_hil",
        "features": features,
    }
    (root / "meta" / "episodes" / "chunk-000").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps(info))
    rows = episode_rows(n, length)
    groups = [[r] for r in rows] if per_episode_files else [rows]
    for k, group in enumerate(groups):
        pq.write_table(
            pa.Table.from_pylist(group), root / "meta" / "episodes" / "chunk-000" / f"file-{k:03d}.parquet"
        )
    for cam in ("front", "wrist"):
        write_video(root / "videos" / f"observation.images.{cam}" / "chunk-000" / "file-000.mp4", n * length)
    rng = random.Random(0)
    (root / "meta" / "episode_sidecar.jsonl").write_text(
        "\n".join(sidecar_line(i, rng) for i in range(n)) + "\n"
    )


def start_server(root: Path) -> tuple[subprocess.Popen, str]:
    cmd = [
        sys.executable,
        "-m",
        "sim_teleop.launch.console",
        "review",
        str(root),
        "--port",
        "0",
        "--no-browser",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "DISPLAY": ""})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, line.split(" at ")[1].split()[0]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


VIEW_JS = """async ([id, value]) => {
  const el = document.getElementById(id);
  const t0 = performance.now();
  if (el.type === "checkbox") el.checked = value; else el.value = value;
  el.dispatchEvent(new Event("input"));
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  return [performance.now() - t0, document.getElementById("count").textContent];
}"""


def measure_page(url: str, screenshot: Path | None) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_function("window.__review.firstPaint !== undefined", timeout=60_000)
        paint = float(page.evaluate("window.__review.firstPaint"))
        page.wait_for_timeout(500)
        changes: list[tuple[str, str | bool]] = [("sort", "score"), ("filter-verdict", "bad")]
        changes += [("filter-verdict", ""), ("sort", "i")]
        changes += [("filter-reason", "jitter"), ("filter-reason", ""), ("desc", True), ("desc", False)]
        changes += [("filter-min", "0.5"), ("filter-min", "")]
        got = [page.evaluate(VIEW_JS, list(change)) for change in changes]
        times = [g[0] for g in got]
        heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize / 1048576 : NaN")
        if screenshot is not None:
            page.click("#distributions summary")
            page.wait_for_timeout(2000)  # the cards' videos show a frame
            page.screenshot(path=str(screenshot))
            worst = page.eval_on_selector_all(".card.bad", "cs => cs.map(c => Number(c.dataset.episode))")
            if worst:  # the episode view of the first bad episode, beside the page's screenshot
                page.click(f'.card[data-episode="{worst[0]}"] .open')
                page.wait_for_selector("#episode-traces svg")
                page.wait_for_timeout(1000)
                page.evaluate(
                    "seekAll(Number(document.querySelector('#episode-traces svg').dataset.tmax) / 2)"
                )
                page.wait_for_timeout(1000)
                page.screenshot(path=str(screenshot.with_name(screenshot.stem + "_episode.png")))
        browser.close()
    return {
        "paint_ms": paint,
        "view_ms": statistics.median(times),
        "view_max_ms": max(times),
        "heap_mb": heap,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=50, help="frames per episode")
    ap.add_argument("--per-episode-files", action="store_true", help="one metadata file per episode")
    ap.add_argument("--dataset", type=Path, default=None, help="measure this root instead of a synthetic one")
    ap.add_argument("--screenshot", type=Path, default=None, help="save a screenshot of the page here")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench_review_"))
    try:
        root = args.dataset
        if root is None:
            root = tmp / "ds"
            t0 = time.perf_counter()
            make_dataset(root, args.episodes, args.frames, args.per_episode_files)
            print(f"made {args.episodes} episodes in {time.perf_counter() - t0:.1f} s at {root}")
        proc, url = start_server(root)
        try:
            got = measure_page(url, args.screenshot)
            rss = peak_rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    layout = "one metadata file per episode" if args.per_episode_files else "one metadata file"
    print(
        f"{args.episodes if args.dataset is None else root} episodes ({layout}): first useful paint "
        f"{got['paint_ms']:.0f} ms; filter/sort median {got['view_ms']:.0f} ms "
        f"(max {got['view_max_ms']:.0f}); "
        f"server peak RSS {rss:.0f} MB; page JS heap {got['heap_mb']:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
