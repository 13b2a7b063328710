"""Seconds per ACT training step on this CPU at several camera resolutions, same run (ratios).

    python scripts/bench_train_step.py --sizes 128,96,64 --threads 1

Builds the headline ACT (configs/train_act_cpu.json's model: dim 256, 2 encoder / 1 decoder layers,
chunk 20, ResNet18 from scratch) for the sim's features (state 18, front + wrist cameras, action 4) and
times forward + backward + optimizer step on random batches, excluding the first (warm-up) step. Only
the model's cost: data loading and video decoding are not included.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def step_seconds(size: int, batch: int, steps: int, policy_cfg: dict) -> float:
    import torch
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy

    from sim_teleop.dataset.features import ACTION_KEY, STATE_KEY, camera_key
    from sim_teleop.messages import ACTION_DIM, CAMERAS, STATE_DIM

    inputs = {STATE_KEY: PolicyFeature(FeatureType.STATE, (STATE_DIM,))}
    for cam in CAMERAS:
        inputs[camera_key(cam)] = PolicyFeature(FeatureType.VISUAL, (3, size, size))
    keys = (
        "chunk_size",
        "n_action_steps",
        "dim_model",
        "n_heads",
        "dim_feedforward",
        "n_encoder_layers",
        "n_decoder_layers",
        "use_vae",
        "vision_backbone",
        "dropout",
    )
    cfg = ACTConfig(
        input_features=inputs,
        output_features={ACTION_KEY: PolicyFeature(FeatureType.ACTION, (ACTION_DIM,))},
        pretrained_backbone_weights=None,
        device="cpu",
        **{k: policy_cfg[k] for k in keys},
    )
    policy = ACTPolicy(cfg)
    opt = torch.optim.AdamW(policy.parameters(), lr=policy_cfg["optimizer_lr"])
    chunk = cfg.chunk_size
    batch_data = {
        STATE_KEY: torch.randn(batch, STATE_DIM),
        ACTION_KEY: torch.randn(batch, chunk, ACTION_DIM),
        f"{ACTION_KEY}_is_pad": torch.zeros(batch, chunk, dtype=torch.bool),
    }
    for cam in CAMERAS:
        batch_data[camera_key(cam)] = torch.rand(batch, 3, size, size)
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        loss, _ = policy.forward(batch_data)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="128,96,64", help="square image sizes, the first is the baseline")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1, as the recipe trains)")
    ap.add_argument("--steps", type=int, default=8, help="timed steps per size (median reported)")
    ap.add_argument("--batch", type=int, default=0, help="batch size (default: the config's)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    train = json.loads((REPO / "configs" / "train_act_cpu.json").read_text())
    batch = args.batch or int(train["batch_size"])
    sizes = [int(s) for s in args.sizes.split(",")]
    base = None
    for size in sizes:
        sec = step_seconds(size, batch, args.steps, train["policy"])
        base = base or sec
        ratio = base / sec
        print(
            f"{size}x{size}: {sec:.3f} s/step (batch {batch}, {args.threads} thread(s)), x{ratio:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
