"""Quality-scoring configuration: signal layout, metric thresholds, weights, verdict policy.

Defaults here are the values calibrated on clean expert episodes (see `calibration.py` and
`scripts/bench_scorer.py`); `configs/quality.json` may override any key. A dataset recorded by another
tool gives its own state/action layout under `"layout"` so the same metric code reads the right columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from sim_teleop.config import ConfigError, load_json
from sim_teleop.quality import calibration as cal

DEFAULT_CONFIG_PATH = "configs/quality.json"


@dataclass(frozen=True, slots=True)
class SignalLayout:
    """Where each physical signal lives in `observation.state` / `action` (indices), and its scale.

    Metrics are computed per signal in that signal's own unit (m, 0..1 gripper), never on one vector of
    mixed units. `tcp` is required; the others may be None (the metrics using them are then skipped).
    """

    tcp: tuple[int, int, int] | None = (15, 16, 17)  # state indices of the end-effector xyz (m)
    state_gripper: int | None = 14  # state index of the gripper command
    state_gripper_max: float = 1.0  # its full-scale value (ours: 0 open .. 1 closed; 255 in old datasets)
    action_xyz: tuple[int, int, int] | None = (0, 1, 2)  # action indices of the commanded xyz (m)
    action_gripper: int | None = 3  # action index of the gripper command
    action_gripper_max: float = 1.0  # its full-scale value (ours: 0 open .. 1 closed)
    action_xyz_limit: float | None = 0.35  # |commanded offset| at which the command saturates (m)
    workspace_low: tuple[float, float, float] | None = (0.2, -0.3, 0.0)  # gym-hil mocap bounds (m)
    workspace_high: tuple[float, float, float] | None = (0.6, 0.3, 0.5)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignalLayout:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"quality layout: unknown keys {sorted(unknown)} (known: {sorted(known)})")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            kwargs[key] = tuple(value) if isinstance(value, list) else value
        return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class QualityConfig:
    fps: float = 10.0
    layout: SignalLayout = field(default_factory=SignalLayout)
    cameras: tuple[str, ...] = ("front", "wrist")
    # Each metric's raw value x maps to a sub-score s = 2 ** -((x / half) ** power): s = 0.5 at x = half
    # (the calibrated "bad" boundary), ~1 for clean values, falling fast beyond it.
    half: dict[str, float] = field(default_factory=lambda: dict(cal.HALF))
    power: float = cal.POWER
    weights: dict[str, float] = field(default_factory=lambda: dict(cal.WEIGHTS))
    thresholds: dict[str, float] = field(default_factory=lambda: dict(cal.THRESHOLDS))
    subscore_bad: float = 0.5  # a sub-score below this is a reason code
    threshold: float = cal.DEFAULT_THRESHOLD  # aggregate below this -> bad
    failure_factor: float = 0.5  # task success is a gate: a failed episode's aggregate is multiplied by it
    reference_duration_s: float = cal.REFERENCE_DURATION_S  # prior for the running time reference
    reference_window: int = 25  # durations of recent good episodes kept for the running reference

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityConfig:
        data = {k: v for k, v in data.items() if not k.startswith("_")}
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"quality config: unknown keys {sorted(unknown)} (known: {sorted(known)})")
        base = cls()
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key == "layout":
                kwargs[key] = SignalLayout.from_dict(value)
            elif key in ("half", "weights", "thresholds"):
                if not isinstance(value, dict):
                    raise ConfigError(f"quality config: {key} must be an object")
                merged = dict(getattr(base, key))
                merged.update({str(k): float(v) for k, v in value.items()})
                kwargs[key] = merged
            elif key == "cameras":
                kwargs[key] = tuple(str(c) for c in value)
            else:
                kwargs[key] = value
        cfg = replace(base, **kwargs)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if self.fps <= 0:
            raise ConfigError(f"quality config: fps must be > 0, got {self.fps}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"quality config: threshold must be in [0, 1], got {self.threshold}")
        for name, value in self.half.items():
            if value <= 0:
                raise ConfigError(f"quality config: half[{name}] must be > 0, got {value}")
        for name, value in self.weights.items():
            if value < 0:
                raise ConfigError(f"quality config: weights[{name}] must be >= 0, got {value}")


def load_quality_config(path: str | Path | None = None) -> QualityConfig:
    """Load `configs/quality.json` (or `path`); a missing default file means the built-in defaults."""
    if path is None:
        from sim_teleop.config import REPO_ROOT

        default = REPO_ROOT / DEFAULT_CONFIG_PATH
        if not default.exists():
            return QualityConfig()
        path = default
    return QualityConfig.from_dict(load_json(path))
