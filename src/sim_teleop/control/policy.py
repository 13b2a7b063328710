"""Closed-loop evaluation of a `lerobot-train` checkpoint in the sim: checks, inference, auto-advance.

Three pieces, each usable without dora:

- `validate_checkpoint(path)` finds the checkpoint directory and checks, from its `config.json` alone
  (no torch, no lerobot import), that the policy consumes exactly what the sim produces (state 18,
  front/wrist 128x128x3 images) and emits the 4-D action. A bad checkpoint fails here with a message that
  says what to fix, before the dataflow starts stepping.
- `PolicyRunner` loads the policy with its pre/post-processors and turns one sim frame into one action.
- `EvalController` follows the sim's frames and decides, per frame, whether the policy must be reset,
  whether an action is due, and which control command (if any) the shared auto-advance sends.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sim_teleop.config import REPO_ROOT
from sim_teleop.dataset.features import ACTION_KEY, IMAGE_KEYS, STATE_KEY
from sim_teleop.images import resize_image
from sim_teleop.messages import (
    ACTION_DIM,
    GRIPPER_COMMAND_MAX,
    IMAGE_SHAPE,
    STATE_DIM,
    STATE_GRIPPER,
    Frame,
)

SIM_INPUT_SHAPES: dict[str, tuple[int, ...]] = {
    STATE_KEY: (STATE_DIM,),
    **{key: (IMAGE_SHAPE[2], IMAGE_SHAPE[0], IMAGE_SHAPE[1]) for key in IMAGE_KEYS.values()},
}
"""What the sim can feed a policy, in lerobot's policy-feature shapes (images channel-first). A camera
input may also be smaller (trained on `scripts/resize_dataset.py` output): the runner then resizes
every sim image to it with `images.resize_image`, the function that made the training images."""
SIM_ACTION_SHAPE: tuple[int, ...] = (ACTION_DIM,)

CHECKPOINT_SUBDIR = Path("checkpoints") / "last" / "pretrained_model"
REQUIRED_FILES = ("config.json", "model.safetensors")


class Policy(Protocol):
    """What drives an eval, in the dataflow (`eval.session`) or in-process (`eval.rollout`): a
    `PolicyRunner`, or a test's stand-in."""

    def reset(self) -> None: ...
    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray: ...


class PolicyError(RuntimeError):
    """The checkpoint cannot drive this sim; the text says why and what to do."""


def resolve_checkpoint(path: str | Path) -> Path:
    """Accept a `pretrained_model` dir, a `checkpoints/<step>` dir or a training run's `output_dir`."""
    p = Path(path)
    if not p.is_absolute() and not p.exists():
        p = REPO_ROOT / p
    if not p.exists():
        raise PolicyError(
            f"policy checkpoint not found: {path} (train one with `lerobot-train --config_path "
            f"configs/train_act_cpu.json`, or set POLICY_CHECKPOINT to a .../pretrained_model directory)"
        )
    for cand in (p, p / "pretrained_model", p / CHECKPOINT_SUBDIR):
        if (cand / "config.json").is_file():
            missing = [f for f in REQUIRED_FILES if not (cand / f).is_file()]
            if missing:
                raise PolicyError(f"policy checkpoint {cand} is incomplete: missing {', '.join(missing)}")
            return cand
    raise PolicyError(
        f"no policy checkpoint under {p}: expected config.json + model.safetensors in it, in "
        f"pretrained_model/ or in {CHECKPOINT_SUBDIR}/"
    )


def check_features(input_features: dict[str, Any], output_features: dict[str, Any]) -> None:
    """Raise PolicyError unless the policy's features are ones the sim provides, with the same shapes.

    Features are lerobot's serialized `{"name": {"type": ..., "shape": [...]}}` dicts. Every input the
    policy wants must come from the sim (it cannot invent an `observation.environment_state`), and it
    must take the state and at least one camera; the action must be exactly 4-D.
    """
    inputs, outputs = input_features or {}, output_features or {}
    problems = [p for name, feat in inputs.items() if (p := _input_problem(name, feat)) is not None]
    if STATE_KEY not in inputs:
        problems.append(f"input {STATE_KEY!r} ({STATE_DIM},) is missing")
    if not any(k in inputs for k in IMAGE_KEYS.values()):
        problems.append(f"no camera input (expected {', '.join(IMAGE_KEYS.values())})")
    action = outputs.get(ACTION_KEY)
    if action is None:
        problems.append(f"output {ACTION_KEY!r} is missing")
    elif _shape(action) != SIM_ACTION_SHAPE:
        problems.append(
            f"output 'action' has shape {_shape(action)}, the sim takes {SIM_ACTION_SHAPE} (x, y, z, gripper)"
        )
    extra = sorted(set(outputs) - {ACTION_KEY})
    if extra:
        problems.append(f"unexpected outputs {extra}")
    if problems:
        raise PolicyError("policy features do not match the sim: " + "; ".join(problems))


def _shape(feature: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(d) for d in feature.get("shape", ()))


def _input_problem(name: str, feature: dict[str, Any]) -> str | None:
    """Why the sim cannot feed the policy input `name` (None: it can)."""
    shape = _shape(feature)
    expected = SIM_INPUT_SHAPES.get(name)
    if expected is None:
        return f"input {name!r} {shape} is not produced by the sim"
    if name in IMAGE_KEYS.values():
        if _image_fits(shape, expected):
            return None
        return (
            f"input {name!r} has shape {shape}: the sim gives {expected}, or smaller "
            f"(3, h, w) images by resizing, never larger"
        )
    if shape != expected:
        return f"input {name!r} has shape {shape}, the sim gives {expected}"
    return None


def _image_fits(shape: tuple[int, ...], sim_shape: tuple[int, ...]) -> bool:
    return (
        len(shape) == 3
        and shape[0] == sim_shape[0]
        and 0 < shape[1] <= sim_shape[1]
        and 0 < shape[2] <= sim_shape[2]
    )


def validate_checkpoint(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """Resolve and check a checkpoint from its config.json; returns (directory, config dict)."""
    ckpt = resolve_checkpoint(path)
    try:
        cfg = json.loads((ckpt / "config.json").read_text())
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{ckpt / 'config.json'}: invalid JSON: {exc}") from None
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise PolicyError(f"{ckpt / 'config.json'}: not a lerobot policy config (no 'type')")
    check_features(cfg.get("input_features") or {}, cfg.get("output_features") or {})
    return ckpt, cfg


def frame_observation(frame: Frame) -> dict[str, np.ndarray]:
    """The dataset-style observation a policy trained on our recordings expects."""
    obs: dict[str, np.ndarray] = {STATE_KEY: np.asarray(frame.state, dtype=np.float32)}
    for cam, key in IMAGE_KEYS.items():
        obs[key] = frame.image(cam)
    return obs


def gripper_state_scale(ckpt: Path) -> float:
    """What the state's gripper must be multiplied by for this checkpoint: 255 for one trained on a
    dataset recorded before the gripper became 0..1 (its normalizer saw values up to 255), else 1.

    Without it such a checkpoint would see a gripper ~2 standard deviations off on every step and
    fail quietly; its own normalizer statistics say which unit it learnt."""
    from safetensors.numpy import load_file

    for path in sorted(ckpt.glob("policy_preprocessor_step_*_normalizer_processor.safetensors")):
        stats = load_file(str(path))
        high = stats.get(f"{STATE_KEY}.max")
        if high is not None and len(high) == STATE_DIM:
            return GRIPPER_COMMAND_MAX if float(high[STATE_GRIPPER]) > 1.5 else 1.0
    return 1.0


class PolicyRunner:
    """A trained policy with its processors: `reset()` per episode, `act(obs)` per tick."""

    def __init__(
        self,
        checkpoint: str | Path,
        device: str = "cpu",
        threads: int | None = 1,
        n_action_steps: int | None = None,
        temporal_ensemble: float | None = None,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.path, raw_cfg = validate_checkpoint(checkpoint)
        import torch

        if threads:
            # Measured here: with the sim busy on the other core, 2 intra-op threads spin and wait,
            # p99 ~450 ms per network call; 1 thread holds ~37 ms.
            torch.set_num_threads(threads)
        from lerobot.configs.policies import PreTrainedConfig
        from lerobot.policies.factory import get_policy_class, make_pre_post_processors

        cfg = PreTrainedConfig.from_pretrained(self.path)
        cfg.device = device
        if hasattr(cfg, "pretrained_backbone_weights"):
            # The weights come from the checkpoint; never try to fetch ImageNet weights.
            cfg.pretrained_backbone_weights = None
        if n_action_steps is not None:
            # Replan more often than trained for: fewer open-loop steps per chunk, same weights.
            chunk = int(getattr(cfg, "chunk_size", n_action_steps))
            if not 1 <= n_action_steps <= chunk:
                raise PolicyError(
                    f"POLICY_N_ACTION_STEPS={n_action_steps}: must be in 1..{chunk} (chunk size)"
                )
            cfg.n_action_steps = n_action_steps
        if temporal_ensemble is not None:
            # ACT only: run the network every step and average the overlapping chunks' predictions
            # for the current step, weighted exp(-coeff * age) (coeff 0 = plain mean).
            if not hasattr(cfg, "temporal_ensemble_coeff"):
                raise PolicyError(f"temporal ensembling is an ACT option; this policy is {raw_cfg['type']}")
            cfg.temporal_ensemble_coeff = temporal_ensemble
            cfg.n_action_steps = 1
        self.config = cfg
        self.policy_type = str(raw_cfg["type"])
        self.device = torch.device(device)
        self.policy = get_policy_class(cfg.type).from_pretrained(self.path, config=cfg)
        self.policy.eval()
        self.preprocessor, self.postprocessor = make_pre_post_processors(
            cfg,
            pretrained_path=str(self.path),
            preprocessor_overrides={"device_processor": {"device": device}},
            postprocessor_overrides={"device_processor": {"device": "cpu"}},
        )
        inputs = raw_cfg.get("input_features") or {}
        self.input_keys = [k for k in inputs if k in SIM_INPUT_SHAPES]
        self.image_sizes = {
            k: (int(inputs[k]["shape"][1]), int(inputs[k]["shape"][2]))
            for k in self.input_keys
            if k in IMAGE_KEYS.values()
        }
        self._torch = torch
        self.inferences = 0  # calls that produced an action
        self.gripper_scale = gripper_state_scale(self.path)

    def reset(self) -> None:
        """Clear the action queue / temporal state: call at the start of every episode."""
        self.policy.reset()
        if hasattr(self.preprocessor, "reset"):
            self.preprocessor.reset()
        if hasattr(self.postprocessor, "reset"):
            self.postprocessor.reset()

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """One observation (state (18,), images HxWx3 uint8) -> action (4,) float32."""
        torch = self._torch
        batch: dict[str, Any] = {}
        for key in self.input_keys:
            raw = obs[key]
            if key == STATE_KEY and self.gripper_scale != 1.0:
                raw = np.array(raw, dtype=np.float32)
                raw[STATE_GRIPPER] *= self.gripper_scale
            if key in self.image_sizes:
                raw = resize_image(raw, *self.image_sizes[key])
            value = torch.from_numpy(np.array(raw, copy=True))  # frame buffers are read-only
            if key in IMAGE_KEYS.values():
                value = value.permute(2, 0, 1).to(torch.float32) / 255.0
            batch[key] = value.unsqueeze(0)
        batch["task"] = [""]
        with torch.inference_mode():
            processed = self.preprocessor(batch)
            action = self.policy.select_action(processed)
            action = self.postprocessor(action)
        self.inferences += 1
        out = np.asarray(action.detach().cpu().numpy(), dtype=np.float32).reshape(-1)
        if out.shape != SIM_ACTION_SHAPE or not np.all(np.isfinite(out)):
            raise PolicyError(f"policy produced an unusable action {out.tolist()}")
        return out

    def warm_up(self) -> float:
        """Run one inference on a blank observation (first torch call is slow); returns seconds."""
        t0 = time.perf_counter()
        blank: dict[str, np.ndarray] = {STATE_KEY: np.zeros(STATE_DIM, np.float32)}
        for key in IMAGE_KEYS.values():
            blank[key] = np.zeros(IMAGE_SHAPE, np.uint8)
        self.act(blank)
        self.reset()
        return time.perf_counter() - t0
