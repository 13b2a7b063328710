"""Running per-episode metrics: O(1) work and memory per frame, the same code live and offline.

`EpisodeAccumulator.add_frame` is called once per recorded (phase `running`) frame; `raw_metrics` at the
end returns every raw value. Each metric family is declared once, with its meter, in its own module of
`quality.families` (registered in `family.FAMILIES`); the accumulator reads each frame once
(`frame.FrameReader`: TCP and commanded target in m, gripper as 0..1, contact force in N, images as grey
levels - never one vector of mixed units) and hands it to every registered meter in turn.

The families and their raw metrics (dt = 1 / fps; p = TCP position, c = commanded target, g = gripper
command 0..1), each explained in its module: `jitter` (turning fraction of p and of the filtered c),
`idle` (standstills beyond their allowances, looks), `spike` (peak acceleration, contact force, the
command's and an action's one-frame out-and-back), `saturation`, `gripper_chatter`, `drop`, `slow`
(`crawl`: steady motion slower than the episode's cruise; the duration is judged by the scorer),
the detour family (`detour`: the command out of its way and back), `path` (TCP path over the ideal
path), per camera `dark`, `overexposed`, `blur`, `frozen`, `partial_view` (`camera`), and the
recording's integrity: `telemetry_freeze`, `gap`, `lag` (see `integrity`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from sim_teleop.quality.config import QualityConfig
from sim_teleop.quality.families import FAMILIES
from sim_teleop.quality.families.camera import CameraLevels, CameraMeter, CamerasMeter
from sim_teleop.quality.families.crawl import CrawlMeter
from sim_teleop.quality.families.detour import DetourMeter, RetraceMeter
from sim_teleop.quality.families.drop import DropMeter
from sim_teleop.quality.families.gripper import GripperMeter
from sim_teleop.quality.families.idle import IdleMeter
from sim_teleop.quality.families.jitter import JitterMeter, TurningMeter
from sim_teleop.quality.families.path import PathMeter
from sim_teleop.quality.families.saturation import SaturationMeter
from sim_teleop.quality.families.spike import SpikeMeter
from sim_teleop.quality.family import Meter
from sim_teleop.quality.frame import FrameReader, GripEvent, MeterSetup, SignalReader
from sim_teleop.quality.shared import PlayFilter, Travel

__all__ = [
    "REPORT_ORDER",
    "CameraMeter",
    "CamerasMeter",
    "CrawlMeter",
    "DetourMeter",
    "DropMeter",
    "EpisodeAccumulator",
    "GripEvent",
    "GripperMeter",
    "IdleMeter",
    "JitterMeter",
    "PathMeter",
    "PlayFilter",
    "RetraceMeter",
    "SaturationMeter",
    "SignalReader",
    "SpikeMeter",
    "Travel",
    "TurningMeter",
]

REPORT_ORDER = (
    "num_frames",
    "duration_s",
    "jitter_tcp",
    "jitter_cmd",
    "idle_fraction",
    "idle_pause_s",
    "crawl_fraction",
    "spike_accel",
    "saturation",
    "gripper_tv",
    "gripper_chatter",
    "drop_release_lift",
    "drop_cube_fall",
    "spike_force",
    "jitter",
    "drop",
    "detour",
)
"""The order reports and sidecars have always listed these metrics in; the others follow in meter order."""


def _state_parts(obj: object) -> Iterator[object]:
    """The objects inside a meter that hold state of their own (sub-meters, filters, per-camera meters)."""
    for name in getattr(type(obj), "__slots__", ()):
        value = getattr(obj, name)
        values = value.values() if isinstance(value, dict) else (value,)
        for v in values:
            slots: tuple[str, ...] = getattr(type(v), "__slots__", ())
            if type(v).__module__.startswith("sim_teleop.quality") and slots:
                yield v
                yield from _state_parts(v)


class EpisodeAccumulator:
    """All raw metrics of one episode, fed one recorded frame at a time (O(1) per frame).

    One meter per registered family (and the meters that serve them), each owning its state, its
    per-frame update and its raw values; this class reads the signals once per frame and runs them.
    """

    def __init__(self, config: QualityConfig) -> None:
        self.th: Mapping[str, float] = config.thresholds
        self.dt = 1.0 / config.fps
        self.layout = config.layout
        self.n = 0
        self.success = False
        self.reader = FrameReader(config.layout, self.th["play"])
        self.learn_cameras = config.learn_camera_levels
        self.running = self._build(
            MeterSetup(self.th, self.dt, config.layout, learn_cameras=self.learn_cameras)
        )

    def _build(self, setup: MeterSetup) -> list[Meter]:
        return [m for cls in FAMILIES.meters if (m := cls.build(setup)) is not None]

    def measure_joints(self, state_scale: np.ndarray, action_scale: np.ndarray) -> None:
        """Before the first frame, offline, for a layout without an end-effector position: the episode's
        per-dimension state and action ranges, so images are judged against joint motion and actions
        for one-frame spikes (see `joints`)."""
        self.running = self._build(
            MeterSetup(self.th, self.dt, self.layout, state_scale, action_scale, self.learn_cameras)
        )

    def meters(self) -> list[object]:
        """Every object that holds per-episode state (for the O(1)-memory check)."""
        out: list[object] = [self.reader, *_state_parts(self.reader)]
        for meter in self.running:
            out += [meter, *_state_parts(meter)]
        return out

    # --- per frame --------------------------------------------------------------------------------
    def add_frame(
        self,
        state: np.ndarray,
        action: np.ndarray,
        success: bool = False,
        contact_force: float | None = None,
        cube_pose: np.ndarray | None = None,
        images: Mapping[str, np.ndarray] | None = None,
        frame: int | None = None,
        stalled: bool = False,
    ) -> None:
        """Add one recorded frame. `images` may be given on every frame (live) or a subset (offline);
        `frame` is the frame number within the episode (defaults to the running count); `stalled`: the
        sim skipped ticks before it (live from the follower's `Step`, offline from the sidecar)."""
        index = self.n if frame is None else frame
        self.n += 1
        self.success = self.success or bool(success)
        f = self.reader.read(state, action, index, first=self.n == 1)
        f.contact_force, f.cube_pose, f.images = contact_force, cube_pose, images
        f.stalled = stalled
        for meter in self.running:
            meter.update(f)

    # --- end of episode ---------------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        return self.n * self.dt

    def _cameras(self) -> list[CamerasMeter]:
        found: list[CamerasMeter] = []
        for meter in self.running:
            obj: object = meter  # `Meter` is a protocol: narrow from `object`
            if isinstance(obj, CamerasMeter):
                found.append(obj)
        return found

    def camera_levels(self) -> dict[str, CameraLevels]:
        """Each camera's usual brightness and sharpness in this episode (only where they are learnt)."""
        return {cam: lv for meter in self._cameras() for cam, lv in meter.levels().items()}

    def judge_cameras_by(self, levels: Mapping[str, CameraLevels]) -> None:
        """The cameras' dark, over-exposed and blur degrees from here on are relative to `levels`."""
        for meter in self._cameras():
            meter.judged_by = dict(levels)

    def raw_metrics(self) -> dict[str, float]:
        """Every raw metric of the episode so far, `REPORT_ORDER` first, then in meter order."""
        out: dict[str, float] = {"num_frames": float(self.n), "duration_s": self.duration_s}
        for meter in self.running:
            out.update(meter.raw())
        known = [k for k in REPORT_ORDER if k in out]
        return {k: out[k] for k in (*known, *(k for k in out if k not in REPORT_ORDER))}
