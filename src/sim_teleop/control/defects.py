"""Known defects injected into otherwise good expert demonstrations, to benchmark the quality scorer.

Two nodes inject defects without talking to each other: the expert perturbs the actions it commands
(motion defects, so the physics stays consistent), the sim perturbs the images it renders (camera
defects). Both call the pure `plan_for_episode(config, seed, episode_index)` and so agree on which
attempt gets which defect. The expert sends the plan's `annotation()` to the recorder, which stores it
beside the dataset as ground truth: `{"defects": [{"family", "severity", "camera"?, "start", "duration"}]}`
(an empty list marks a clean episode).

Config (JSON, path in env `DEFECTS_CONFIG`; unset or empty = no defects)::

    {"probability": 0.5,            # chance that an episode gets defects at all
     "max_per_episode": 1,          # 1..N distinct families drawn when it does
     "seed": 0,                     # plan seed (env DEFECTS_SEED overrides); both nodes must agree
     "severity": [0.3, 1.0],        # default severity range, 0 = barely, 1 = worst
     "cameras": ["front", "wrist"], # cameras a camera defect may hit (one per defect)
     "families": {"jitter": 1, "pause": {"weight": 2, "severity": [0.5, 1.0]}, ...}}

(`DefectConfig`; its defaults: probability 0.5, every family, seed 0.)

Times (`start`, `duration`) count frames of the running attempt (`Frame.frame_index`); a duration of
None lasts to the end of the attempt; `drop` has no start: it fires when the lift reaches its height;
a `pause` starts `start` frames after the first commanded motion (a pause before the operator has
moved at all would only be a slow start).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from sim_teleop.config import Config, ConfigError, setting
from sim_teleop.messages import CAMERAS, Frame, Phase

MOTION_FAMILIES: tuple[str, ...] = ("jitter", "pause", "chatter", "detour", "slow", "drop")
CAMERA_FAMILIES: tuple[str, ...] = ("dark", "overexposed", "blur", "frozen", "smudge", "occlusion", "glare")
PARTIAL_FAMILIES: tuple[str, ...] = ("smudge", "occlusion", "glare")  # over one quarter of the image
FAMILIES: tuple[str, ...] = MOTION_FAMILIES + CAMERA_FAMILIES

ENV_CONFIG = "DEFECTS_CONFIG"
ENV_SEED = "DEFECTS_SEED"
_PLAN_DOMAIN = 0x0DEFEC7  # keeps plan draws independent of any other use of the same seed


# --- configuration ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FamilySpec:
    weight: float
    severity: tuple[float, float]


@dataclass(frozen=True)
class DefectConfig(Config):
    probability: float = setting(0.5, min=0.0, max=1.0)
    # name -> FamilySpec; in JSON a list of names, or {name: weight | {"weight", "severity"}}
    families: Mapping[str, FamilySpec] = setting(
        default_factory=lambda: dict.fromkeys(FAMILIES, 1.0), parse=lambda v, label: _families(v, label)
    )
    max_per_episode: int = setting(1, min=1)  # capped at the number of families
    seed: int = setting(0, env=ENV_SEED, min=0)
    cameras: tuple[str, ...] = setting(CAMERAS, choices=CAMERAS)
    source: str = ""  # the file it came from (for the console)
    # the default severity range of the families that name none; a number x means [x, x]
    severity: tuple[float, float] = setting((0.3, 1.0), parse=lambda v, label: _severity_range(v, label))

    def validate(self) -> None:
        families: dict[str, FamilySpec] = {}
        for name, spec in self.families.items():
            family = spec if isinstance(spec, FamilySpec) else _family(name, spec, self.severity)
            if family.weight > 0:
                families[name] = family
        if not families and self.probability > 0:
            raise ConfigError(f"every family has weight 0 but probability is {self.probability}")
        if not self.cameras:
            raise ConfigError(f"cameras must be a non-empty subset of {list(CAMERAS)}")
        object.__setattr__(self, "families", families)
        object.__setattr__(self, "max_per_episode", min(self.max_per_episode, len(families) or 1))


def _families(value: Any, label: str) -> dict[str, Any]:
    """The JSON forms of `families` as {name: weight | spec}, names checked."""
    if isinstance(value, list | tuple):
        value = dict.fromkeys(value, 1.0)
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(f"{label}: families must be a non-empty list or object of {list(FAMILIES)}")
    for name in value:
        if name not in FAMILIES:
            raise ConfigError(f"{label}: unknown defect family {name!r} (known: {', '.join(FAMILIES)})")
    return dict(value)


def _family(name: str, spec: Any, default_severity: tuple[float, float]) -> FamilySpec:
    if isinstance(spec, Mapping):
        weight = _number(spec.get("weight", 1.0), f"{name}.weight")
        severity = _severity_range(spec.get("severity", default_severity), f"{name}.severity")
    else:
        weight, severity = _number(spec, name), default_severity
    if weight < 0:
        raise ConfigError(f"{name} weight must be >= 0, got {weight}")
    return FamilySpec(weight, severity)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{what}: expected a finite number, got {value!r}")
    return float(value)


def _severity_range(value: Any, what: str) -> tuple[float, float]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value, value]
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ConfigError(f"{what}: expected [low, high] within [0, 1], got {value!r}")
    lo, hi = (_number(v, what) for v in value)
    if not 0.0 <= lo <= hi <= 1.0:
        raise ConfigError(f"{what}: expected 0 <= low <= high <= 1, got {value!r}")
    return lo, hi


def load_config(path: str | Path) -> DefectConfig:
    """Read a defects config file (relative paths from the repository root); DEFECTS_SEED overrides seed."""
    return replace(DefectConfig.from_file(path), source=str(path))


def config_from_env() -> DefectConfig | None:
    """The config named by env DEFECTS_CONFIG, or None (no defects) when it is unset or empty."""
    path = os.environ.get(ENV_CONFIG, "").strip()
    return load_config(path) if path else None


# --- the per-episode plan -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Defect:
    family: str
    severity: float
    start: int | None = None  # first running frame affected (None: triggered by the task, see `drop`)
    duration: int | None = None  # frames affected (None: to the end of the attempt)
    camera: str | None = None  # camera defects only

    def active(self, frame_index: int) -> bool:
        if self.start is None or frame_index < self.start:
            return False
        return self.duration is None or frame_index < self.start + self.duration

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"family": self.family, "severity": round(self.severity, 3)}
        if self.camera is not None:
            out["camera"] = self.camera
        out["start"] = self.start
        out["duration"] = self.duration
        return out


@dataclass(slots=True)
class EpisodePlan:
    """The defects of one attempt. Carries the frozen-frame cache, so use one plan per attempt and node."""

    episode_index: int
    defects: tuple[Defect, ...] = ()
    frozen: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @property
    def clean(self) -> bool:
        return not self.defects

    def find(self, family: str) -> Defect | None:
        return next((d for d in self.defects if d.family == family), None)

    @property
    def camera(self) -> tuple[Defect, ...]:
        return tuple(d for d in self.defects if d.family in CAMERA_FAMILIES)

    def annotation(self) -> dict[str, Any]:
        """Ground truth for the sidecar: `{"defects": [...]}` (empty list = clean)."""
        return {"defects": [d.to_dict() for d in self.defects]}


def plan_rng(seed: int, episode_index: int, stream: int = 0) -> np.random.Generator:
    """The generator for one attempt's draws; `stream` separates plan draws from per-tick noise."""
    return np.random.default_rng([_PLAN_DOMAIN, seed, episode_index, stream])


def plan_for_episode(config: DefectConfig | None, seed: int, episode_index: int) -> EpisodePlan:
    """Which defects attempt `episode_index` gets: a pure function of its arguments."""
    if config is None or config.probability <= 0 or not config.families:
        return EpisodePlan(episode_index)
    rng = plan_rng(seed, episode_index)
    if rng.random() >= config.probability:
        return EpisodePlan(episode_index)
    names = list(config.families)
    weights = np.array([config.families[n].weight for n in names], dtype=np.float64)
    count = int(rng.integers(1, config.max_per_episode + 1))
    chosen = rng.choice(len(names), size=count, replace=False, p=weights / weights.sum())
    defects = [_draw(names[i], config, rng) for i in sorted(chosen)]
    return EpisodePlan(episode_index, tuple(defects))


def _draw(family: str, config: DefectConfig, rng: np.random.Generator) -> Defect:
    lo, hi = config.families[family].severity
    sev = float(rng.uniform(lo, hi))
    camera = str(rng.choice(config.cameras)) if family in CAMERA_FAMILIES else None
    # Windows are short enough to end before a clean expert attempt would (>= ~25 frames), so every
    # planned defect really happens; defects that hold the expert back make the attempt longer anyway.
    if family == "jitter":
        return Defect(family, sev, int(rng.integers(2, 6)), int(rng.integers(14, 20)))
    if family == "pause":
        return Defect(family, sev, int(rng.integers(4, 12)), 6 + round(14 * sev))
    if family in ("chatter", "detour"):
        return Defect(family, sev, int(rng.integers(2, 6)), 6 + round(8 * sev))
    if family == "slow":
        return Defect(family, sev, int(rng.integers(2, 6)), 12 + round(8 * sev))
    if family == "drop":
        return Defect(family, sev, None, DROP_OPEN_FRAMES)
    if family == "frozen":
        return Defect(family, sev, int(rng.integers(3, 8)), 4 + round(10 * sev), camera)
    return Defect(family, sev, 0, None, camera)  # exposure and blur: the whole attempt


# --- motion injectors (applied by the expert to the actions it commands) ------------------------------

JITTER_MIN_M = 0.003
JITTER_MAX_M = 0.012
SLOW_FAST_M = 0.010  # per-frame speed limit of a barely slowed motion
SLOW_SLOWEST_M = 0.003
SLOW_CATCH_UP_M = 0.03  # after the window; above the expert's top speed, so it then has no effect
DETOUR_MIN_M = 0.04
DETOUR_MAX_M = 0.12
DROP_MIN_M = 0.02  # TCP rise above the grasp point at which the gripper opens; well below the 0.1 m
DROP_MAX_M = 0.04  # cube lift of success, even with a frame of latency at full lifting speed
DROP_OPEN_FRAMES = 6
CHATTER_MIN = 0.4  # gripper swing of the chatter, as a fraction of the full range


def jitter_offset(defect: Defect, frame_index: int, rng: np.random.Generator) -> np.ndarray:
    """Tremor: a 2.5-4 Hz oscillation plus noise, amplitude grows with severity."""
    amp = JITTER_MIN_M + (JITTER_MAX_M - JITTER_MIN_M) * defect.severity
    t = frame_index * 0.1
    phases = np.array([0.0, 2.1, 4.2])
    freq = 2.5 + 1.5 * defect.severity
    tremor = np.sin(2 * np.pi * freq * t + phases)
    return (amp * (0.7 * tremor + 0.3 * rng.standard_normal(3))).astype(np.float32)


def detour_offset(defect: Defect, frame_index: int) -> np.ndarray:
    """A smooth out-and-back bump (sin^2 envelope), sideways and up so it never pushes into the table."""
    assert defect.start is not None and defect.duration is not None
    u = (frame_index - defect.start + 1) / (defect.duration + 1)
    if not 0.0 < u < 1.0:
        return np.zeros(3, dtype=np.float32)
    size = DETOUR_MIN_M + (DETOUR_MAX_M - DETOUR_MIN_M) * defect.severity
    direction = np.array([0.0, 1.0 if defect.start % 2 == 0 else -1.0, 0.8])
    direction /= np.linalg.norm(direction)
    return (size * math.sin(math.pi * u) ** 2 * direction).astype(np.float32)


def chatter_gripper(defect: Defect, frame_index: int, commanded: float) -> float:
    """Gripper chatter: the command swings away from what the expert wants on alternate frames."""
    assert defect.start is not None
    if (frame_index - defect.start) % 2 == 1:
        return commanded
    swing = CHATTER_MIN + (1.0 - CHATTER_MIN) * defect.severity
    return commanded - swing if commanded >= 0.5 else commanded + swing


def slow_speed(defect: Defect) -> float:
    return SLOW_FAST_M - (SLOW_FAST_M - SLOW_SLOWEST_M) * defect.severity


def drop_height(defect: Defect) -> float:
    return DROP_MIN_M + (DROP_MAX_M - DROP_MIN_M) * defect.severity


class MotionInjector:
    """Applies an attempt's motion defects to the expert's commanded actions, one frame at a time.

    The controller asks `paused(i)` first (a pause or a drop freezes the expert and `hold` repeats the
    last command),
    `holds_before_grasp(i)` (chatter and detours keep the expert hovering until they are over, so they
    never disturb the grasp itself), then passes the expert's action through `apply`.
    """

    def __init__(self, plan: EpisodePlan, seed: int = 0) -> None:
        self.plan = plan
        self.rng = plan_rng(seed, plan.episode_index, stream=1)
        self.jitter = plan.find("jitter")
        self.pause = plan.find("pause")
        self.chatter = plan.find("chatter")
        self.detour = plan.find("detour")
        self.slow = plan.find("slow")
        self.drop = plan.find("drop")
        self.drop_started: int | None = None
        self.last: np.ndarray | None = None
        self.first: np.ndarray | None = None
        self.moved_at: int | None = None  # frame of the first commanded motion

    def _dropping(self, frame_index: int) -> bool:
        return self.drop_started is not None and frame_index < self.drop_started + DROP_OPEN_FRAMES

    def paused(self, frame_index: int) -> bool:
        """Whether the expert is frozen this frame: a pause, or the hand stopping while the cube drops."""
        if self.last is None:
            return False
        paused = (
            self.pause is not None
            and self.moved_at is not None
            and self.pause.active(frame_index - self.moved_at)
        )
        return paused or self._dropping(frame_index)

    def holds_before_grasp(self, frame_index: int) -> bool:
        for d in (self.chatter, self.detour):
            if (
                d is not None
                and d.start is not None
                and d.duration is not None
                and frame_index < d.start + d.duration
            ):
                return True
        return False

    def hold(self, frame_index: int) -> np.ndarray:
        """The command while paused: the previous one (zero motion); the gripper open while dropping."""
        assert self.last is not None
        if self._dropping(frame_index):
            self.last[3] = 0.0
        return self.last.copy()

    def apply(self, frame_index: int, action: np.ndarray, lifted: float = 0.0) -> np.ndarray:
        """The action actually sent for this frame. `lifted`: TCP rise (m) above the grasp point."""
        out = np.asarray(action, dtype=np.float32).copy()
        if self.detour is not None and self.detour.active(frame_index):
            out[:3] += detour_offset(self.detour, frame_index)
        slow = self.slow
        if (
            slow is not None
            and slow.start is not None
            and frame_index >= slow.start
            and self.last is not None
        ):
            # Slowly inside the window, then catch up with the expert at a normal speed (no jump).
            step = out[:3] - self.last[:3]
            norm = float(np.linalg.norm(step))
            limit = slow_speed(slow) if slow.active(frame_index) else SLOW_CATCH_UP_M
            if norm > limit:
                out[:3] = self.last[:3] + step * (limit / norm)
        if self.jitter is not None and self.jitter.active(frame_index):
            out[:3] += jitter_offset(self.jitter, frame_index, self.rng)
        if self.chatter is not None and self.chatter.active(frame_index):
            out[3] = chatter_gripper(self.chatter, frame_index, float(out[3]))
        if self.drop is not None and self.drop_started is None and lifted >= drop_height(self.drop):
            self.drop_started = frame_index  # the hand stops where it is and lets go (see `hold`)
            if self.last is not None:
                out[:3] = self.last[:3]
            out[3] = 0.0
        out[3] = min(1.0, max(0.0, float(out[3])))
        if self.first is None:
            self.first = out.copy()
        elif self.moved_at is None and float(np.abs(out[:3] - self.first[:3]).max()) > 1e-4:
            self.moved_at = frame_index
        self.last = out
        return out.copy()


# --- camera injectors (applied by the sim to the rendered images) -------------------------------------


def darken(image: np.ndarray, severity: float) -> np.ndarray:
    """Too dark: brightness scaled to 50 % (severity 0) .. 5 % (severity 1)."""
    gain = 0.5 - 0.45 * severity
    return (image.astype(np.float32) * gain).astype(np.uint8)


def overexpose(image: np.ndarray, severity: float) -> np.ndarray:
    """Over-exposed: gain and offset push most pixels towards saturation."""
    gain = 1.6 + 1.4 * severity
    offset = 40.0 + 80.0 * severity
    return np.clip(image.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)


def _box_blur(img: np.ndarray, radius: int, axis: int) -> np.ndarray:
    pad = [(0, 0)] * img.ndim
    pad[axis] = (radius + 1, radius)
    c = np.cumsum(np.pad(img, pad, mode="edge"), axis=axis, dtype=np.float32)
    n = img.shape[axis]
    hi = np.take(c, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
    lo = np.take(c, np.arange(0, n), axis=axis)
    return (hi - lo) / (2 * radius + 1)


def blur(image: np.ndarray, severity: float) -> np.ndarray:
    """Out of focus: two passes of a separable box blur (close to Gaussian), radius 1..5 px."""
    radius = 1 + round(4 * severity)
    out = image.astype(np.float32)
    for _ in range(2):
        out = _box_blur(_box_blur(out, radius, 0), radius, 1)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def quarter(image: np.ndarray, corner: int) -> tuple[slice, slice]:
    """The quarter of the image (corner 0..3: top-left, top-right, bottom-left, bottom-right)."""
    h, w = image.shape[0] // 2, image.shape[1] // 2
    rows = slice(0, h) if corner < 2 else slice(image.shape[0] - h, None)
    cols = slice(0, w) if corner % 2 == 0 else slice(image.shape[1] - w, None)
    return rows, cols


def smudge(image: np.ndarray, severity: float, corner: int) -> np.ndarray:
    """A greasy smudge on one quarter of the lens: blurred and hazed towards light grey."""
    out = image.copy()
    region = quarter(image, corner)
    haze = 0.35 + 0.4 * severity
    patch = blur(image[region], severity).astype(np.float32)
    out[region] = np.clip(patch * (1.0 - haze) + 200.0 * haze + 0.5, 0, 255).astype(np.uint8)
    return out


def occlude(image: np.ndarray, severity: float, corner: int) -> np.ndarray:
    """Something in front of one quarter of the lens: the quarter fades to a dark, flat patch."""
    out = image.copy()
    region = quarter(image, corner)
    cover = 0.7 + 0.3 * severity
    patch = image[region].astype(np.float32)
    out[region] = (patch * (1.0 - cover) + 12.0 * cover + 0.5).astype(np.uint8)
    return out


def glare(image: np.ndarray, severity: float, corner: int) -> np.ndarray:
    """Glare over one quarter: the quarter washes out to (mostly) clipped white."""
    out = image.copy()
    region = quarter(image, corner)
    patch = image[region].astype(np.float32) * (1.2 + 0.6 * severity) + 150.0 + 100.0 * severity
    out[region] = np.clip(patch, 0, 255).astype(np.uint8)
    return out


PARTIAL = {"smudge": smudge, "occlusion": occlude, "glare": glare}


def apply_camera_defect(plan: EpisodePlan, camera: str, image: np.ndarray, frame_index: int) -> np.ndarray:
    """This camera's image for running frame `frame_index` of the plan's attempt (the input if clean).

    Never modifies `image`. A frozen window repeats the image of its first frame, kept in the plan; a
    partial-view defect covers the quarter numbered by the attempt (episode index % 4).
    """
    for d in plan.defects:
        if d.camera != camera or not d.active(frame_index):
            continue
        if d.family == "dark":
            image = darken(image, d.severity)
        elif d.family == "overexposed":
            image = overexpose(image, d.severity)
        elif d.family == "blur":
            image = blur(image, d.severity)
        elif d.family in PARTIAL:
            image = PARTIAL[d.family](image, d.severity, plan.episode_index % 4)
        elif d.family == "frozen":
            held = plan.frozen.get(camera)
            if held is None:
                held = plan.frozen[camera] = image.copy()
            image = held.copy()
    return image


class CameraDefects:
    """The sim node's hook: puts the current attempt's camera defects into each running frame's images.

    Builds the attempt's plan on its first running frame (the same plan the expert builds), so
    done/resetting frames, which are never recorded, stay clean.
    """

    def __init__(self, config: DefectConfig | None) -> None:
        self.config = config
        self.plan: EpisodePlan | None = None

    @classmethod
    def from_env(cls) -> CameraDefects:
        """From env DEFECTS_CONFIG (unset = none); raises ConfigError on a bad file."""
        return cls(config_from_env())

    def apply(self, frame: Frame) -> Frame:
        if self.config is None or frame.phase is not Phase.RUNNING:
            return frame
        if self.plan is None or self.plan.episode_index != frame.episode_index:
            self.plan = plan_for_episode(self.config, self.config.seed, frame.episode_index)
        if self.plan.camera:
            frame.front = apply_camera_defect(self.plan, "front", frame.front, frame.frame_index)
            frame.wrist = apply_camera_defect(self.plan, "wrist", frame.wrist, frame.frame_index)
        return frame
