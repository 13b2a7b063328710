"""The eval's settings: which checkpoint drives, on what device, for how many episodes, where the
summary goes. The run-level ones (fps, root, tick period) come from `RunConfig`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sim_teleop.config import DEFAULT_FPS, REPO_ROOT, Config, RunConfig, setting

DEFAULT_CHECKPOINT = "outputs/train/act_cpu/checkpoints/last/pretrained_model"
DEFAULT_EVAL_CONFIG = "configs/eval.json"


@dataclass(frozen=True)
class EvalSettings(Config):
    """Policy-node settings, from the environment (defaults documented in sim_teleop.nodes.policy)."""

    checkpoint: str = setting(DEFAULT_CHECKPOINT, env="POLICY_CHECKPOINT")
    device: str = setting("cpu", env="POLICY_DEVICE")
    threads: int = setting(1, env="POLICY_THREADS", min=0)
    n_action_steps: int | None = setting(None, env="POLICY_N_ACTION_STEPS", min=0, zero_is_none=True)
    # ACT temporal-ensembling coefficient; None (off, none): off
    temporal_ensemble: float | None = setting(None, env="POLICY_TEMPORAL_ENSEMBLE", min=0.0)
    episodes: int = setting(50, env="EVAL_EPISODES", min=1)
    # where eval_summary.json goes; default (set by `from_env`): the recorder's root
    output_dir: Path = setting(REPO_ROOT / "outputs" / "eval" / "default", env="EVAL_OUTPUT")
    fps: int = setting(DEFAULT_FPS, min=1)  # the run's (RunConfig.fps), set by `from_env`
    tick_period_s: float = setting(1.0 / DEFAULT_FPS, min=0.0)  # the run's (RunConfig), set by `from_env`

    def validate(self) -> None:
        if not self.output_dir.is_absolute():
            object.__setattr__(self, "output_dir", self.output_dir.resolve())

    @classmethod
    def from_env(cls) -> EvalSettings:
        """POLICY_*/EVAL_* env vars over the run's fps and root (RECORD_CONFIG, default configs/eval.json)."""
        run = RunConfig.load(default=DEFAULT_EVAL_CONFIG)
        values = {"output_dir": run.root, "fps": run.fps, "tick_period_s": run.tick_period_s}
        return cls.from_dict(values, where="eval")
