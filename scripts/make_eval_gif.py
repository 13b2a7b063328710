"""Render an eval dataset's episodes to a GIF: front and wrist cameras side by side, success marked.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/make_eval_gif.py outputs/eval/act_cpu --out media/eval.gif

Frames come from the recorded videos (what was stored, not a re-render). From the first frame with
`next.success` the border turns green and the banner says SUCCESS; an episode that ends without success
holds its last frame with a red border. `--episodes` picks episodes (default: up to `--max-episodes`,
successes and failures mixed in dataset order).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

SCALE = 2
BANNER = 22
BORDER = 4
GREEN = (40, 200, 60)
RED = (220, 50, 40)
GREY = (90, 90, 90)


def pick_episodes(success: dict[int, bool], wanted: int) -> list[int]:
    """Up to `wanted` episodes, keeping both outcomes when both exist (failures are informative too)."""
    ok = [e for e in sorted(success) if success[e]]
    bad = [e for e in sorted(success) if not success[e]]
    n_bad = min(len(bad), max(1, wanted // 3)) if bad else 0
    chosen = ok[: wanted - n_bad] + bad[:n_bad]
    if len(chosen) < wanted:
        chosen += [e for e in sorted(success) if e not in chosen][: wanted - len(chosen)]
    return sorted(chosen)


def compose(front: np.ndarray, wrist: np.ndarray, text: str, colour: tuple[int, int, int]) -> np.ndarray:
    """Two HxWx3 uint8 images -> one bordered, upscaled panel with a banner line of text."""
    from PIL import Image, ImageDraw

    pair = np.concatenate([front, wrist], axis=1)
    pair = pair.repeat(SCALE, axis=0).repeat(SCALE, axis=1)
    h, w = pair.shape[:2]
    canvas = np.zeros((h + BANNER + 2 * BORDER, w + 2 * BORDER, 3), np.uint8)
    canvas[:, :] = colour
    canvas[BANNER + BORDER : BANNER + BORDER + h, BORDER : BORDER + w] = pair
    img = Image.fromarray(canvas)
    ImageDraw.Draw(img).text((BORDER + 4, 5), text, fill=(255, 255, 255))
    return np.asarray(img)


def load_episode_frames(root: Path, repo_id: str) -> tuple[Any, dict[int, tuple[int, int]]]:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset(repo_id, root=root)
    spans = {}
    eps = ds.meta.episodes
    for i in range(len(eps)):
        row = eps[i]
        spans[int(row["episode_index"])] = (int(row["dataset_from_index"]), int(row["dataset_to_index"]))
    return ds, spans


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("root", type=Path, help="eval dataset root (outputs/eval/<name>)")
    parser.add_argument("--out", type=Path, default=Path("media/eval.gif"))
    parser.add_argument("--episodes", type=int, nargs="*", default=None)
    parser.add_argument("--max-episodes", type=int, default=4)
    parser.add_argument(
        "--stride", type=int, default=2, help="keep every n-th frame (GIF plays in real time)"
    )
    parser.add_argument("--hold", type=int, default=6, help="GIF frames to hold each episode's end")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from PIL import Image

    from sim_teleop.dataset.features import SUCCESS_KEY, camera_key
    from sim_teleop.dataset.reader import read_info
    from sim_teleop.eval.summary import results_from_dataset

    fps = float(read_info(args.root)["fps"])
    results, _ = results_from_dataset(args.root)
    if not results:
        print(f"{args.root}: no episodes", file=sys.stderr)
        return 1
    by_ep = {r.episode_index: r for r in results}
    episodes = args.episodes or pick_episodes({e: r.success for e, r in by_ep.items()}, args.max_episodes)
    missing = [e for e in episodes if e not in by_ep]
    if missing:
        print(f"{args.root}: no episode(s) {missing}", file=sys.stderr)
        return 1

    repo_id = "local/" + args.root.name
    ds, spans = load_episode_frames(args.root, repo_id)
    frames: list[np.ndarray] = []
    for ep in episodes:
        start, stop = spans[ep]
        res = by_ep[ep]
        last = None
        for k, idx in enumerate(range(start, stop)):
            if k % args.stride and idx != stop - 1:
                continue
            item = ds[idx]
            front = (item[camera_key("front")].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            wrist = (item[camera_key("wrist")].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            succeeded = bool(item[SUCCESS_KEY].item()) or (
                res.time_to_success_s is not None and k / fps >= res.time_to_success_s
            )
            text = f"episode {ep}  t={k / fps:4.1f}s" + ("  SUCCESS" if succeeded else "")
            last = (front, wrist)
            frames.append(compose(front, wrist, text, GREEN if succeeded else GREY))
        if last is not None:
            verdict = "SUCCESS" if res.success else f"FAIL ({res.end_reason})"
            end = compose(*last, f"episode {ep}  {verdict}", GREEN if res.success else RED)
            frames.extend([end] * args.hold)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    # An adaptive 64-colour palette per frame keeps the GIF small enough for the README.
    images = [Image.fromarray(f).quantize(colors=64, method=Image.Quantize.MEDIANCUT) for f in frames]
    images[0].save(
        args.out,
        save_all=True,
        append_images=images[1:],
        duration=int(1000 * args.stride / fps),
        loop=0,
        optimize=True,
    )
    ok = sum(1 for e in episodes if by_ep[e].success)
    size_kb = args.out.stat().st_size / 1024
    print(f"wrote {args.out}: {len(frames)} frames, episodes {episodes} ({ok} successful), {size_kb:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
