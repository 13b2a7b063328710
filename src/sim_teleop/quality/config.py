"""Quality-scoring configuration: signal layout, metric thresholds, weights, verdict policy.

Defaults here are the values calibrated on clean expert episodes (each family's in its declaration,
`quality.families`; the shared ones in `calibration.py`; see `scripts/bench_scorer.py`);
`configs/quality.json` may override any key. A dataset recorded by another tool gives its own
state/action layout under `"layout"` so the same metric code reads the right columns; without one,
offline scoring infers it from the dataset's feature names (`layout.infer_layout`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim_teleop.config import DEFAULT_FPS, Config, ConfigError, load_json, setting
from sim_teleop.quality import calibration as cal
from sim_teleop.quality.families import FAMILIES

DEFAULT_CONFIG_PATH = "configs/quality.json"

HALF: dict[str, float] = FAMILIES.halves()
"""Every family's bad boundaries, by source (`Family.sources`)."""
WEIGHTS: dict[str, float] = FAMILIES.weights()
"""Every family's weight in the aggregate (a camera family's applies per camera)."""
THRESHOLDS: dict[str, float] = {**cal.THRESHOLDS, **FAMILIES.thresholds()}
"""The shared per-frame thresholds and every family's own."""


@dataclass(frozen=True)
class SignalLayout(Config):
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
    # Joint positions (rad) and their velocities (rad/s), element by element: a dropped row shows as
    # joints that moved more than their velocities explain (`gap`; gym-hil's controller only).
    joint_pos: tuple[int, ...] | None = (0, 1, 2, 3, 4, 5, 6)
    joint_vel: tuple[int, ...] | None = (7, 8, 9, 10, 11, 12, 13)
    # Offline, no TCP: motion and action spikes read in each state/action dimension's episode range
    # (`joints`), so `frozen` and `spike` are computed all the same.
    joint_ranges: bool = False


def _over(defaults: Mapping[str, float]) -> Callable[[Any, str], dict[str, float]]:
    """A per-metric table from JSON: its entries replace those of `defaults`, the others stay."""

    def parse(value: Any, label: str) -> dict[str, float]:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{label}={value!r}: expected an object")
        table = {**defaults}
        for name, x in value.items():
            if isinstance(x, bool) or not isinstance(x, int | float):
                raise ConfigError(f"{label}.{name}={x!r}: expected a number")
            table[str(name)] = float(x)
        return table

    return parse


@dataclass(frozen=True)
class QualityConfig(Config):
    fps: float = float(DEFAULT_FPS)  # live: the run's; offline: the dataset's
    layout: SignalLayout = field(default_factory=SignalLayout)
    cameras: tuple[str, ...] = ("front", "wrist")
    # Each metric's raw value x maps to a sub-score s = 2 ** -((x / half) ** power): s = 0.5 at x = half
    # (the calibrated "bad" boundary), ~1 for clean values, falling fast beyond it.
    half: dict[str, float] = setting(default_factory=lambda: dict(HALF), parse=_over(HALF))
    power: float = cal.POWER
    weights: dict[str, float] = setting(default_factory=lambda: dict(WEIGHTS), parse=_over(WEIGHTS))
    thresholds: dict[str, float] = setting(default_factory=lambda: dict(THRESHOLDS), parse=_over(THRESHOLDS))
    subscore_bad: float = 0.5  # a sub-score below this is a reason code
    threshold: float = setting(cal.DEFAULT_THRESHOLD, min=0.0, max=1.0)  # aggregate below this -> bad
    failure_factor: float = 0.5  # task success is a gate: a failed episode's aggregate is multiplied by it
    success_gate: bool = True  # offline: off for a dataset without a success column (nothing to gate on)
    # prior for the running time reference; 0: none (offline, a dataset of another layout: another task)
    reference_duration_s: float = cal.REFERENCE_DURATION_S
    reference_window: int = 25  # recent successful episodes kept for the running reference
    use_images: bool = setting(True, env="QUALITY_IMAGES")  # live: the camera metrics (off: motion only)
    # True when the file gives `layout`: offline it then wins over the layout inferred from the dataset.
    layout_given: bool = False
    # Offline, a dataset of another layout: each camera's usual brightness and sharpness are learnt from
    # the dataset's own episodes (`CameraReference`), not this project's calibrated renders.
    learn_camera_levels: bool = False

    def validate(self) -> None:
        if self.fps <= 0:
            raise ConfigError(f"quality config: fps must be > 0, got {self.fps}")
        for name, value in self.half.items():
            if value <= 0:
                raise ConfigError(f"quality config: half[{name}] must be > 0, got {value}")
        for name, value in self.weights.items():
            if value < 0:
                raise ConfigError(f"quality config: weights[{name}] must be >= 0, got {value}")


def load_quality_config(path: str | Path | None = None, fps: float | None = None) -> QualityConfig:
    """Load `path`, else the file QUALITY_CONFIG names, else `configs/quality.json` (missing: the
    built-in defaults); env overrides apply to all three.

    `fps` (the run's, live) applies unless the file sets its own."""
    from sim_teleop.config import REPO_ROOT, env_str

    path = path or env_str("QUALITY_CONFIG", "") or None
    if path is None:
        default = REPO_ROOT / DEFAULT_CONFIG_PATH
        if not default.exists():
            return QualityConfig.from_dict({} if fps is None else {"fps": fps}, where="quality")
        path = default
    data = load_json(path)
    if "layout" in data:
        data.setdefault("layout_given", True)
    if fps is not None:
        data.setdefault("fps", fps)
    return QualityConfig.from_dict(data, where=str(path))
